#!/usr/bin/env bash
# Regenerates the fixture corpus under cores/fixtures/ (see cores/README.md).
#
# For every Go version and build mode: build the scenarios program, run each
# scenario with GOTRACEBACK=crash so the runtime prints its traceback (the
# oracle) and the kernel dumps core, then store binary, core, traceback and a
# JSON description. One extra core is written by gdb's gcore from a live
# process (service_wait, Go 1.22 opt).
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); the
#                  first argument overrides it
#   VERSIONS       Go versions to build (default: 1.19 1.21 ... 1.27)
#   MODES          build modes (default: opt noopt stripped); also available:
#                  cgo (CGO_ENABLED=1: dynamically linked with libc, as most
#                  production builds are) and cgopie (cgo plus -buildmode=pie),
#                  built by default for Go 1.27 only (see CGO_VERSIONS)
#   SCENARIOS      scenarios to run (default: all)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures); the
#                  sources are copied to $WORKDIR/src so that file paths in
#                  binaries and tracebacks are stable
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
# A run over the default sets replaces the whole corpus (no stale files).
full=0
[ -z "${VERSIONS:-}${MODES:-}${SCENARIOS:-}" ] && full=1
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.27"}
MODES=${MODES:-"opt noopt stripped"}
CGO_VERSIONS=${CGO_VERSIONS:-"1.27"}
# cgopie covers cgo linking and a load bias at once (the corpus budget: cores/ < 80 MB).
CGO_MODES=${CGO_MODES:-"cgopie"}
SCENARIOS=${SCENARIOS:-"panic_main nil_goroutine sigquit_service deep_recursion generics_closures deadlock concurrent_map_writes"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures}
SRC=$WORKDIR/src
OUT=$HERE/fixtures
GCORE_VERSION=1.22
GCORE_MODE=opt
ATTEMPTS=3

for tool in zstd file timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# The string a scenario's traceback must contain for the run to count.
expected_header() {
	case $1 in
	panic_main) echo 'panic: config limit=42: limit out of range' ;;
	nil_goroutine) echo 'invalid memory address or nil pointer dereference' ;;
	sigquit_service | service_wait) echo 'SIGQUIT: quit' ;;
	deep_recursion) echo 'panic: bottom reached after 200 calls' ;;
	generics_closures) echo 'index out of range [3] with length 3' ;;
	deadlock) echo 'fatal error: all goroutines are asleep - deadlock!' ;;
	concurrent_map_writes) echo 'fatal error: concurrent map writes' ;;
	*) die "unknown scenario $1" ;;
	esac
}

mode_flags() {
	case $1 in
	opt) echo '' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	stripped) echo '-ldflags=-s -w' ;;
	cgo) echo '' ;;
	cgopie) echo '-buildmode=pie' ;;
	*) die "unknown mode $1" ;;
	esac
}

write_json() { # dir scenario version mode kind signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","core_kind":"%s","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$2" "$3" "$4" "$5" "$6" "$(json_escape "$7")" >"$1/$2.json"
}

# A stderr file is a valid oracle when it has the expected header and at
# least one goroutine section with a frame.
check_stderr() { # file scenario
	! grep -q 'returned without crashing' "$1" &&
		grep -qF -- "$(expected_header "$2")" "$1" &&
		grep -qE '^goroutine [0-9]+ .*\[.*\]:$' "$1" &&
		grep -qE '^	.*:[0-9]+( \+0x[0-9a-f]+)?' "$1"
}

# Copy the sources to a fixed directory: binaries and tracebacks embed it.
rm -rf "$SRC"
[ "$full" = 1 ] && rm -rf "$OUT"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/scenarios/." "$SRC/"

# Only the toolchain's own environment: no GOPATH/GOROOT leaking in.

gcore_service() { # bin dir -> prints exit signal name
	local bin=$1 dir=$2 pid rc i core
	command -v gcore >/dev/null || die "gcore (gdb) is needed for the gcore fixture"
	rm -rf "$dir"
	mkdir -p "$dir"
	(
		cd "$dir"
		# The SIGQUIT below would make the kernel dump a second core: skip it.
		ulimit -c 0
		exec env GOTRACEBACK=crash GOMAXPROCS=2 "$bin" service_wait >stdout 2>stderr
	) &
	pid=$!
	for i in $(seq 1 100); do
		grep -q '^ready ' "$dir/stdout" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^ready ' "$dir/stdout" || { kill -KILL "$pid"; die "service_wait never became ready"; }
	gcore -o "$dir/gcore" "$pid" >"$dir/gcore.log" 2>&1 || { kill -KILL "$pid"; die "gcore failed, see $dir/gcore.log"; }
	kill -QUIT "$pid"
	set +e
	wait "$pid"
	rc=$?
	set -e
	core=$dir/gcore.$pid
	is_elf_core "$core" || die "gcore did not write an ELF core"
	check_stderr "$dir/stderr" service_wait || die "service_wait traceback incomplete"
	mv "$core" "$dir/core"
	if [ "$rc" -gt 128 ]; then echo "SIG$(kill -l $((rc - 128)))"; else echo "exit-$rc"; fi
}

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot (see cores/README.md)"
		failures=$((failures + 1))
		continue
	fi
	modes=$MODES
	case " $CGO_VERSIONS " in *" $v "*) modes="$modes $CGO_MODES" ;; esac
	for mode in $modes; do
		tag=go$v-$mode
		dest=$OUT/$tag
		bindir=$WORKDIR/bin/$tag
		rundir=$WORKDIR/run/$tag
		mkdir -p "$bindir"
		flags=$(mode_flags "$mode")
		cgo=0
		case $mode in cgo | cgopie) cgo=1 ;; esac
		build_cmd="CGO_ENABLED=$cgo go build${flags:+ $flags} -o scenarios ."
		log "== $tag: $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot" "$mode") "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/scenarios" .)
		mkdir -p "$dest"
		zstd -19 --long=27 -q -f "$bindir/scenarios" -o "$dest/scenarios.zst"
		for s in $SCENARIOS; do
			# With cgo the runtime cannot know that C code will not wake anyone, so
			# it never declares a deadlock: that scenario would hang.
			if [ "$cgo" = 1 ] && [ "$s" = deadlock ]; then continue; fi
			rm -f "$dest/$s.core.zst" "$dest/$s.stderr" "$dest/$s.json"
			if sig=$(run_scenario "$bindir/scenarios" "$s" "$rundir/$s"); then
				zstd -19 --long=27 -q -f "$rundir/$s/core" -o "$dest/$s.core.zst"
				cp "$rundir/$s/stderr" "$dest/$s.stderr"
				write_json "$dest" "$s" "$v" "$mode" kernel "$sig" "$build_cmd"
				rm -f "$rundir/$s/core"
				log "  $s: ok ($sig, $(stat -c %s "$dest/$s.core.zst") bytes compressed)"
			else
				log "  $s: FAILED, see $rundir/$s"
				failures=$((failures + 1))
			fi
		done
		if [ "$v" = "$GCORE_VERSION" ] && [ "$mode" = "$GCORE_MODE" ]; then
			sig=$(gcore_service "$bindir/scenarios" "$rundir/service_wait")
			zstd -19 --long=27 -q -f "$rundir/service_wait/core" -o "$dest/service_wait.core.zst"
			cp "$rundir/service_wait/stderr" "$dest/service_wait.stderr"
			write_json "$dest" service_wait "$v" "$mode" gcore "$sig" "$build_cmd"
			rm -f "$rundir/service_wait/core"
			log "  service_wait (gcore): ok"
		fi
	done
done

du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
