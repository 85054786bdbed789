// Command winsyscall: a goroutine blocked in a Windows system call (ReadFile on an
// anonymous pipe nobody writes), beside a parked one and a spinner, for
// cores/generate-windows-syscall.sh. Prints "ready pid=N" once they are in place and
// runs until the dumper aborts it.
package main

import (
	"fmt"
	"os"
	"time"
)

var (
	pipeWriter *os.File // kept reachable: its finalizer would close the pipe
	never      = make(chan int)
)

//go:noinline
func pipeReader(r *os.File) {
	buf := make([]byte, 16)
	r.Read(buf) // LINE: pipe-read
}

//go:noinline
func receiver() {
	<-never // LINE: receive
}

// spinner wakes every millisecond, so that one thread waits with a short timeout:
// under wine a frozen thread takes a new context only when its wait returns.
//
//go:noinline
func spinner() {
	for {
		time.Sleep(time.Millisecond)
	}
}

func main() {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	pipeWriter = w
	go pipeReader(r)
	go receiver()
	go spinner()
	time.Sleep(300 * time.Millisecond)
	os.Stdout.WriteString(fmt.Sprintf("ready pid=%d\n", os.Getpid()))
	<-never
}
