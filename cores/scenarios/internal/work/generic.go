package work

// Point is the struct type used for Apply's second instantiation.
type Point struct {
	X, Y int
}

// Apply calls f on every element and sums the results. It is instantiated
// with int and with Point by generics_closures.
//
//go:noinline
func Apply[T any](items []T, f func(int, T) int) int {
	sum := 0
	for i, it := range items {
		sum += f(i, it)
	}
	return sum
}
