// Command hangs is the fixture program for coroner's hang analyzers
// (waitgraph, leaks, groups).
//
// os.Args[1] picks a scenario. Each scenario parks goroutines in a known,
// deterministic way, lets them settle, then sends the process SIGQUIT so
// that, run with GOTRACEBACK=crash, the runtime prints every goroutine's
// stack (the oracle) and dumps core.
package main

import (
	"os"
	"syscall"
	"time"
)

var scenarios = map[string]func(){
	"lock_order":     lockOrder,
	"chan_cycle":     chanCycle,
	"rwmutex_starve": rwmutexStarve,
	"leak":           leak,
	"healthy":        healthy,
	"nil_wait":       nilWait,
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
	settleAndQuit()
}

// settleAndQuit gives the parked goroutines time to reach their wait, then
// kills the process with SIGQUIT (the runtime prints all stacks and, with
// GOTRACEBACK=crash, dumps core). main stays asleep meanwhile, so the
// runtime's own deadlock detector never fires.
//
//go:noinline
func settleAndQuit() {
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(os.Getpid(), syscall.SIGQUIT); err != nil {
		os.Stderr.WriteString("kill: " + err.Error() + "\n")
		os.Exit(3)
	}
	time.Sleep(time.Hour)
	os.Stderr.WriteString("scenario " + os.Args[1] + " returned without crashing\n")
	os.Exit(3)
}

// usage lists the scenarios (fmt and sort are left out to keep the binary,
// and so the committed fixtures, small).
func usage() {
	os.Stderr.WriteString("usage: hangs SCENARIO\nscenarios: chan_cycle healthy leak lock_order nil_wait rwmutex_starve\n")
	os.Exit(2)
}
