#!/usr/bin/env bash
# Replay benchmark (issue: record and replay): `goroutines -t` on an rr recording of
# `live many N` (N goroutines parked on one channel), coroner beside Delve on the same
# trace in one run: wall time, peak RSS, and GDB-protocol packets sent. Nothing here is
# a pass/fail threshold.
#
# Environment (optional):
#   CORONER  coroner binary (default target/release/coroner)
#   DLV      Delve (default /opt/dlv-1.27/dlv if present, else dlv)
#   N        goroutines (default 10000)
#   RR_FLAGS extra rr flags for record and replay (`-W` for rr.soft on machines
#            without performance counters; passed as CORONER_RR_*_FLAGS and
#            DELVE_RR_*_FLAGS)
#   BUILD    live fixture build (default cores/live-fixtures/go1.19-noopt, which
#            Debian's Delve 1.20 also reads)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORONER=${CORONER:-$ROOT/target/release/coroner}
if [ -z "${DLV:-}" ]; then
	if [ -x /opt/dlv-1.27/dlv ]; then DLV=/opt/dlv-1.27/dlv; else DLV=dlv; fi
fi
N=${N:-10000}
RR_FLAGS=${RR_FLAGS:-}
BUILD=${BUILD:-$ROOT/cores/live-fixtures/go1.19-noopt}
TIME=/usr/bin/time
WORK=$(mktemp -d)
RR_PID=
trap 'rm -rf "$WORK"; [ -n "$RR_PID" ] && kill -9 "$RR_PID" 2>/dev/null' EXIT

[ -x "$CORONER" ] || { echo "replay-run.sh: no coroner at $CORONER (cargo build --release)" >&2; exit 1; }
command -v rr >/dev/null || { echo "replay-run.sh: rr is not on PATH" >&2; exit 1; }
zstd -q -d -c "$BUILD/live.zst" >"$WORK/live" && chmod +x "$WORK/live"

# Record until the program says it is ready, then end the recording (rr finishes the
# trace on SIGTERM).
# shellcheck disable=SC2086
rr record $RR_FLAGS -o "$WORK/trace" "$WORK/live" many "$N" >"$WORK/rec.out" 2>&1 &
RR_PID=$!
for _ in $(seq 1 120); do grep -q '^ready' "$WORK/rec.out" && break; sleep 0.5; done
grep -q '^ready' "$WORK/rec.out" || { echo "replay-run.sh: the recording never got ready:" >&2; cat "$WORK/rec.out" >&2; exit 1; }
sleep 0.5
kill -TERM "$RR_PID"; wait "$RR_PID" 2>/dev/null; RR_PID=

printf 'break main.ready\ncontinue\nstepout\ngoroutines -t\nexit\n' >"$WORK/cmds"
export CORONER_RR_REPLAY_FLAGS=$RR_FLAGS DELVE_RR_REPLAY_FLAGS=$RR_FLAGS

run() { # NAME LOG CMD...: prints "NAME  seconds  peak-KB  packets  goroutines"
	local name=$1 log=$2; shift 2
	if ! timeout 300 "$TIME" -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null; then
		printf '%-8s failed: %s\n' "$name" "$(grep -v '^ *$' "$WORK/$name.err" | tail -n 1)"
		return
	fi
	read -r secs kb <"$WORK/$name.time"
	local packets; packets=$(grep -c -- ' -> ' "$log" 2>/dev/null || echo '?')
	printf '%-8s %8s s %8s KB %8s packets %7s goroutines listed\n' "$name" "$secs" "$kb" "$packets" \
		"$(grep -c '^[ *] Goroutine ' "$WORK/$name.out")"
}

echo "goroutines -t on a replay of live many $N (rr ${RR_FLAGS:-without flags})"
run coroner "$WORK/coroner.wire" "$CORONER" replay "$WORK/trace" --init "$WORK/cmds" \
	--log --log-output=gdbwire --log-dest="$WORK/coroner.wire"
run delve "$WORK/delve.wire" env TERM=dumb "$DLV" replay "$WORK/trace" --init "$WORK/cmds" \
	--allow-non-terminal-interactive=true --log --log-output=gdbwire --log-dest="$WORK/delve.wire"
