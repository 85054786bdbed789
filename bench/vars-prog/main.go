// Command varsbench is the core for coroner's variables benchmark
// (bench/vars-gen.sh, bench/vars-run.sh): main.holder keeps a map of
// os.Args[1] entries (default 1,000,000) and a slice of os.Args[2] MB (default
// 100) in its locals and panics, so GOTRACEBACK=crash dumps a core with them.
package main

import (
	"os"
	"strconv"
)

func main() {
	entries, mb := 1000000, 100
	if len(os.Args) > 2 {
		entries, _ = strconv.Atoi(os.Args[1])
		mb, _ = strconv.Atoi(os.Args[2])
	}
	holder(entries, mb)
}

//go:noinline
func holder(entries, mb int) {
	m := make(map[int]string, entries)
	for i := 0; i < entries; i++ {
		m[i] = "value-" + strconv.Itoa(i)
	}
	big := make([]byte, mb<<20)
	// Touch every page so the slice is really in the core.
	for i := range big {
		big[i] = byte(i)
	}
	crash(len(m), len(big))
	sink(m, big)
}

var sunk []interface{}

//go:noinline
func sink(v ...interface{}) { sunk = v }

//go:noinline
func crash(n, size int) {
	panic("vars bench: " + strconv.Itoa(n) + " entries, " + strconv.Itoa(size) + " bytes")
}
