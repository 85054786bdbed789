package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// many [N]: N goroutines (default 100000), each parked in a receive on one
// shared channel, in three stack shapes (i%3: manyA; manyB → manyB2;
// manyC → manyC2 → manyC3). Prints ready once all are started, then main
// sleeps forever (the attach benchmark).

var manyCh = make(chan int)

//go:noinline
func manyA(wg *sync.WaitGroup) {
	wg.Done()
	<-manyCh // LINE: many-a
}

//go:noinline
func manyB(wg *sync.WaitGroup) { manyB2(wg) }

//go:noinline
func manyB2(wg *sync.WaitGroup) {
	wg.Done()
	<-manyCh // LINE: many-b
}

//go:noinline
func manyC(wg *sync.WaitGroup) { manyC2(wg) }

//go:noinline
func manyC2(wg *sync.WaitGroup) { manyC3(wg) }

//go:noinline
func manyC3(wg *sync.WaitGroup) {
	wg.Done()
	<-manyCh // LINE: many-c
}

func manyMain(args []string) {
	n := 100000
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil {
			fmt.Fprintf(os.Stderr, "many: bad N %q\n", args[0])
			os.Exit(2)
		}
	}
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			go manyA(&wg)
		case 1:
			go manyB(&wg)
		default:
			go manyC(&wg)
		}
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond) // the last ones reach the receive
	ready()
	for {
		time.Sleep(time.Hour) // LINE: many-main
	}
}
