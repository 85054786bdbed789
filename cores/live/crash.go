package main

import (
	"fmt"
	"os"
	"sync"
)

// crash KIND: panic (unrecovered panic with a *CrashError), throw (fatal
// error: sync: unlock of unlocked mutex), segv (nil pointer dereference),
// exit3 (os.Exit(3)).

// CrashError is the custom error value of `crash panic`.
type CrashError struct {
	Op   string
	Code int
}

func (e *CrashError) Error() string { return fmt.Sprintf("crash %s: code %d", e.Op, e.Code) }

type node struct {
	Next *node
	Val  int
}

//go:noinline
func crashPanic() {
	panic(&CrashError{Op: "panic", Code: 42}) // LINE: crash-panic
}

//go:noinline
func crashThrow() {
	var mu sync.Mutex
	mu.Unlock() // LINE: crash-throw
}

//go:noinline
func crashSegv(n *node) int {
	return n.Next.Val // LINE: crash-segv
}

func crashMain(args []string) {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: live crash panic|throw|segv|exit3")
		os.Exit(2)
	}
	ready()
	switch args[0] {
	case "panic":
		crashPanic()
	case "throw":
		crashThrow()
	case "segv":
		fmt.Println(crashSegv(&node{Val: 1}))
	case "exit3":
		os.Exit(3) // LINE: crash-exit3
	default:
		fmt.Fprintf(os.Stderr, "crash: unknown kind %q\n", args[0])
		os.Exit(2)
	}
}
