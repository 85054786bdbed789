#!/usr/bin/env bash
# Regenerates the hang-analysis fixtures under cores/fixtures-hangs/ (see
# docs/triage.md, "Fixtures"). Same structure as cores/generate.sh: for every
# Go version and build mode, build cores/hangs (module example.com/hangs),
# run each scenario with GOTRACEBACK=crash GOMAXPROCS=2; the program parks its
# goroutines, settles, then SIGQUITs itself, so the runtime prints every
# goroutine's stack (the oracle) and the kernel dumps core. Binary, core,
# traceback and a JSON description are stored, zstd-compressed.
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); the
#                  first argument overrides it
#   VERSIONS       Go versions to build (default: 1.19 1.21 ... 1.27)
#   SCENARIOS      scenarios to run (default: all)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-hangs)
# Modes: `opt` for every version, `stripped` (-ldflags=-s -w) for 1.22 and 1.27.
# `opt` keeps DWARF uncompressed (-compressdwarf=false): zstd then compresses
# it better than the linker's zlib, which keeps the corpus under its 14 MB
# budget. The 3,000-goroutine leak traceback (2.7 MB) is stored compressed,
# as leak.stderr.zst; every other traceback is plain text.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
full=0
[ -z "${VERSIONS:-}${SCENARIOS:-}" ] && full=1
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.27"}
# Stripped for the newest release only: the corpus budget (cores/ < 80 MB).
STRIPPED_VERSIONS="1.27"
SCENARIOS=${SCENARIOS:-"lock_order chan_cycle rwmutex_starve leak healthy nil_wait"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-hangs}
SRC=$WORKDIR/src
OUT=$HERE/fixtures-hangs
ATTEMPTS=3
LEAK_COUNT=3000

for tool in zstd file timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# A frame every run of the scenario must show in its traceback.
expected_frame() {
	case $1 in
	lock_order) echo 'main.transferOut(' ;;
	chan_cycle) echo 'main.pong(' ;;
	rwmutex_starve) echo 'main.lookup(' ;;
	leak) echo 'main.compute(' ;;
	healthy) echo 'main.collector(' ;;
	nil_wait) echo 'main.waitForever(' ;;
	*) die "unknown scenario $1" ;;
	esac
}

# The goroutine headers that prove the scenario settled as designed.
expected_waits() {
	case $1 in
	lock_order) echo 2 ;;
	chan_cycle) echo 2 ;;
	rwmutex_starve) echo 3 ;;
	leak) echo "$LEAK_COUNT" ;;
	*) echo 0 ;;
	esac
}

mode_flags() {
	case $1 in
	opt) echo '-ldflags=-compressdwarf=false' ;;
	stripped) echo '-ldflags=-s -w' ;;
	*) die "unknown mode $1" ;;
	esac
}

write_json() { # dir scenario version mode signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","core_kind":"kernel","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$2" "$3" "$4" "$5" "$(json_escape "$6")" >"$1/$2.json"
}

# Valid oracle: SIGQUIT header, the scenario's frame, enough parked goroutines
# in it (counted by the scenario's frame), and at least one stack.
check_stderr() { # file scenario
	local want n
	! grep -q 'returned without crashing' "$1" || return 1
	grep -qF 'SIGQUIT: quit' "$1" || return 1
	grep -qF -- "$(expected_frame "$2")" "$1" || return 1
	grep -qE '^goroutine [0-9]+ .*\[.*\]:$' "$1" || return 1
	want=$(expected_waits "$2")
	case $2 in
	leak) n=$(grep -c '^main.compute(' "$1" || true) ;;
	lock_order) n=$(grep -c '^main.transfer\(In\|Out\)(' "$1" || true) ;;
	chan_cycle) n=$(grep -c '^main.p[io]ng(' "$1" || true) ;;
	rwmutex_starve) n=$(grep -c '^main.\(refresher\|invalidator\|lookup\)(' "$1" || true) ;;
	*) n=0 ;;
	esac
	[ "$n" -ge "$want" ]
}

rm -rf "$SRC"
[ "$full" = 1 ] && rm -rf "$OUT"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/hangs/." "$SRC/"

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot"
		failures=$((failures + 1))
		continue
	fi
	modes=opt
	case " $STRIPPED_VERSIONS " in *" $v "*) modes="opt stripped" ;; esac
	for mode in $modes; do
		tag=go$v-$mode
		dest=$OUT/$tag
		bindir=$WORKDIR/bin/$tag
		rundir=$WORKDIR/run/$tag
		mkdir -p "$bindir"
		flags=$(mode_flags "$mode")
		build_cmd="CGO_ENABLED=0 go build${flags:+ $flags} -o hangs ."
		log "== $tag: $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot") "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/hangs" .)
		mkdir -p "$dest"
		zstd -19 --long=27 -q -f "$bindir/hangs" -o "$dest/hangs.zst"
		for s in $SCENARIOS; do
			rm -f "$dest/$s.core.zst" "$dest/$s.stderr" "$dest/$s.json"
			if sig=$(run_scenario "$bindir/hangs" "$s" "$rundir/$s"); then
				zstd -19 --long=27 -q -f "$rundir/$s/core" -o "$dest/$s.core.zst"
				rm -f "$dest/$s.stderr.zst"
				if [ "$s" = leak ]; then
					zstd -19 --long=27 -q -f "$rundir/$s/stderr" -o "$dest/$s.stderr.zst"
				else
					cp "$rundir/$s/stderr" "$dest/$s.stderr"
				fi
				write_json "$dest" "$s" "$v" "$mode" "$sig" "$build_cmd"
				rm -f "$rundir/$s/core"
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
