package main

import (
	"fmt"

	"example.com/scenarios/internal/work"
)

func genericsClosures() {
	table := []int{10, 20, 30}
	total := 0
	calls := 0
	// The closure captures table, total and calls.
	weigh := func(i int) int {
		calls++
		total += table[i]
		return total
	}
	// First instantiation: int; stays within table's bounds.
	sum := work.Apply([]int{0, 1, 2}, func(i int, v int) int { return weigh(v) })
	fmt.Println("ints:", sum)
	// Second instantiation: a struct type; index 3 is out of range.
	pts := []work.Point{{X: 1, Y: 2}, {X: 1, Y: 3}}
	work.Apply(pts, func(i int, p work.Point) int { return weigh(p.Y - p.X + i) })
}
