#!/usr/bin/env bash
# Times Delve and coroner on the benchmark cores made by bench/gen-100k.sh and
# prints a side-by-side table (wall time and peak RSS from /usr/bin/time).
#
# Environment (optional):
#   CORONER      coroner binary (default target/release/coroner)
#   DLV          Delve binary (default dlv)
#   COMMANDS     newline-separated REPL commands, each timed on its own
#                (default "goroutines" and "goroutines -t 50")
#   KEEP_OUTPUT  1 keeps each run's full output in bench/out/go1.NN/
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
CORONER=${CORONER:-$ROOT/target/release/coroner}
DLV=${DLV:-dlv}
COMMANDS=${COMMANDS:-$'goroutines\ngoroutines -t 50'}
KEEP_OUTPUT=${KEEP_OUTPUT:-0}
TIME=/usr/bin/time

[ -x "$TIME" ] || { echo "run.sh: $TIME (GNU time) is required" >&2; exit 1; }
shopt -s nullglob
targets=("$OUT"/go*/)
[ ${#targets[@]} -gt 0 ] || { echo "run.sh: no cores in $OUT; run bench/gen-100k.sh first" >&2; exit 1; }

rows=()

# run TOOL LABEL DIR CMD ARGV...: times one tool on one command.
run() {
	local tool=$1 label=$2 dir=$3 cmd=$4
	shift 4
	local slug=${cmd// /_}
	local init=$dir/init-$slug.txt out=$dir/$tool-$slug.out err=$dir/$tool-$slug.err tm=$dir/$tool-$slug.time
	# The init file runs the command, then leaves the REPL.
	printf '%s\nexit\n' "$cmd" >"$init"
	"$TIME" -f '%e s %M KB' -o "$tm" "$@" --init "$init" </dev/null >"$out" 2>"$err"
	local rc=$?
	local wall rss lines status
	# GNU time prefixes "Command exited with non-zero status N" on failure.
	read -r wall _ rss _ < <(tail -n1 "$tm")
	[[ $rss =~ ^[0-9]+$ ]] || rss=0
	lines=$(wc -l <"$out")
	if [ "$rc" -eq 0 ]; then
		status=ok
	else
		status="failed (exit $rc)"
		echo "---- $tool '$cmd' on $label failed (exit $rc); stderr:" >&2
		head -n 20 "$err" >&2
	fi
	rows+=("$(printf '%-6s %-18s %-8s %10s %12s %10s  %s' "$label" "$cmd" "$tool" "${wall}s" "$((rss / 1024)) MB" "$lines" "$status")")
	[ "$KEEP_OUTPUT" = 1 ] || rm -f "$out"
}

for dir in "${targets[@]}"; do
	dir=${dir%/}
	label=$(basename "$dir")
	bin=$dir/bench100k
	core=$dir/core
	[ -f "$bin" ] && [ -f "$core" ] || { echo "run.sh: skipping $dir (no bench100k/core)" >&2; continue; }
	echo "== $label: core $(du -h "$core" | cut -f1)" >&2
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		echo "   $cmd: delve" >&2
		if command -v "$DLV" >/dev/null; then
			run delve "$label" "$dir" "$cmd" "$DLV" core "$bin" "$core" \
				--allow-non-terminal-interactive --check-go-version=false
		else
			rows+=("$(printf '%-6s %-18s %-8s %s' "$label" "$cmd" delve "not installed")")
		fi
		echo "   $cmd: coroner" >&2
		if [ -x "$CORONER" ]; then
			run coroner "$label" "$dir" "$cmd" "$CORONER" core "$bin" "$core"
		else
			echo "---- coroner: $CORONER not built (cargo build --release)" >&2
			rows+=("$(printf '%-6s %-18s %-8s %s' "$label" "$cmd" coroner "not built: $CORONER")")
		fi
	done <<<"$COMMANDS"
done

printf '\n%-6s %-18s %-8s %10s %12s %10s  %s\n' target command tool wall "peak RSS" "out lines" status
for r in "${rows[@]}"; do
	printf '%s\n' "$r"
done
