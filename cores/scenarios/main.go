// Command scenarios is the fixture program for coroner's test corpus.
//
// os.Args[1] picks a scenario; every scenario ends by crashing (or, for
// service_wait, by waiting to be gcore'd and then SIGQUIT'd). Values and
// parking places are fixed so tests can assert them against the core.
package main

import (
	"fmt"
	"os"
	"sort"
)

var scenarios = map[string]func(){
	"panic_main":            panicMain,
	"nil_goroutine":         nilGoroutine,
	"sigquit_service":       sigquitService,
	"service_wait":          serviceWait,
	"deep_recursion":        deepRecursion,
	"generics_closures":     genericsClosures,
	"deadlock":              deadlock,
	"concurrent_map_writes": concurrentMapWrites,
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	run, ok := scenarios[os.Args[1]]
	if !ok {
		usage()
	}
	run()
	// Every scenario is expected to die before returning.
	fmt.Fprintf(os.Stderr, "scenario %s returned without crashing\n", os.Args[1])
	os.Exit(3)
}

func usage() {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: scenarios SCENARIO\nscenarios: %v\n", names)
	os.Exit(2)
}
