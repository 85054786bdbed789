#!/usr/bin/env bash
# Regenerates the linux/arm64 fixtures under cores/arm64/ (see cores/README.md, "arm64").
#
# The scenarios program (cores/scenarios) is built with GOARCH=arm64 and run under
# qemu-user's qemu-aarch64 with GOTRACEBACK=crash: the runtime prints its traceback (the
# oracle) and aborts, and qemu writes a guest ELF core (e_machine AArch64) named
# qemu_<prog>_<time>_<pid>.core in the cwd. No arm64 machine is needed, and none is needed
# at test time: the cores are committed.
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); first argument overrides
#   VERSIONS       Go versions (default 1.19 1.22 1.25 1.27)
#   MODES          opt noopt stripped (default: all three)
#   SCENARIOS      scenarios to run in every mode (default: all of generate.sh's except
#                  service_wait in opt; in noopt and stripped only the ones whose states
#                  differ most, to keep cores/arm64 under ~40 MB: qemu's cores compress
#                  to ~370 KB, seven times an amd64 kernel core)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-arm64); sources are
#                  copied to $WORKDIR/src, the path every binary and traceback names
#   QEMU           the emulator (default qemu-aarch64; Debian package qemu-user)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
full=0
[ -z "${VERSIONS:-}${MODES:-}${SCENARIOS:-}" ] && full=1
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.22 1.25 1.27"}
MODES=${MODES:-"opt noopt stripped"}
ALL_SCENARIOS="panic_main nil_goroutine sigquit_service deep_recursion generics_closures deadlock concurrent_map_writes"
# panic, signal (SIGSEGV -> sigpanic), many blocked goroutines (SIGQUIT), deadlock.
NOOPT_SCENARIOS="panic_main nil_goroutine sigquit_service deadlock"
STRIPPED_SCENARIOS="panic_main nil_goroutine sigquit_service"
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-arm64}
QEMU=${QEMU:-qemu-aarch64}
SRC=$WORKDIR/src
OUT=$HERE/arm64
ATTEMPTS=3

for tool in zstd file timeout "$QEMU"; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (qemu-aarch64 is in Debian's qemu-user)"
done

expected_header() {
	case $1 in
	panic_main) echo 'panic: config limit=42: limit out of range' ;;
	nil_goroutine) echo 'invalid memory address or nil pointer dereference' ;;
	sigquit_service) echo 'SIGQUIT: quit' ;;
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
	*) die "unknown mode $1" ;;
	esac
}

check_stderr() { # file scenario
	! grep -q 'returned without crashing' "$1" &&
		grep -qF -- "$(expected_header "$2")" "$1" &&
		grep -qE '^goroutine [0-9]+ .*\[.*\]:$' "$1" &&
		grep -qE '^	.*:[0-9]+( \+0x[0-9a-f]+)?' "$1"
}

is_arm64_core() { file -b "$1" | grep -q 'ELF 64-bit LSB core file, ARM aarch64'; }

# One scenario under qemu until it dies by a signal with a guest core and a valid oracle.
run_qemu() { # bin scenario rundir -> prints exit signal name
	local bin=$1 s=$2 dir=$3 attempt rc core
	for attempt in $(seq 1 "$ATTEMPTS"); do
		rm -rf "$dir"
		mkdir -p "$dir"
		set +e
		(
			cd "$dir"
			# qemu writes the guest core only when RLIMIT_CORE allows it.
			ulimit -c unlimited
			exec timeout -s KILL 120 sh -c 'exec "$@" >stdout 2>stderr' sh \
				env GOTRACEBACK=crash GOMAXPROCS=2 "$QEMU" "$bin" "$s" 2>timeout.log
		)
		rc=$?
		set -e
		# qemu then aborts itself, and the host kernel may dump qemu's own (x86-64) core
		# as "core": that one is of no use here.
		rm -f "$dir/core" "$dir"/core.[0-9]*
		core=$(find "$dir" -maxdepth 1 -name 'qemu_*.core' | head -n1)
		if [ "$rc" -gt 128 ] && [ -n "$core" ] && is_arm64_core "$core" && check_stderr "$dir/stderr" "$s"; then
			mv "$core" "$dir/guest.core"
			echo "SIG$(kill -l $((rc - 128)))"
			return 0
		fi
		rm -f "$dir"/qemu_*.core
		log "  $s: attempt $attempt failed (exit $rc, core '${core}')"
	done
	return 1
}

write_json() { # dir scenario version mode signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","arch":"arm64","core_kind":"qemu","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$2" "$3" "$4" "$5" "$(json_escape "$6")" >"$1/$2.json"
}

rm -rf "$SRC"
[ "$full" = 1 ] && rm -rf "$OUT"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/scenarios/." "$SRC/"

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot (see cores/README.md)"
		failures=$((failures + 1))
		continue
	fi
	for mode in $MODES; do
		tag=go$v-$mode
		dest=$OUT/$tag
		bindir=$WORKDIR/bin/$tag
		rundir=$WORKDIR/run/$tag
		mkdir -p "$bindir" "$dest"
		flags=$(mode_flags "$mode")
		build_cmd="GOARCH=arm64 CGO_ENABLED=0 go build${flags:+ $flags} -o scenarios ."
		log "== arm64 $tag: $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot" "$mode") GOARCH=arm64 "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/scenarios" .)
		zstd -19 --long=27 -q -f "$bindir/scenarios" -o "$dest/scenarios.zst"
		scenarios=${SCENARIOS:-}
		if [ -z "$scenarios" ]; then
			case $mode in
			noopt) scenarios=$NOOPT_SCENARIOS ;;
			stripped) scenarios=$STRIPPED_SCENARIOS ;;
			*) scenarios=$ALL_SCENARIOS ;;
			esac
		fi
		for s in $scenarios; do
			rm -f "$dest/$s.core.zst" "$dest/$s.stderr" "$dest/$s.json"
			if sig=$(run_qemu "$bindir/scenarios" "$s" "$rundir/$s"); then
				zstd -19 --long=27 -q -f "$rundir/$s/guest.core" -o "$dest/$s.core.zst"
				cp "$rundir/$s/stderr" "$dest/$s.stderr"
				write_json "$dest" "$s" "$v" "$mode" "$sig" "$build_cmd"
				rm -f "$rundir/$s/guest.core"
				log "  $s: ok ($sig, $(stat -c %s "$dest/$s.core.zst") bytes compressed)"
			else
				log "  $s: FAILED, see $rundir/$s"
				failures=$((failures + 1))
			fi
		done
	done
done

du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
