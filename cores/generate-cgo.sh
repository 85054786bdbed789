#!/usr/bin/env bash
# Regenerates the cgo fixtures under cores/cgo/ (see cores/README.md, "cgo").
#
# For every Go version and build mode: build cores/cgo-scenarios (module
# example.com/cgoscenarios: Go calling C in cfuncs.c, C calling back into Go)
# with CGO_ENABLED=1, run each scenario with GOTRACEBACK=crash GOMAXPROCS=2
# until the runtime's traceback (the oracle for the Go frames) and a kernel
# core are written, then record two more oracles for the C frames:
#   SCENARIO.gdb.txt       gdb's `thread apply all bt`, then after a
#                          `---- frames ----` line the same stacks as
#                          `thread LWP` / `frame N PC KIND FUNCTION FILE LINE`
#                          lines (cgo-scenarios/gdb_frames.py)
#   SCENARIO.delve127.txt  Delve 1.27's answers to `threads`, `goroutines`
#                          and `goroutine N bt` for every goroutine that was
#                          in C (with DLV set; for the docs' comparison)
# Everything is zstd-compressed except the text oracles.
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); the
#                  first argument overrides it
#   BUILDS         VERSION:MODE pairs to build (default: the matrix below)
#   SCENARIOS      scenarios to run (default: crash_in_c blocked_in_c callback)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-cgo); the
#                  sources are copied to $WORKDIR/src so that the paths in
#                  binaries and tracebacks are stable
#   DLV            Delve 1.27 binary (e.g. /opt/dlv-1.27/dlv); without it no
#                  Delve transcript is recorded
#
# Modes: dyn (dynamically linked with libc, non-PIE: cgo's default), pie
# (-buildmode=pie: a load bias for the binary too), static
# (-ldflags=-extldflags=-static: libc linked in, no shared objects), noopt
# (dyn with -gcflags=all=-N -l). The C code is always compiled with cgo's
# default -g -O2 (no frame pointers: only DWARF CFI unwinds it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
# The cores/ budget allows 15 MB here: every release dynamically linked, PIE
# and static for the oldest and newest, one -N -l build.
BUILDS=${BUILDS:-"1.19:dyn 1.22:dyn 1.25:dyn 1.27:dyn 1.19:pie 1.27:pie 1.19:static 1.27:static 1.27:noopt"}
SCENARIOS=${SCENARIOS:-"crash_in_c blocked_in_c callback"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-cgo}
SRC=$WORKDIR/src
OUT=$HERE/cgo
ATTEMPTS=3
BIN=cgoscenarios

for tool in zstd file timeout gdb; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done
command -v gcc >/dev/null || die "missing tool: gcc (cgo needs a C compiler)"

mode_flags() {
	case $1 in
	dyn) echo '' ;;
	pie) echo '-buildmode=pie' ;;
	static) echo '-ldflags=-extldflags=-static' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	*) die "unknown mode $1" ;;
	esac
}

expected_header() {
	case $1 in
	# Go 1.19 says "unexpected signal during runtime execution" instead of
	# "signal arrived during cgo execution"; both name the SIGSEGV.
	crash_in_c) echo 'SIGSEGV: segmentation violation' ;;
	blocked_in_c) echo 'panic: blocked_in_c: 3 goroutines wait in C' ;;
	callback) echo 'fatal error: sync: unlock of unlocked mutex' ;;
	*) die "unknown scenario $1" ;;
	esac
}

# The Go function of each scenario that must be on a stack in C.
check_stderr() { # file scenario
	! grep -q 'returned without crashing' "$1" || return 1
	grep -qF -- "$(expected_header "$2")" "$1" || return 1
	case $2 in
	crash_in_c) grep -q '^main\._Cfunc_c_crash_entry(' "$1" ;;
	blocked_in_c)
		grep -q '^main\._Cfunc_c_block_sleep(' "$1" &&
			grep -q '^main\._Cfunc_c_block_read(' "$1" &&
			grep -q '^main\._Cfunc_c_block_usleep(' "$1"
		;;
	callback) grep -q '^runtime\.cgocallback(' "$1" && grep -q '^main\.applySettings(' "$1" ;;
	esac
}

write_json() { # dir scenario version mode signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","core_kind":"kernel","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$2" "$3" "$4" "$5" "$(json_escape "$6")" >"$1/$2.json"
}

record_gdb() { # bin core out
	local noise='^(warning:|\[New LWP|\[Thread debugging|Using host libthread_db|To enable execution|	add-auto-load|line to your configuration|To completely disable|	set auto-load|For more information about|"Auto-loading safe path"|	info "\(gdb\)Auto-loading)'
	{
		gdb -batch -nx -ex 'set debuginfod enabled off' -ex 'set pagination off' \
			-ex 'thread apply all bt' "$1" "$2" 2>&1 | grep -Ev "$noise" || true
		echo '---- frames ----'
		gdb -batch -nx -ex 'set debuginfod enabled off' -x "$HERE/cgo-scenarios/gdb_frames.py" \
			"$1" "$2" 2>/dev/null | grep -E '^(thread|frame) ' || true
	} >"$3"
	grep -q '^frame ' "$3" || die "gdb printed no frames for $2"
}

# Goroutine ids whose traceback section has a frame in C (a _Cfunc_ wrapper).
goroutines_in_c() { # stderr
	awk '/^goroutine [0-9]+ /{g=$2} /^main\._Cfunc_/ && g!="" {print g}' "$1" | sort -un
}

record_delve() { # bin core stderr out
	local tmp g
	tmp=$(mktemp -d)
	{
		printf 'threads\ngoroutines\nbt\n'
		for g in $(goroutines_in_c "$3"); do
			printf 'print "----8<---- goroutine %s bt"\ngoroutine %s bt\n' "$g" "$g"
		done
	} >"$tmp/run.cmds"
	# From an empty directory so Delve prints full paths.
	(cd "$tmp" && printf 'exit\n' | timeout 300 "$DLV" core "$1" "$2" --check-go-version=false \
		--init "$tmp/run.cmds" --allow-non-terminal-interactive=true 2>&1) |
		grep -v ' error layer=' | sed 's/\x1b\[[0-9;]*m//g' |
		sed '/^Type .help. for list of commands\.$/d; /^(dlv) *$/d; /^WARNING: undefined behavior - Go version .* is too old/d' \
			>"$4" || true
	rm -rf "$tmp"
}

rm -rf "$SRC"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/cgo-scenarios/." "$SRC/"
rm -f "$SRC/gdb_frames.py"

failures=0
for b in $BUILDS; do
	v=${b%%:*}
	mode=${b#*:}
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot"
		failures=$((failures + 1))
		continue
	fi
	tag=go$v-$mode
	dest=$OUT/$tag
	bindir=$WORKDIR/bin/$tag
	rundir=$WORKDIR/run/$tag
	mkdir -p "$bindir" "$dest"
	flags=$(mode_flags "$mode")
	build_cmd="CGO_ENABLED=1 go build${flags:+ $flags} -o $BIN ."
	log "== $tag: $build_cmd"
	# shellcheck disable=SC2046
	(cd "$SRC" && env $(go_env "$goroot" cgo) "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/$BIN" .)
	zstd -19 --long=27 -q -f "$bindir/$BIN" -o "$dest/$BIN.zst"
	for s in $SCENARIOS; do
		rm -f "$dest/$s".*
		if sig=$(run_scenario "$bindir/$BIN" "$s" "$rundir/$s"); then
			cp "$rundir/$s/stderr" "$dest/$s.stderr"
			write_json "$dest" "$s" "$v" "$mode" "$sig" "$build_cmd"
			record_gdb "$bindir/$BIN" "$rundir/$s/core" "$dest/$s.gdb.txt"
			if [ -n "${DLV:-}" ]; then
				record_delve "$bindir/$BIN" "$rundir/$s/core" "$rundir/$s/stderr" "$dest/$s.delve127.txt"
			fi
			zstd -19 --long=27 -q -f "$rundir/$s/core" -o "$dest/$s.core.zst"
			rm -f "$rundir/$s/core"
			log "  $s: ok ($sig, $(stat -c %s "$dest/$s.core.zst") bytes compressed)"
		else
			log "  $s: FAILED, see $rundir/$s"
			failures=$((failures + 1))
		fi
	done
done

du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
