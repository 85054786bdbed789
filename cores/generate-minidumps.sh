#!/usr/bin/env bash
# Regenerates the Linux minidump fixtures under cores/minidumps/ (see "Minidumps" in
# cores/README.md) from the live-process fixture binaries (cores/live-fixtures/).
#
# For every build go1.NN-MODE: run `live service` (GOTRACEBACK=all, GOMAXPROCS=2, an
# empty environment: the dumps record it), wait for its goroutines to park, write
# minidumps of the running process with cores/minidump-gen (minidump-writer), then
# SIGQUIT it: the runtime prints every goroutine (the oracle). Goroutines parked in
# the program's code cannot move between the dumps and the SIGQUIT. Stores
#   minidumps/go1.NN-MODE/stacks.dmp.zst    thread stacks only (the writer's default)
#   minidumps/go1.NN-MODE/datasegs.dmp.zst  stacks + the executable's .data/.bss
#   minidumps/go1.NN-MODE/full.dmp.zst      every readable mapping (FULL_BUILDS only)
#   minidumps/go1.NN-MODE/service.stderr    the runtime's SIGQUIT traceback
# The binary is live-fixtures/go1.NN-MODE/live.zst (not copied).
#
# Environment (all optional):
#   BUILDS       builds to dump (default: every live-fixtures/go* directory)
#   FULL_BUILDS  builds that also get a full-memory dump
#                (default: go1.19-opt go1.22-noopt go1.25-opt go1.27-noopt)
#   WORKDIR      scratch directory (default /tmp/coroner-minidumps)
# Needs cargo (builds the generator), zstd, and ptrace rights over child processes.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
WORKDIR=${WORKDIR:-/tmp/coroner-minidumps}
FULL_BUILDS=${FULL_BUILDS:-"go1.19-opt go1.22-noopt go1.25-opt go1.27-noopt"}
OUT=$HERE/minidumps

for tool in zstd cargo; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

log "== building cores/minidump-gen"
CARGO_TARGET_DIR=$WORKDIR/target cargo build --release -q \
	--manifest-path "$HERE/minidump-gen/Cargo.toml"
GEN=$WORKDIR/target/release/minidump-gen

if [ -z "${BUILDS:-}" ]; then
	BUILDS=$(cd "$HERE/live-fixtures" && ls -d go*-* | tr '\n' ' ')
fi

dump_build() { # tag
	local tag=$1 dir=$WORKDIR/run/$1 dest=$OUT/$1 pid rc mode modes attempt
	modes="stacks datasegs"
	case " $FULL_BUILDS " in *" $tag "*) modes="$modes full" ;; esac
	for attempt in 1 2 3; do
		rm -rf "$dir"
		mkdir -p "$dir"
		zstd -d -q --long=27 "$HERE/live-fixtures/$tag/live.zst" -o "$dir/live"
		chmod +x "$dir/live"
		(cd "$dir" && exec env -i GOTRACEBACK=all GOMAXPROCS=2 ./live service >stdout 2>stderr) &
		pid=$!
		for _ in $(seq 1 100); do
			grep -qs '^ready pid=' "$dir/stdout" && break
			sleep 0.1
		done
		sleep 0.3
		local ok=1
		for mode in $modes; do
			"$GEN" "$pid" "$dir/$mode.dmp" "$mode" || ok=0
		done
		kill -QUIT "$pid" 2>/dev/null || true
		set +e
		wait "$pid"
		rc=$?
		set -e
		if [ "$ok" = 1 ] && [ "$rc" = 2 ] && grep -q '^SIGQUIT: quit' "$dir/stderr" &&
			grep -q '^main\.svcMutexWaiter' "$dir/stderr"; then
			rm -rf "$dest"
			mkdir -p "$dest"
			for mode in $modes; do
				zstd -19 -q -f "$dir/$mode.dmp" -o "$dest/$mode.dmp.zst"
			done
			cp "$dir/stderr" "$dest/service.stderr"
			log "  $tag: $(cd "$dest" && du -ch ./*.zst | tail -n1 | cut -f1) ($modes)"
			return 0
		fi
		log "  $tag: attempt $attempt failed (writer ok=$ok, exit $rc)"
	done
	return 1
}

failures=0
for tag in $BUILDS; do
	log "== $tag"
	dump_build "$tag" || failures=$((failures + 1))
done
log "total: $(du -sh "$OUT" | cut -f1) in $OUT"
[ "$failures" = 0 ] || die "$failures builds failed"
