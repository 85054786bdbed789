// mkcpio OUT.cpio NAME=HOSTFILE...: writes a newc cpio archive (the kernel's initramfs
// format) holding /dev/console (char 5:1), the directories /dev /proc /tmp, every
// parent directory of a NAME, and each HOSTFILE as NAME (mode 0755).
package main

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

func entry(out *[]byte, name string, mode, major, minor uint32, data []byte) {
	fields := []uint32{0, mode, 0, 0, 1, 0, uint32(len(data)), 0, 0, major, minor, uint32(len(name) + 1), 0}
	b := []byte("070701")
	for _, f := range fields {
		b = append(b, fmt.Sprintf("%08x", f)...)
	}
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	*out = append(*out, b...)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mkcpio OUT.cpio NAME=HOSTFILE...")
		os.Exit(2)
	}
	dirs := map[string]bool{"dev": true, "proc": true, "tmp": true}
	type file struct{ name, host string }
	var files []file
	for _, a := range os.Args[2:] {
		i := strings.IndexByte(a, '=')
		if i <= 0 {
			fmt.Fprintf(os.Stderr, "mkcpio: bad argument %q\n", a)
			os.Exit(2)
		}
		name := strings.TrimPrefix(a[:i], "/")
		files = append(files, file{name, a[i+1:]})
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents before children
	var out []byte
	for _, d := range names {
		entry(&out, d, 0o040755, 0, 0, nil)
	}
	entry(&out, "dev/console", 0o020600, 5, 1, nil)
	for _, f := range files {
		data, err := os.ReadFile(f.host)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkcpio: %v\n", err)
			os.Exit(1)
		}
		entry(&out, f.name, 0o100755, 0, 0, data)
	}
	entry(&out, "TRAILER!!!", 0, 0, 0, nil)
	if err := os.WriteFile(os.Args[1], out, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "mkcpio: %v\n", err)
		os.Exit(1)
	}
}
