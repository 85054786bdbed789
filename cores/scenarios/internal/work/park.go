// Package work holds helpers shared by several scenarios, so tracebacks
// contain frames from more than one package and file.
package work

import (
	"sync"
	"time"
)

// Parked channels and locks live in package variables so that they stay
// reachable (and inspectable) in the core.
var (
	RecvChan = make(chan int)
	SendChan = make(chan string)
	SelA     = make(chan int)
	SelB     = make(chan string)
	Held     sync.Mutex
)

// ParkFive starts five goroutines parked in known places and returns once
// each of them is about to block.
func ParkFive() {
	var ready sync.WaitGroup
	ready.Add(5)
	Held.Lock()
	go waitRecv(&ready)
	go waitSend(&ready)
	go waitSelect(&ready)
	go waitMutex(&ready)
	go waitSleep(&ready)
	ready.Wait()
}

//go:noinline
func waitRecv(ready *sync.WaitGroup) {
	ready.Done()
	v := <-RecvChan
	_ = v
}

//go:noinline
func waitSend(ready *sync.WaitGroup) {
	ready.Done()
	SendChan <- "never received"
}

//go:noinline
func waitSelect(ready *sync.WaitGroup) {
	ready.Done()
	select {
	case <-SelA:
	case <-SelB:
	}
}

//go:noinline
func waitMutex(ready *sync.WaitGroup) {
	ready.Done()
	Held.Lock()
	Held.Unlock()
}

//go:noinline
func waitSleep(ready *sync.WaitGroup) {
	ready.Done()
	time.Sleep(time.Hour)
}
