package main

import (
	"fmt"
	"os"
	"strconv"
)

// loop [N]: the conditional-breakpoint benchmark. main.f is called N times
// (default 20000) with its parameter i = 0..N-1, so `break main.f if i == 19999`
// stops exactly once, on the last call.

//go:noinline
func f(i int) int {
	return i%7 + 1 // LINE: f-body
}

func loopMain(args []string) {
	n := 20000
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil {
			fmt.Fprintf(os.Stderr, "loop: bad N %q\n", args[0])
			os.Exit(2)
		}
	}
	ready()
	sum := 0
	for i := 0; i < n; i++ { // LINE: loop-for
		sum += f(i) // LINE: loop-call
	}
	fmt.Printf("sum=%d\n", sum) // LINE: loop-done
}
