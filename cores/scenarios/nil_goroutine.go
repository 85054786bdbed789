package main

import (
	"sync"

	"example.com/scenarios/internal/work"
)

func nilGoroutine() {
	var wg sync.WaitGroup
	wg.Add(1)
	// The list's second node has a nil Next; work.Process dereferences it
	// three calls deep (Process -> visit -> describe).
	list := &work.Node{Name: "head", Value: 7, Next: &work.Node{Name: "tail", Value: 8}}
	go work.Process(&wg, list)
	wg.Wait()
}
