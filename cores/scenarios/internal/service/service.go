// Package service parks goroutines in every common blocking state, like a
// wedged server process would.
package service

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Service owns everything the parked goroutines block on, so it all stays
// reachable from the core.
type Service struct {
	Requests  chan int    // receiver blocked, nobody sends
	Responses chan string // sender blocked, nobody receives
	Control   chan bool
	Events    chan int
	Mu        sync.Mutex
	RW        sync.RWMutex
	Pending   sync.WaitGroup
	CondMu    sync.Mutex
	Cond      *sync.Cond
	Listener  net.Listener
	Spins     uint64
	NilChan   chan int
}

// Start parks the goroutines and returns when all are in place.
func Start() *Service {
	s := &Service{
		Requests:  make(chan int),
		Responses: make(chan string),
		Control:   make(chan bool),
		Events:    make(chan int),
	}
	s.Cond = sync.NewCond(&s.CondMu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s.Listener = ln

	var ready sync.WaitGroup
	ready.Add(12)
	s.Mu.Lock() // held by Start's caller for ever
	s.Pending.Add(1)

	go s.receiver(&ready)
	go s.sender(&ready)
	go s.selector(&ready)
	go s.mutexWaiter(&ready)
	go s.rwReaderHolder(&ready)
	go s.groupWaiter(&ready)
	go s.condWaiter(&ready)
	go s.sleeper(&ready)
	go s.acceptor(&ready)
	go s.spinner(&ready)
	go s.nilReceiver(&ready)
	go s.forever(&ready)
	ready.Wait()

	// The RWMutex writer must block behind the reader holder before the
	// second reader arrives, so that the reader blocks behind the writer.
	var rw sync.WaitGroup
	rw.Add(1)
	go s.rwWriter(&rw)
	rw.Wait()
	time.Sleep(50 * time.Millisecond)
	rw.Add(1)
	go s.rwReader(&rw)
	rw.Wait()
	// Let every goroutine reach its blocking call.
	time.Sleep(100 * time.Millisecond)
	return s
}

// Addr is the listener's address.
func (s *Service) Addr() string { return s.Listener.Addr().String() }

// Close is never reached in practice; it keeps s alive until the end.
func (s *Service) Close() { _ = s.Listener.Close() }

//go:noinline
func (s *Service) receiver(ready *sync.WaitGroup) {
	ready.Done()
	for req := range s.Requests {
		_ = req
	}
}

//go:noinline
func (s *Service) sender(ready *sync.WaitGroup) {
	ready.Done()
	s.Responses <- "response nobody reads"
}

//go:noinline
func (s *Service) selector(ready *sync.WaitGroup) {
	ready.Done()
	for {
		select {
		case <-s.Control:
			return
		case ev := <-s.Events:
			_ = ev
		case s.Responses <- "select send":
		}
	}
}

//go:noinline
func (s *Service) mutexWaiter(ready *sync.WaitGroup) {
	ready.Done()
	s.Mu.Lock()
	s.Mu.Unlock()
}

// rwReaderHolder takes a read lock and keeps it while parked on Control.
//
//go:noinline
func (s *Service) rwReaderHolder(ready *sync.WaitGroup) {
	s.RW.RLock()
	ready.Done()
	<-s.Control
	s.RW.RUnlock()
}

//go:noinline
func (s *Service) rwWriter(started *sync.WaitGroup) {
	started.Done()
	s.RW.Lock()
	s.RW.Unlock()
}

//go:noinline
func (s *Service) rwReader(started *sync.WaitGroup) {
	started.Done()
	s.RW.RLock()
	s.RW.RUnlock()
}

//go:noinline
func (s *Service) groupWaiter(ready *sync.WaitGroup) {
	ready.Done()
	s.Pending.Wait()
}

//go:noinline
func (s *Service) condWaiter(ready *sync.WaitGroup) {
	s.CondMu.Lock()
	ready.Done()
	s.Cond.Wait()
	s.CondMu.Unlock()
}

//go:noinline
func (s *Service) sleeper(ready *sync.WaitGroup) {
	ready.Done()
	time.Sleep(time.Hour)
}

//go:noinline
func (s *Service) acceptor(ready *sync.WaitGroup) {
	ready.Done()
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}

// spinner burns CPU so one goroutine is running or runnable in the dump.
//
//go:noinline
func (s *Service) spinner(ready *sync.WaitGroup) {
	ready.Done()
	for {
		atomic.AddUint64(&s.Spins, 1)
	}
}

//go:noinline
func (s *Service) nilReceiver(ready *sync.WaitGroup) {
	ready.Done()
	<-s.NilChan
}

//go:noinline
func (s *Service) forever(ready *sync.WaitGroup) {
	ready.Done()
	select {}
}
