package main

import (
	"fmt"
	"time"
)

// call: functions for call injection (Delve's `call`) and package variables
// for `set`. The main loop calls tick every 10 ms forever: `break main.tick`
// halts it at a known place (tick's first line).

// Counter and Name are package variables for `set main.Counter = 5`.
var (
	Counter int
	Name    = "gopher"
)

// Calc has a pointer-receiver method for `call c.Mul(3)`.
type Calc struct {
	Factor int
}

// Calculator is tick's receiver, on the heap (Delve refuses to pass a pointer
// to a stack object as the receiver of an injected call).
var Calculator = &Calc{Factor: 3}

//go:noinline
func Add(a, b int) int {
	return a + b // LINE: call-add
}

//go:noinline
func Greet(name string) string {
	return "hello, " + name // LINE: call-greet
}

//go:noinline
func Fail() int {
	panic("Fail called") // LINE: call-fail
}

//go:noinline
func (c *Calc) Mul(x int) int {
	return c.Factor * x // LINE: call-mul
}

//go:noinline
func tick(c *Calc, n int) int {
	Counter++ // LINE: call-tick
	return c.Mul(n)
}

func callMain(args []string) {
	c := Calculator
	ready()
	for n := 0; ; n++ {
		r := tick(c, n) // LINE: call-loop
		if r < 0 {      // never: keeps Add, Greet and Fail linked in
			fmt.Println(Add(r, n), Greet(Name), Fail())
		}
		time.Sleep(10 * time.Millisecond) // LINE: call-sleep
	}
}
