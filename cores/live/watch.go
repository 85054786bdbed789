package main

import "fmt"

// watch: main.Watched is written at the lines marked watch-write-N (a call
// to sink separates them so no store is merged or dropped); stackWatch's local
// x lives on the stack (its address goes to sink) and is written at
// watch-local-N, then the frame returns, which ends a watchpoint on it.

// Watched is the global for `watch -w main.Watched`.
var Watched int

var sinkTotal int

//go:noinline
func sink(p *int) {
	sinkTotal += *p
}

//go:noinline
func stackWatch() int {
	x := 0
	sink(&x)
	x = 1 // LINE: watch-local-1
	sink(&x)
	x = 2 // LINE: watch-local-2
	sink(&x)
	x = 3 // LINE: watch-local-3
	sink(&x)
	return x // LINE: watch-local-return
}

//go:noinline
func setWatched(v int) {
	Watched = v // LINE: watch-write-2
}

func watchMain(args []string) {
	ready()
	Watched = 1 // LINE: watch-write-1
	sink(&Watched)
	setWatched(2)
	sink(&Watched)
	Watched += 10 // LINE: watch-write-3
	sink(&Watched)
	r := stackWatch() // LINE: watch-call-local
	fmt.Println("watched", Watched, "local", r, "sink", sinkTotal)
	Watched = 0         // LINE: watch-write-4
	fmt.Println("done") // LINE: watch-done
}
