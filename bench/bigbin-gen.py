#!/usr/bin/env python3
"""Writes a Go module of N generated packages (issue #11 part 5: big binaries).

    bench/bigbin-gen.py N OUTDIR

Each package holds TYPES struct types with two methods each and FUNCS functions
(locals, loops, calls across the package, a package variable), all reachable from
main through a function table, so that the linker keeps them: about 135 KB of
binary per package, as in a large service (300 packages: ~40 MB). main parks
GOROUTINES goroutines in the packages' code, then panics from one of them, so that
`GOTRACEBACK=crash` writes a core with stacks deep in generated code.
"""

import os
import sys

TYPES = 60
FUNCS = 90
GOROUTINES = 64


def package(i: int, n: int) -> str:
    name = f"p{i:04d}"
    out = [f"package {name}\n", "import (\n\t\"fmt\"\n\t\"strings\"\n\t\"sync\"\n)\n"]
    out.append(f"var Counter{i} int\n")
    names = ", ".join('"n%d_%d"' % (i, k) for k in range(8))
    out.append("var Names = []string{" + names + "}\n")
    for t in range(TYPES):
        out.append(
            f"type T{t} struct {{\n\tID int\n\tName string\n\tTags []string\n"
            f"\tScore float64\n\tNext *T{(t + 1) % TYPES}\n\tM map[string]int\n}}\n"
        )
        out.append(
            f"func (x *T{t}) Describe(k int) string {{\n"
            f"\tvar b strings.Builder\n\tfor j := 0; j < k%7+1; j++ {{\n"
            f"\t\tfmt.Fprintf(&b, \"%s-%d-%d;\", x.Name, x.ID, j)\n\t}}\n"
            f"\treturn b.String()\n}}\n"
        )
        out.append(
            f"func (x *T{t}) Add(v int) int {{\n\tx.ID += v\n\tif x.M == nil {{\n"
            f"\t\tx.M = map[string]int{{}}\n\t}}\n\tx.M[x.Name] += v\n"
            f"\treturn x.ID + len(x.Tags)\n}}\n"
        )
    for f in range(FUNCS):
        t = f % TYPES
        callee = (f + 1) % FUNCS
        out.append(
            f"func F{f}(depth int, wg *sync.WaitGroup, block chan struct{{}}) int {{\n"
            f"\tv := &T{t}{{ID: depth, Name: Names[depth%len(Names)], Tags: []string{{\"a\", \"b\"}}}}\n"
            f"\ttotal := 0\n"
            f"\tfor k := 0; k < 3; k++ {{\n\t\ttotal += v.Add(k)\n\t\tif len(v.Describe(k)) > 1000 {{\n"
            f"\t\t\ttotal--\n\t\t}}\n\t}}\n"
            f"\tCounter{i} += total\n"
            f"\tif depth > 0 {{\n\t\treturn F{callee}(depth-1, wg, block) + total\n\t}}\n"
            f"\tif block != nil {{\n\t\twg.Done()\n\t\t<-block\n\t}}\n"
            f"\treturn total\n}}\n"
        )
    out.append(
        "var Table = []func(int, *sync.WaitGroup, chan struct{}) int{"
        + ", ".join(f"F{f}" for f in range(FUNCS))
        + "}\n"
    )
    return "".join(out)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: bigbin-gen.py N OUTDIR")
    n = int(sys.argv[1])
    root = sys.argv[2]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "go.mod"), "w") as f:
        f.write("module example.com/bigbin\n\ngo 1.22\n")
    for i in range(n):
        d = os.path.join(root, f"p{i:04d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "p.go"), "w") as f:
            f.write(package(i, n))
    imports = "\n".join(f'\tp{i:04d} "example.com/bigbin/p{i:04d}"' for i in range(n))
    tables = ", ".join(f"p{i:04d}.Table" for i in range(n))
    with open(os.path.join(root, "main.go"), "w") as f:
        f.write(
            f"""package main

import (
\t"fmt"
\t"os"
\t"sync"
{imports}
)

var tables = [][]func(int, *sync.WaitGroup, chan struct{{}}) int{{{tables}}}

func main() {{
\t// Every function of every package runs once (and stays linked in).
\tsum := 0
\tfor _, t := range tables {{
\t\tfor _, f := range t {{
\t\t\tsum += f(0, nil, nil)
\t\t}}
\t}}
\tvar wg sync.WaitGroup
\tblock := make(chan struct{{}})
\tfor g := 0; g < {GOROUTINES}; g++ {{
\t\twg.Add(1)
\t\tt := tables[(g*7919)%len(tables)]
\t\tgo t[g%len(t)](g%12+1, &wg, block)
\t}}
\twg.Wait()
\tfmt.Fprintln(os.Stderr, "ready", sum)
\tvar p *struct{{ X int }}
\tif len(os.Args) > 1 {{
\t\tp.X = sum // nil dereference: the crash the core records
\t}}
}}
"""
        )


if __name__ == "__main__":
    main()
