#!/usr/bin/env bash
# Live-process benchmarks (issue: live processes), coroner beside Delve and gdb on the
# same programs in one run. Prints one table; nothing is a pass/fail threshold.
#
#  1. Conditional breakpoint: `live loop` calls main.f 20,000 times; `break main.f if
#     i == 19999` stops once, on the last call (every hit evaluates the condition).
#  2. `next` through a loop body: 200 `next`s in main.loopMain, median ms per `next`.
#  3. Attach to 100,000 parked goroutines, list them, detach: wall time, peak RSS, and
#     how long the program was stopped (the time between attach and detach).
#  4. Full speed: `live loop 20000000` under coroner with no breakpoint vs bare.
#
# Environment (optional):
#   CORONER  coroner binary (default target/release/coroner; build with
#            `cargo build --release`)
#   DLV      Delve (default /opt/dlv-1.27/dlv if present, else dlv)
#   GDB      gdb (default gdb)
#   BUILD    live fixture build (default cores/live-fixtures/go1.27-noopt; Debian's
#            Delve 1.20 reads go1.19 builds only: BUILD=cores/live-fixtures/go1.19-noopt)
#   GOROOT_100K  Go toolchain for the 100k-goroutine program (default /opt/go/go1.27);
#            part 3 is skipped without it.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORONER=${CORONER:-$ROOT/target/release/coroner}
if [ -z "${DLV:-}" ]; then
	if [ -x /opt/dlv-1.27/dlv ]; then DLV=/opt/dlv-1.27/dlv; else DLV=dlv; fi
fi
GDB=${GDB:-gdb}
BUILD=${BUILD:-$ROOT/cores/live-fixtures/go1.27-noopt}
GOROOT_100K=${GOROOT_100K:-/opt/go/go1.27}
TIME=/usr/bin/time
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; [ -n "${BENCH_PID:-}" ] && kill -9 "$BENCH_PID" 2>/dev/null' EXIT

[ -x "$CORONER" ] || { echo "live-run.sh: no coroner at $CORONER (cargo build --release)" >&2; exit 1; }
[ -x "$TIME" ] || { echo "live-run.sh: $TIME (GNU time) is required" >&2; exit 1; }
zstd -q -d -c "$BUILD/live.zst" >"$WORK/live" && chmod +x "$WORK/live"

have() { command -v "$1" >/dev/null 2>&1; }
row() { printf '%-44s %-10s %12s %12s  %s\n' "$@"; }
secs() { awk '{print $1}' "$1"; }
rss() { awk '{print $3}' "$1"; }

echo "# coroner $("$CORONER" --version 2>/dev/null | head -1); Delve: $("$DLV" version 2>/dev/null | sed -n 2p); $("$GDB" --version 2>/dev/null | head -1)"
row benchmark tool "wall s" "peak KB" note

# 1. Conditional breakpoint.
# `condition` rather than `break ... if`: Delve before 1.21 (Debian's 1.20) lacks the latter.
printf 'break main.f\ncondition 1 i == 19999\ncontinue\nprint i\nexit\n' >"$WORK/cond.cmds"
"$TIME" -f '%e s %M' -o "$WORK/c.t" "$CORONER" exec "$WORK/live" --init "$WORK/cond.cmds" -- loop </dev/null >"$WORK/c.out" 2>&1
row "cond bp, 20,000 hits" coroner "$(secs "$WORK/c.t")" "$(rss "$WORK/c.t")" "i=$(grep -x '[0-9]*' "$WORK/c.out" | tail -1)"
if have "$DLV"; then
	"$TIME" -f '%e s %M' -o "$WORK/d.t" "$DLV" exec --allow-non-terminal-interactive=true "$WORK/live" --init "$WORK/cond.cmds" -- loop </dev/null >"$WORK/d.out" 2>&1
	row "cond bp, 20,000 hits" delve "$(secs "$WORK/d.t")" "$(rss "$WORK/d.t")" "i=$(grep -x '[0-9]*' "$WORK/d.out" | tail -1)"
fi
if have "$GDB"; then
	"$TIME" -f '%e s %M' -o "$WORK/g.t" "$GDB" -nx -batch -ex 'break main.f if i == 19999' -ex run -ex 'print i' -ex kill --args "$WORK/live" loop </dev/null >"$WORK/g.out" 2>&1
	row "cond bp, 20,000 hits" gdb "$(secs "$WORK/g.t")" "$(rss "$WORK/g.t")" "$(grep -o '^\$1 = [0-9]*' "$WORK/g.out")"
fi

# 2. next through a loop body: startup + break + 200 nexts, minus startup + break.
line=$(grep -n 'LINE: loop-call' "$ROOT/cores/live/loop.go" | cut -d: -f1)
{ printf 'break loop.go:%s\ncontinue\n' "$line"; printf 'next\n%.0s' $(seq 200); printf 'exit\n'; } >"$WORK/next.cmds"
printf 'break loop.go:%s\ncontinue\nexit\n' "$line" >"$WORK/next0.cmds"
per_next() { # TOOL BIN: ms per next
	local extra=()
	[ "$1" = delve ] && extra=(--allow-non-terminal-interactive=true)
	"$TIME" -f '%e' -o "$WORK/n1.t" "$2" exec "${extra[@]}" "$WORK/live" --init "$WORK/next.cmds" -- loop </dev/null >/dev/null 2>&1
	"$TIME" -f '%e' -o "$WORK/n0.t" "$2" exec "${extra[@]}" "$WORK/live" --init "$WORK/next0.cmds" -- loop </dev/null >/dev/null 2>&1
	awk -v a="$(cat "$WORK/n1.t")" -v b="$(cat "$WORK/n0.t")" 'BEGIN{printf "%.2f", (a-b)*1000/200}'
}
row "next in a loop body (ms per next)" coroner "$(per_next coroner "$CORONER")" - "200 nexts"
have "$DLV" && row "next in a loop body (ms per next)" delve "$(per_next delve "$DLV")" - "200 nexts"

# 3. Attach to 100,000 goroutines.
if [ -x "$GOROOT_100K/bin/go" ]; then
	(cd "$HERE/prog" && env GOROOT="$GOROOT_100K" GOFLAGS=-mod=mod GOTOOLCHAIN=local GO111MODULE=on CGO_ENABLED=0 \
		"$GOROOT_100K/bin/go" build -o "$WORK/bench100k" .) || exit 1
	BENCH100K_STAY=1 GOMAXPROCS=2 "$WORK/bench100k" 100000 2>"$WORK/b.err" &
	BENCH_PID=$!
	for _ in $(seq 240); do grep -q parked "$WORK/b.err" 2>/dev/null && break; sleep 0.5; done
	grep -q parked "$WORK/b.err" || { echo "(part 3: the 100k program did not get ready: $(head -3 "$WORK/b.err"))"; }
	printf 'goroutines\ndetach\n' >"$WORK/att.cmds"
	stopped() { # time the program spends in tracing stop while CMD runs
		local n=0
		while kill -0 "$1" 2>/dev/null; do
			grep -q '^State:.*t (tracing stop)' /proc/$BENCH_PID/status 2>/dev/null && n=$((n + 1))
			sleep 0.01
		done
		echo "stopped ~$((n * 10)) ms"
	}
	"$TIME" -f '%e s %M' -o "$WORK/a.t" "$CORONER" attach "$BENCH_PID" --init "$WORK/att.cmds" </dev/null >"$WORK/a.out" 2>&1 &
	note=$(stopped $!); wait
	row "attach + goroutines + detach, 100k" coroner "$(secs "$WORK/a.t")" "$(rss "$WORK/a.t")" "$(grep -c '^  Goroutine' "$WORK/a.out") listed, $note"
	if have "$DLV"; then
		printf 'goroutines\nexit\n' >"$WORK/att-d.cmds"
		# Delve asks whether to kill on exit after attach: answer no (detach).
		"$TIME" -f '%e s %M' -o "$WORK/ad.t" "$DLV" attach --allow-non-terminal-interactive=true "$BENCH_PID" --init "$WORK/att-d.cmds" </dev/null >"$WORK/ad.out" 2>&1 &
		note=$(stopped $!); wait
		row "attach + goroutines + detach, 100k" delve "$(secs "$WORK/ad.t")" "$(rss "$WORK/ad.t")" "$(grep -c '^  Goroutine' "$WORK/ad.out") listed, $note"
	fi
	kill -9 "$BENCH_PID"; BENCH_PID=
else
	echo "(part 3 skipped: no Go toolchain at $GOROOT_100K)"
fi

# 4. Full speed with no breakpoint hit.
printf 'continue\nexit\n' >"$WORK/run.cmds"
"$TIME" -f '%e s %M' -o "$WORK/r0.t" "$WORK/live" loop 20000000 >/dev/null 2>&1
row "loop 20M, no breakpoint" bare "$(secs "$WORK/r0.t")" "$(rss "$WORK/r0.t")" -
"$TIME" -f '%e s %M' -o "$WORK/r1.t" "$CORONER" exec "$WORK/live" --init "$WORK/run.cmds" -- loop 20000000 </dev/null >/dev/null 2>&1
row "loop 20M, no breakpoint" coroner "$(secs "$WORK/r1.t")" "$(rss "$WORK/r1.t")" -
