#!/usr/bin/env bash
# Big binaries (issue #11 part 5): generates Go programs of N packages
# (bench/bigbin-gen.py), builds them, crashes each to get a core, and prints
# coroner and Delve side by side on the same pair: open + `bt` + `goroutines` (the
# target: at least 10x faster than Delve, at most 1/3 of its peak RSS, and growing
# less than linearly from 300 to 1,000 packages), then the first `print` of a
# package variable and the first `types` lookup, which pay for the DWARF index.
#
#   bench/bigbin-run.sh [N...]          (default: 300 1000)
#
# Environment:
#   GOROOT_BENCH  a Go toolchain (GOROOT) to build with (default: go on PATH's)
#   CORONER       coroner binary (default target/release/coroner)
#   DLV           Delve binary (default dlv); Delve 1.27 for Go 1.25+ binaries
#   RUNS          runs per measurement, the best kept (default 5)
#   WORKDIR       where programs, binaries and cores go (default bench/out/bigbin)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORONER=${CORONER:-$ROOT/target/release/coroner}
DLV=${DLV:-dlv}
RUNS=${RUNS:-5}
WORKDIR=${WORKDIR:-$HERE/out/bigbin}
TIME=/usr/bin/time
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(300 1000)
[ -x "$TIME" ] || { echo "bigbin-run.sh: $TIME (GNU time) is required" >&2; exit 1; }
[ -x "$CORONER" ] || { echo "bigbin-run.sh: build coroner first (cargo build --release)" >&2; exit 1; }
GO=go
if [ -n "${GOROOT_BENCH:-}" ]; then
	export GOROOT=$GOROOT_BENCH
	GO=$GOROOT_BENCH/bin/go
fi
command -v "$GO" >/dev/null || { echo "bigbin-run.sh: no Go toolchain (set GOROOT_BENCH)" >&2; exit 1; }

# best TOOL ARGV...: the fastest of RUNS runs as "SECONDS KB". Wall time from the
# nanosecond clock (GNU time's is 10 ms, coarser than coroner's open), peak RSS from
# GNU time.
best() {
	local b_t= b_m= t m i t0 t1
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$TIME" -f '%M' -o "$WORKDIR/time" "$@" </dev/null >"$WORKDIR/out" 2>&1
		t1=$(date +%s%N)
		read -r m <"$WORKDIR/time"
		t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')
		if [ -z "$b_t" ] || awk -v a="$t" -v b="$b_t" 'BEGIN{exit !(a < b)}'; then
			b_t=$t b_m=$m
		fi
	done
	echo "$b_t $b_m"
}

rows=()
declare -A C_T
for n in "${SIZES[@]}"; do
	dir=$WORKDIR/p$n
	if [ ! -f "$dir/core" ] || [ ! -x "$dir/bigbin" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		echo "== $n packages: generating and building" >&2
		python3 "$HERE/bigbin-gen.py" "$n" "$dir/src" || exit 1
		(cd "$dir/src" && env GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
			GOCACHE="$WORKDIR/gocache" "$GO" build -o ../bigbin .) || exit 1
		(
			cd "$dir" || exit 1
			ulimit -c unlimited
			GOTRACEBACK=crash GOMAXPROCS=2 ./bigbin crash >/dev/null 2>traceback.txt
		)
		c=$(find "$dir" -maxdepth 1 \( -name core -o -name 'core.[0-9]*' \) | head -n1)
		[ -n "$c" ] || { echo "no core written (core_pattern: $(cat /proc/sys/kernel/core_pattern))" >&2; exit 1; }
		[ "$c" = "$dir/core" ] || mv "$c" "$dir/core"
	fi
	bin=$dir/bigbin core=$dir/core
	printf 'bt\ngoroutines\nexit\n' >"$dir/open.cmds"
	printf 'print "example.com/bigbin/p0001".Counter1\nexit\n' >"$dir/print.cmds"
	printf 'types p0002.T1$\nexit\n' >"$dir/types.cmds"
	label="$n pkgs, $(du -m "$bin" | cut -f1) MB bin, $(du -m "$core" | cut -f1) MB core"
	for what in open print types; do
		read -r ct cm < <(best "$CORONER" core "$bin" "$core" --init "$dir/$what.cmds")
		if command -v "$DLV" >/dev/null; then
			read -r dt dm < <(best "$DLV" core "$bin" "$core" --init "$dir/$what.cmds" \
				--allow-non-terminal-interactive=true --check-go-version=false)
		else
			dt=- dm=0
		fi
		[ "$what" = open ] && C_T[$n]=$ct
		ratio=$(awk -v c="$ct" -v d="$dt" 'BEGIN{ if (d == "-" || c == 0) print "-"; else printf "%.1fx", d / c }')
		rss=$(awk -v c="$cm" -v d="$dm" 'BEGIN{ if (d == 0) print "-"; else printf "%.0f%%", 100 * c / d }')
		rows+=("$(printf '%-36s %-7s %8ss %7s MB   %8ss %7s MB   %7s %6s' "$label" "$what" "$ct" "$((cm / 1024))" "$dt" "$((dm / 1024))" "$ratio" "$rss")")
	done
done

printf '\n%-36s %-7s %9s %10s   %9s %10s   %7s %6s\n' "input" "command" "coroner" "RSS" "Delve" "RSS" "speedup" "RSS %"
printf '%s\n' "${rows[@]}"
if [ ${#SIZES[@]} -ge 2 ]; then
	a=${SIZES[0]} b=${SIZES[-1]}
	awk -v a="$a" -v b="$b" -v ta="${C_T[$a]}" -v tb="${C_T[$b]}" 'BEGIN {
		printf "\ncoroner open+bt+goroutines: %.2fx the time for %.1fx the packages\n", tb / ta, b / a }'
fi
