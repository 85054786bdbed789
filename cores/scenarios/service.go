package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"example.com/scenarios/internal/service"
)

// sigquitService parks goroutines in every common way, then SIGQUITs itself.
func sigquitService() {
	svc := service.Start()
	defer svc.Close()
	if err := syscall.Kill(os.Getpid(), syscall.SIGQUIT); err != nil {
		fmt.Fprintln(os.Stderr, "kill:", err)
		os.Exit(3)
	}
	time.Sleep(time.Hour)
}

// serviceWait sets up the same service and waits to be gcore'd; the
// generator then SIGQUITs it from outside.
func serviceWait() {
	svc := service.Start()
	defer svc.Close()
	fmt.Printf("ready %d %s\n", os.Getpid(), svc.Addr())
	time.Sleep(24 * time.Hour)
}
