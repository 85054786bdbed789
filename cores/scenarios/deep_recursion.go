package main

import "fmt"

const recursionDepth = 200

func deepRecursion() {
	recurse(recursionDepth)
}

// recurse calls itself depth times, then panics at the bottom.
//
//go:noinline
func recurse(depth int) int {
	if depth == 0 {
		panic(fmt.Sprintf("bottom reached after %d calls", recursionDepth))
	}
	return recurse(depth-1) + 1
}
