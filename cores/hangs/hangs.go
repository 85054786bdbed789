package main

import (
	"runtime"
	"sync"
	"time"
)

// LeakCount goroutines are started by fanOut; nobody ever receives their
// results, so all of them stay parked in a channel send.
const LeakCount = 3000

// leak: fanOut starts LeakCount senders on an unbuffered channel and
// returns without receiving.
func leak() {
	fanOut()
}

//go:noinline
func fanOut() {
	results := make(chan int)
	for i := 0; i < LeakCount; i++ {
		go compute(i, results)
	}
}

//go:noinline
func compute(i int, results chan<- int) {
	results <- i * i // blocks forever: nobody receives
}

// nilWait: one goroutine receives from a nil channel, one runs select {}.
func nilWait() {
	go waitNil()
	go waitForever()
}

//go:noinline
func waitNil() {
	var never chan int
	<-never
}

//go:noinline
func waitForever() {
	select {}
}

// spinSleep sleeps briefly: used to order goroutines without a channel.
//
//go:noinline
func spinSleep() {
	time.Sleep(50 * time.Millisecond)
}

// Server is a healthy busy server: a producer feeds workers through a
// buffered channel, workers share a mutex-protected counter and report on
// another buffered channel, a collector drains it and ticks.
type Server struct {
	mu      sync.Mutex
	handled int
	ticks   int
}

var server Server

// healthy: everything keeps moving until the process is killed.
func healthy() {
	jobs := make(chan int, 16)
	results := make(chan int, 16)
	for w := 0; w < 4; w++ {
		go worker(jobs, results)
	}
	go producer(jobs)
	go collector(results)
	go ticker()
}

//go:noinline
func producer(jobs chan<- int) {
	for i := 0; ; i++ {
		jobs <- i
		if i%64 == 0 {
			runtime.Gosched()
		}
	}
}

//go:noinline
func worker(jobs <-chan int, results chan<- int) {
	for j := range jobs {
		server.mu.Lock()
		server.handled++
		server.mu.Unlock()
		results <- j * 2
	}
}

//go:noinline
func collector(results <-chan int) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	sum := 0
	for {
		select {
		case r := <-results:
			sum += r
		case <-t.C:
			server.mu.Lock()
			server.ticks++
			server.mu.Unlock()
		}
	}
}

//go:noinline
func ticker() {
	for {
		time.Sleep(2 * time.Millisecond)
		server.mu.Lock()
		server.ticks++
		server.mu.Unlock()
	}
}
