#!/usr/bin/env bash
# Builds bench/vars-prog (a frame holding a 1,000,000-entry map and a 100 MB
# slice, see its main.go) without optimisations, so both stay in the frame's
# locals, and crashes it with GOTRACEBACK=crash: bench/out/vars-go1.NN/{varsbench,core}.
#
# Environment (optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go)
#   GO_VERSIONS    versions to build (default 1.27: Delve 1.27 reads Go 1.25+)
#   ENTRIES        map entries (default 1000000)
#   SLICE_MB       slice size in MB (default 100)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GO_TOOLCHAINS=${GO_TOOLCHAINS:-/opt/go}
GO_VERSIONS=${GO_VERSIONS:-1.27}
ENTRIES=${ENTRIES:-1000000}
SLICE_MB=${SLICE_MB:-100}

for v in $GO_VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	[ -x "$goroot/bin/go" ] || { echo "no Go toolchain at $goroot" >&2; exit 1; }
	out=$HERE/out/vars-go$v
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$HERE/vars-prog" && env GOROOT="$goroot" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
		GO111MODULE=on CGO_ENABLED=0 "$goroot/bin/go" build -gcflags=all='-N -l' -o "$out/varsbench" .)
	echo "== go$v: map of $ENTRIES entries, $SLICE_MB MB slice" >&2
	set +e
	(
		cd "$out"
		ulimit -c unlimited
		env GOTRACEBACK=crash GOMAXPROCS=2 ./varsbench "$ENTRIES" "$SLICE_MB" 2>traceback.txt >/dev/null
	)
	set -e
	core=$(find "$out" -maxdepth 1 \( -name core -o -name 'core.[0-9]*' \) | head -n1)
	[ -n "$core" ] || { echo "go$v: no core written (core_pattern: $(cat /proc/sys/kernel/core_pattern))" >&2; exit 1; }
	[ "$core" = "$out/core" ] || mv "$core" "$out/core"
	file -b "$out/core" | grep -q 'ELF 64-bit LSB core file' || { echo "go$v: core is not an ELF core" >&2; exit 1; }
	grep -q '^panic: vars bench: ' "$out/traceback.txt" || { echo "go$v: unexpected traceback" >&2; exit 1; }
	echo "go$v: $(du -h "$out/core" | cut -f1) core in $out" >&2
done
