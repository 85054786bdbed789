package main

import "sync"

// concurrentMapWrites writes one map from several goroutines until the
// runtime notices and throws "concurrent map writes".
func concurrentMapWrites() {
	m := make(map[int]int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go writer(&wg, m, w)
	}
	wg.Wait()
}

//go:noinline
func writer(wg *sync.WaitGroup, m map[int]int, w int) {
	defer wg.Done()
	for i := 0; ; i++ {
		m[i%1024] = w
	}
}
