// Command live is the fixture program for coroner's live-process tests
// (attach, exec, breakpoints, stepping, call injection, watchpoints).
//
// os.Args[1] picks a scenario, one per file; further arguments are the
// scenario's own. Each scenario prints "ready pid=N" on stdout once it has
// reached its steady state. Lines that tests and Delve sessions rely on carry a
// "// LINE: name" marker: find them with grep, never hard-code numbers.
package main

import (
	"fmt"
	"os"
	"sort"
)

var scenarios = map[string]func(args []string){
	"loop":    loopMain,
	"service": serviceMain,
	"many":    manyMain,
	"step":    stepMain,
	"call":    callMain,
	"watch":   watchMain,
	"crash":   crashMain,
	"threads": threadsMain,
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	run, ok := scenarios[os.Args[1]]
	if !ok {
		usage()
	}
	run(os.Args[2:])
}

// ready announces the steady state. os.Stdout is unbuffered: one write(2).
func ready() {
	fmt.Printf("ready pid=%d\n", os.Getpid()) // LINE: ready
}

func usage() {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: live SCENARIO [ARGS]\nscenarios: %v\n", names)
	os.Exit(2)
}
