package main

import "sync"

// Ledger is a package-level variable whose two mutexes are taken in
// opposite orders by two transfers: a lock-order inversion.
type Ledger struct {
	name     string
	accounts sync.Mutex
	journal  sync.Mutex
	entries  int
}

var ledger = Ledger{name: "main"}

// lockOrder: transferIn takes accounts then journal, transferOut takes
// journal then accounts; both hold their first lock before trying the
// second, so each waits forever for the other.
func lockOrder() {
	var held sync.WaitGroup
	held.Add(2)
	go transferIn(&held)
	go transferOut(&held)
	held.Wait()
}

//go:noinline
func transferIn(held *sync.WaitGroup) {
	first, second := &ledger.accounts, &ledger.journal
	first.Lock()
	defer first.Unlock()
	held.Done()
	held.Wait()
	second.Lock() // blocks: transferOut holds journal
	ledger.entries++
	second.Unlock()
}

//go:noinline
func transferOut(held *sync.WaitGroup) {
	first, second := &ledger.journal, &ledger.accounts
	first.Lock()
	defer first.Unlock()
	held.Done()
	held.Wait()
	second.Lock() // blocks: transferIn holds accounts
	ledger.entries--
	second.Unlock()
}

// chanCycle: ping sends on a to pong, pong sends on b to ping; both are
// unbuffered and both send first, so neither ever receives.
func chanCycle() {
	startCycle()
}

//go:noinline
func startCycle() {
	a := make(chan int)
	b := make(chan int)
	go ping(a, b)
	go pong(b, a)
}

//go:noinline
func ping(a chan<- int, b <-chan int) {
	a <- 1 // blocks: pong is itself sending on b
	<-b
}

//go:noinline
func pong(b chan<- int, a <-chan int) {
	b <- 2 // blocks: ping is itself sending on a
	<-a
}

// Cache is shared through a package-level pointer; its RWMutex is read-held
// by refresher, which waits for a signal that only the writer sends after
// it got the write lock.
type Cache struct {
	mu   sync.RWMutex
	data map[string]int
}

var cache = &Cache{data: map[string]int{"a": 1}}

// rwmutexStarve: refresher holds a read lock and waits on refreshed;
// invalidator wants the write lock (so it waits for refresher) and would
// only then send on refreshed; lookup, a later reader, queues behind the
// pending writer.
func rwmutexStarve() {
	startRW()
}

//go:noinline
func startRW() {
	refreshed := make(chan struct{})
	var reading, writing sync.WaitGroup
	reading.Add(1)
	writing.Add(1)
	go refresher(refreshed, &reading)
	reading.Wait()
	go invalidator(refreshed, &writing)
	writing.Wait()
	go lookup()
}

//go:noinline
func refresher(refreshed <-chan struct{}, reading *sync.WaitGroup) {
	mu := &cache.mu
	mu.RLock()
	defer mu.RUnlock()
	reading.Done()
	<-refreshed // blocks: invalidator sends only once it holds the write lock
}

//go:noinline
func invalidator(refreshed chan<- struct{}, writing *sync.WaitGroup) {
	mu := &cache.mu
	writing.Done()
	mu.Lock() // blocks: refresher holds a read lock
	cache.data = map[string]int{}
	refreshed <- struct{}{}
	mu.Unlock()
}

//go:noinline
func lookup() int {
	// Give invalidator time to queue its Lock, so this RLock waits behind it.
	spinSleep()
	mu := &cache.mu
	mu.RLock() // blocks: a writer is pending
	defer mu.RUnlock()
	return cache.data["a"]
}
