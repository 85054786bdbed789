#!/usr/bin/env bash
# Records Delve 1.27's `args` and `locals` of every frame of every goroutine of
# every committed fixture core that has DWARF (issue #11 part 3; checked by
# tests/frames_delve.rs). Builds nothing: pass the Delve binary.
#
#   cores/record-frames-delve.sh DLV [DIR...]
#
# DIR defaults to every cores/fixtures*/go1.NN-MODE that is not stripped. For each
# SCENARIO.core.zst there, three Delve runs on the decompressed pair:
#   1. `goroutines`: the goroutine ids;
#   2. `goroutine N stack DEPTH -offsets` for each (at most MAX_GOROUTINES, in
#      Delve's order): the frames, with their CFA as an offset from the stack's
#      top, so that the test can pair them with coroner's frames;
#   3. for each goroutine N and frame K: `goroutine N frame K args` and
#      `goroutine N frame K locals`, each answer preceded by a marker line.
# It stores the commands of runs 2 and 3 as delve-frames/FIXTURES/go1.NN-MODE/
# SCENARIO.cmds and Delve's answers (ANSI colours removed) beside them as
# SCENARIO.txt.zst (a tree of its own: the fixture directories hold one binary
# and its cores, which the tests find by name).
#
# Environment (all optional):
#   DEPTH           frames per goroutine (default 50, as `bt`'s default)
#   MAX_GOROUTINES  goroutines per core (default 100: the leak scenarios hold
#                   thousands of identical ones)
#   DLV_FLAGS       extra flags for Delve (default --check-go-version=false: Delve
#                   1.27 refuses Go < 1.25 without it)
#
# Delve 1.27 must be built with Go 1.25 or later to read DWARF 5 (Go 1.25+
# binaries): an older build misreads them (it says so on its first line, and
# this script stops).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
[ $# -ge 1 ] || die "usage: $0 DLV [DIR...]"
DLV=$1
shift
[ -x "$DLV" ] || die "$DLV is not executable"
DEPTH=${DEPTH:-50}
MAX_GOROUTINES=${MAX_GOROUTINES:-100}
# shellcheck disable=SC2206
FLAGS=(${DLV_FLAGS:---check-go-version=false})
STRIP='s/\x1b\[[0-9;]*m//g'
MARK='"----8<----"'

if [ $# -gt 0 ]; then
	DIRS=("$@")
else
	mapfile -t DIRS < <(find "$HERE" -mindepth 2 -maxdepth 2 -type d -path "$HERE/fixtures*/go1.*" ! -name '*stripped*' | sort)
fi

dlv_run() { # bin core cmds -> stdout
	printf 'exit\n' | timeout 600 "$DLV" core "$1" "$2" "${FLAGS[@]}" --init "$3" \
		--allow-non-terminal-interactive=true 2>&1 | sed "$STRIP" |
		sed '/^Type .help. for list of commands\.$/d; /^(dlv) *$/d; /^WARNING: undefined behavior - Go version .* is too old/d'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for dir in "${DIRS[@]}"; do
	bin=
	for f in "$dir"/*.zst; do
		case $f in *.core.zst | *.stderr.zst) ;; *) bin=$f ;; esac
	done
	[ -n "$bin" ] || { log "skipping $dir: no binary"; continue; }
	dir=$(cd "$dir" && pwd)
	out=$HERE/delve-frames/${dir#"$HERE"/}
	mkdir -p "$out"
	zstd -dqf --long=27 "$bin" -o "$tmp/bin"
	for corez in "$dir"/*.core.zst; do
		scen=$(basename "$corez" .core.zst)
		log "== ${dir#"$HERE"/} $scen"
		zstd -dqf --long=27 "$corez" -o "$tmp/core"
		printf 'goroutines\n' >"$tmp/p1.cmds"
		dlv_run "$tmp/bin" "$tmp/core" "$tmp/p1.cmds" >"$tmp/p1.txt"
		if grep -q 'must be built with Go version' "$tmp/p1.txt"; then
			die "$DLV cannot read DWARF 5: build it with Go 1.25 or later"
		fi
		mapfile -t gids < <(sed -n 's/^[ *] Goroutine \([0-9][0-9]*\) .*/\1/p' "$tmp/p1.txt" | head -n "$MAX_GOROUTINES")
		[ "${#gids[@]}" -gt 0 ] || { log "  Delve lists no goroutine:"; head -5 "$tmp/p1.txt" >&2; continue; }
		: >"$tmp/p2.cmds"
		for g in "${gids[@]}"; do
			printf 'print %s\ngoroutine %s stack %s -offsets\n' "$MARK" "$g" "$DEPTH" >>"$tmp/p2.cmds"
		done
		dlv_run "$tmp/bin" "$tmp/core" "$tmp/p2.cmds" >"$tmp/p2.txt"
		# The frames of each goroutine: "  K  0xPC in FUNC" lines after its marker.
		out_cmds=$out/$scen.cmds
		: >"$out_cmds"
		: >"$tmp/p3.cmds"
		awk -v mark="$MARK" -v gids="${gids[*]}" '
			BEGIN { n = split(gids, G, " "); i = 0 }
			$0 == mark { i++; next }
			i > 0 && $0 ~ /^ *[0-9]+  0x[0-9a-f]+ in / { print G[i], $1 }
		' "$tmp/p2.txt" >"$tmp/frames"
		for g in "${gids[@]}"; do
			printf 'goroutine %s stack %s -offsets\n' "$g" "$DEPTH" >>"$out_cmds"
			while read -r fg k; do
				[ "$fg" = "$g" ] || continue
				printf 'goroutine %s frame %s args\ngoroutine %s frame %s locals\n' "$g" "$k" "$g" "$k" >>"$out_cmds"
			done <"$tmp/frames"
		done
		while IFS= read -r line; do
			printf 'print %s\n%s\n' "$MARK" "$line" >>"$tmp/p3.cmds"
		done <"$out_cmds"
		dlv_run "$tmp/bin" "$tmp/core" "$tmp/p3.cmds" | grep -v ' error layer=' >"$tmp/p3.txt" || true
		zstd -qf -19 "$tmp/p3.txt" -o "$out/$scen.txt.zst"
		log "  ${#gids[@]} goroutines, $(grep -c . "$tmp/frames") frames"
	done
done
