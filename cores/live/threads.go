package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// threads [ROUNDS]: each round starts 4 goroutines that LockOSThread, busy-loop
// for ~30 ms (long enough for sysmon to preempt them with SIGURG) and exit
// still locked, so the runtime terminates their OS threads: threads are created
// and destroyed every round. ROUNDS 0 (the default) runs forever; otherwise
// prints "done" after ROUNDS rounds.

var threadSpins int64

//go:noinline
func lockedSpinner(wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
	deadline := time.Now().Add(30 * time.Millisecond)
	n := int64(0)
	for time.Now().Before(deadline) {
		// No calls inside: only an asynchronous (SIGURG) preemption stops it.
		for k := 0; k < 5000000; k++ { // LINE: threads-busy
			n += int64(k & 3)
		}
	}
	atomic.AddInt64(&threadSpins, n)
}

func threadsMain(args []string) {
	rounds := 0
	if len(args) > 0 {
		var err error
		if rounds, err = strconv.Atoi(args[0]); err != nil {
			fmt.Fprintf(os.Stderr, "threads: bad ROUNDS %q\n", args[0])
			os.Exit(2)
		}
	}
	for r := 0; rounds == 0 || r < rounds; r++ {
		var wg sync.WaitGroup
		wg.Add(4)
		for k := 0; k < 4; k++ {
			go lockedSpinner(&wg) // LINE: threads-start
		}
		if r == 0 {
			ready()
		}
		wg.Wait()
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("done")
}
