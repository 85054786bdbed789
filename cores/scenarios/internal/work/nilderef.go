package work

import (
	"fmt"
	"sync"
)

// Node is a linked list node; nil_goroutine walks past the end of a list.
type Node struct {
	Name  string
	Value int
	Next  *Node
}

// Process is the goroutine entry point of nil_goroutine.
//
//go:noinline
func Process(wg *sync.WaitGroup, head *Node) {
	// Not deferred: a deferred Done would run during the panic and let main
	// exit before the runtime finishes crashing.
	fmt.Println("processing", visit(head))
	wg.Done()
}

//go:noinline
func visit(n *Node) string {
	return describe(n.Next)
}

// describe reads n.Next.Name; for the list's tail n.Next is nil, so this
// faults with a nil pointer dereference.
//
//go:noinline
func describe(n *Node) string {
	return n.Name + "->" + n.Next.Name
}
