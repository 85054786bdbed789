#!/usr/bin/env bash
# Builds bench/prog (100,000 parked goroutines) and crashes it with
# GOTRACEBACK=crash to produce the benchmark core in bench/out/go1.NN/.
#
# Environment (optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go)
#   GO_VERSIONS    versions to build (default "1.19": Debian's Delve 1.20
#                  reads Go 1.19 cores; add e.g. 1.27 for the newest runtime)
#   GOROUTINES     number of goroutines (default 100000)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GO_TOOLCHAINS=${GO_TOOLCHAINS:-/opt/go}
GO_VERSIONS=${GO_VERSIONS:-1.19}
GOROUTINES=${GOROUTINES:-100000}

for v in $GO_VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	[ -x "$goroot/bin/go" ] || { echo "no Go toolchain at $goroot" >&2; exit 1; }
	out=$HERE/out/go$v
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$HERE/prog" && env GOROOT="$goroot" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
		GO111MODULE=on CGO_ENABLED=0 "$goroot/bin/go" build -o "$out/bench100k" .)
	echo "== go$v: running $GOROUTINES goroutines" >&2
	set +e
	(
		cd "$out"
		ulimit -c unlimited
		# The traceback of 100k goroutines is hundreds of MB: keep it compressed.
		env GOTRACEBACK=crash GOMAXPROCS=2 ./bench100k "$GOROUTINES" 2>&1 >/dev/null |
			zstd -q -3 -o traceback.txt.zst
	)
	set -e
	core=$(find "$out" -maxdepth 1 \( -name core -o -name 'core.[0-9]*' \) | head -n1)
	[ -n "$core" ] || { echo "go$v: no core written (core_pattern: $(cat /proc/sys/kernel/core_pattern))" >&2; exit 1; }
	[ "$core" = "$out/core" ] || mv "$core" "$out/core"
	file -b "$out/core" | grep -q 'ELF 64-bit LSB core file' || { echo "go$v: core is not an ELF core" >&2; exit 1; }
	echo "go$v: $(du -h "$out/core" | cut -f1) core, $(du -h "$out/traceback.txt.zst" | cut -f1) compressed traceback in $out" >&2
done
