package main

import (
	"sync"
)

// deadlock blocks every goroutine on channels or a mutex, without timers or
// network pollers, so the runtime's deadlock detector fires.
func deadlock() {
	var mu sync.Mutex
	mu.Lock()
	ready := make(chan struct{})
	unreceived := make(chan int)
	unsent := make(chan int)
	done := make(chan struct{})
	go func() {
		ready <- struct{}{}
		mu.Lock() // held by main forever
		close(done)
	}()
	<-ready
	go func() {
		ready <- struct{}{}
		unreceived <- 1 // nobody receives
	}()
	<-ready
	go func() {
		ready <- struct{}{}
		<-unsent // nobody sends
	}()
	<-ready
	<-done // main: blocked receive
}
