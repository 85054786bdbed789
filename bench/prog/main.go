// Command bench100k parks N goroutines (default 100,000) at stack depths
// 1..30 in a handful of blocking states, then SIGQUITs itself so that, with
// GOTRACEBACK=crash, the runtime dumps core. The core is coroner's
// benchmark input (see docs/benchmark.md).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Everything the goroutines block on is global, so it stays reachable.
var (
	recvChan = make(chan int)
	sendChan = make(chan int)
	selA     = make(chan int)
	selB     = make(chan string)
	held     sync.Mutex
	condMu   sync.Mutex
	cond     = sync.NewCond(&condMu)
	never    sync.WaitGroup
)

const kinds = 7

func main() {
	n := 100000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: bench100k [N]")
			os.Exit(2)
		}
		n = v
	}
	held.Lock()
	never.Add(1)
	var ready sync.WaitGroup
	ready.Add(n)
	for i := 0; i < n; i++ {
		depth := 1 + i%30
		kind := (i / 30) % kinds
		go levelA(depth, kind, &ready)
	}
	ready.Wait()
	// Let the last goroutines get from ready.Done to their blocking call.
	time.Sleep(2 * time.Second)
	fmt.Fprintf(os.Stderr, "bench100k: %d goroutines parked, pid %d\n", n, os.Getpid())
	if os.Getenv("BENCH100K_STAY") != "" {
		// The attach benchmark (bench/live-run.sh): stay up to be attached to.
		select {}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGQUIT); err != nil {
		fmt.Fprintln(os.Stderr, "kill:", err)
		os.Exit(3)
	}
	time.Sleep(time.Hour)
}

// levelA and levelB alternate so stacks show two functions and two files' worth
// of frames rather than one self-recursive function.
//
//go:noinline
func levelA(depth, kind int, ready *sync.WaitGroup) {
	if depth > 1 {
		levelB(depth-1, kind, ready)
		return
	}
	park(kind, ready)
}

//go:noinline
func levelB(depth, kind int, ready *sync.WaitGroup) {
	if depth > 1 {
		levelA(depth-1, kind, ready)
		return
	}
	park(kind, ready)
}

//go:noinline
func park(kind int, ready *sync.WaitGroup) {
	ready.Done()
	switch kind {
	case 0:
		<-recvChan
	case 1:
		held.Lock()
	case 2:
		select {
		case <-selA:
		case <-selB:
		}
	case 3:
		time.Sleep(time.Hour)
	case 4:
		condMu.Lock()
		cond.Wait()
	case 5:
		never.Wait()
	default:
		sendChan <- 1
	}
}
