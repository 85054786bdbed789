package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// service: runs until killed. Goroutines park in a chan receive, a chan
// send, a select, sync.Mutex.Lock, sync.WaitGroup.Wait and time.Sleep; the
// spinner increments Progress (atomically) every millisecond, so a test can
// check the process still runs after a debugger detached. No signal handler:
// with GOTRACEBACK=all, SIGQUIT prints every goroutine and exits 2.

// Progress counts spinner iterations.
var Progress int64

var (
	svcRecvCh = make(chan int)
	svcSendCh = make(chan int)
	svcSelA   = make(chan int)
	svcSelB   = make(chan string)
	svcMu     sync.Mutex
	svcWG     sync.WaitGroup
)

func svcReceiver() {
	<-svcRecvCh // LINE: svc-recv
}

func svcSender() {
	svcSendCh <- 1 // LINE: svc-send
}

func svcSelector() {
	select { // LINE: svc-select
	case <-svcSelA:
	case <-svcSelB:
	}
}

func svcMutexWaiter() {
	svcMu.Lock() // LINE: svc-mutex
	svcMu.Unlock()
}

func svcGroupWaiter() {
	svcWG.Wait() // LINE: svc-waitgroup
}

func svcSleeper() {
	for {
		time.Sleep(time.Hour) // LINE: svc-sleep
	}
}

func spinner() {
	for {
		atomic.AddInt64(&Progress, 1) // LINE: svc-spin
		time.Sleep(time.Millisecond)
	}
}

func serviceMain(args []string) {
	svcMu.Lock() // held forever: svcMutexWaiter never gets it
	svcWG.Add(1) // never Done
	go svcReceiver()
	go svcSender()
	go svcSelector()
	go svcMutexWaiter()
	go svcGroupWaiter()
	go svcSleeper()
	go spinner()
	// Let every goroutine reach its parking place before announcing.
	for atomic.LoadInt64(&Progress) < 10 {
		time.Sleep(time.Millisecond)
	}
	ready()
	for {
		time.Sleep(time.Hour) // LINE: svc-main
	}
}
