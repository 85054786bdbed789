// Command cgoscenarios is the cgo fixture program for coroner's test corpus
// (cores/generate-cgo.sh): Go code that calls C (cfuncs.c) and C that calls
// back into Go. os.Args[1] picks a scenario; each one ends by crashing.
package main

/*
#include "cfuncs.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

var scenarios = map[string]func(){
	"crash_in_c":   crashInC,
	"blocked_in_c": blockedInC,
	"callback":     callback,
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
	fmt.Fprintf(os.Stderr, "scenario %s returned without crashing\n", os.Args[1])
	os.Exit(3)
}

func usage() {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: cgoscenarios SCENARIO\nscenarios: %v\n", names)
	os.Exit(2)
}

// crash_in_c: a goroutine other than main calls C, which reads through NULL
// three C calls deep (SIGSEGV in C: "signal arrived during cgo execution").
func crashInC() {
	done := make(chan int)
	go crashWorker(done)
	<-done
}

func crashWorker(done chan int) {
	done <- enterC(7)
}

//go:noinline
func enterC(depth int) int {
	return int(C.c_crash_entry(C.int(depth)))
}

// blocked_in_c: goroutines wait in libc sleep(3), read(2) and usleep(3),
// each called from C; then main panics, so the core shows them blocked.
func blockedInC() {
	go sleeperInC()
	go readerInC()
	go usleeperInC()
	deadline := time.Now().Add(10 * time.Second)
	for C.c_blocked_count() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Let the last of them get from the counter into the system call.
	time.Sleep(200 * time.Millisecond)
	panic(fmt.Sprintf("blocked_in_c: %d goroutines wait in C", int(C.c_blocked_count())))
}

//go:noinline
func sleeperInC() { C.c_block_sleep() }

//go:noinline
func readerInC() { C.c_block_read() }

//go:noinline
func usleeperInC() { C.c_block_usleep() }

// callback: a goroutine calls C, which calls goCallback (exported), which
// dies in Go with a fatal error (no deferred calls run, unlike a panic, whose
// unwinding through cgocallbackg hands the C frames' stack back to the runtime
// to reuse).
func callback() {
	done := make(chan int)
	go callbackWorker(done)
	<-done
}

func callbackWorker(done chan int) {
	done <- int(C.c_call_back(C.int(40)))
}

var settingsMu sync.Mutex

//export goCallback
func goCallback(n C.int) C.int {
	return C.int(applySettings(int(n)))
}

//go:noinline
func applySettings(n int) int {
	settingsMu.Unlock() // fatal error: sync: unlock of unlocked mutex, in Go called by C
	return n
}
