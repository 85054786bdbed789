#!/usr/bin/env bash
# Records Delve's reference transcripts for the live fixtures (see "Live
# programs" in cores/README.md). Builds nothing: pass the Delve binary.
#
#   cores/record-delve.sh DLV [SESSION...]
#
# For every committed live-fixtures/go1.NN-MODE (restrict with VERSIONS,
# MODES) and every session (default: every cores/live/sessions/*.cmds):
# decompress live.zst, resolve the session's placeholders and run
#   DLV exec live --init SESSION.cmds -- ARGS   (stdin /dev/null)
# storing the resolved script as SESSION.delve.cmds and Delve's output
# (stdout and stderr, the program's own output interleaved, ANSI colours
# removed) as SESSION.delve.txt.
#
# Environment (all optional):
#   VERSIONS, MODES  restrict the fixtures (default: all of generate-live.sh's)
#   NAME             output name: SESSION.NAME.txt / SESSION.NAME.cmds
#                    (default delve, the Delve 1.27 reference; e.g. NAME=delve120
#                    for Debian's Delve 1.20 on the go1.19 fixtures)
#   WORKDIR          scratch directory (default /tmp/coroner-fixtures-live)
#
# Session files: `# args: A B` gives the program's arguments (exec); `# attach:
# A B` instead starts `live A B` (GOMAXPROCS=2), waits for its ready line and
# runs DLV attach PID --init SESSION.cmds with "n" on stdin: end the script
# with `exit`, Delve asks whether to kill the process and detaches; other `#` lines
# are comments; `{{NAME}}` is replaced by FILE.go:LINE of the line marked
# `// LINE: NAME` in cores/live/*.go.
#
# The sources are copied to $WORKDIR/src first (the path recorded in the
# binaries, so Delve lists them): they must be the sources the committed
# binaries were built from. Delve runs in the binary's directory, so it prints
# source paths in full.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
[ $# -ge 1 ] || die "usage: $0 DLV [SESSION...]"
DLV=$1
shift
[ -x "$DLV" ] || die "$DLV is not executable"
VERSIONS=${VERSIONS:-"1.19 1.22 1.25 1.27"}
MODES=${MODES:-"opt noopt"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-live}
SRC=$WORKDIR/src
OUT=$HERE/live-fixtures
NAME=${NAME:-delve}
SESSIONS=${*:-$(cd "$HERE/live/sessions" && ls -- *.cmds | sed 's/\.cmds$//')}

rm -rf "$SRC"
mkdir -p "$SRC" "$WORKDIR/sessions"
cp -r "$HERE/live/." "$SRC/"
rm -rf "$SRC/sessions"
# Older than any binary, or Delve warns "listing may not match stale executable".
find "$SRC" -exec touch -h -d 2000-01-01T00:00:00Z {} +

marker() { # name -> FILE.go:LINE
	local hits
	hits=$(cd "$HERE/live" && grep -n -- "// LINE: $1\$" ./*.go | sed 's|^\./||' | cut -d: -f1,2)
	[ "$(printf '%s\n' "$hits" | grep -c .)" = 1 ] || die "marker $1: '${hits}'"
	printf '%s\n' "$hits"
}

resolve() { # session.cmds out.cmds
	local line name
	: >"$2"
	while IFS= read -r line; do
		case $line in '#'* | '') continue ;; esac
		while [[ $line =~ \{\{([A-Za-z0-9_-]+)\}\} ]]; do
			name=${BASH_REMATCH[1]}
			line=${line//"{{$name}}"/$(marker "$name")}
		done
		printf '%s\n' "$line" >>"$2"
	done <"$1"
}

strip='s/\x1b\[[0-9;]*m//g'
for v in $VERSIONS; do
	for mode in $MODES; do
		tag=go$v-$mode
		dest=$OUT/$tag
		[ -f "$dest/live.zst" ] || { log "skipping $tag: no live.zst"; continue; }
		bin=$WORKDIR/bin/$tag/live
		mkdir -p "$(dirname "$bin")"
		zstd -dqf --long=27 "$dest/live.zst" -o "$bin"
		for s in $SESSIONS; do
			cmds=$HERE/live/sessions/$s.cmds
			[ -f "$cmds" ] || die "no session $cmds"
			attach=$(sed -n 's/^# attach: //p' "$cmds")
			# shellcheck disable=SC2207
			args=($(sed -n 's/^# \(args\|attach\): //p' "$cmds"))
			script=$WORKDIR/sessions/$s.cmds
			resolve "$cmds" "$script"
			cp "$script" "$dest/$s.$NAME.cmds"
			log "== $tag: $s (${attach:+attach }${args[*]}) -> $s.$NAME.txt"
			if [ -z "$attach" ]; then
				(cd "$(dirname "$bin")" && timeout -s KILL 300 "$DLV" exec "$bin" --init "$script" \
					--allow-non-terminal-interactive=true --check-go-version=false -- "${args[@]}" \
					</dev/null 2>&1) | sed "$strip" | sed '/^Type .help. for list of commands\.$/d' \
					>"$dest/$s.$NAME.txt" || log "  $s: Delve exited with an error"
				continue
			fi
			# Attach: start the program, wait for ready, attach; the script
			# ends with `exit`, answered "n" (detach, leave it running). Then
			# the program must still be alive; it is killed.
			out=$WORKDIR/run/$tag-$s.out
			mkdir -p "$(dirname "$out")"
			env GOMAXPROCS=2 "$bin" "${args[@]}" >"$out" 2>&1 &
			pid=$!
			for _ in $(seq 1 100); do
				grep -qs '^ready pid=' "$out" && break
				sleep 0.1
			done
			(cd "$(dirname "$bin")" && timeout -s KILL 300 "$DLV" attach "$pid" --init "$script" \
				--allow-non-terminal-interactive=true --check-go-version=false \
				< <(printf 'n\n') 2>&1) | sed "$strip" | sed '/^Type .help. for list of commands\.$/d' \
				>"$dest/$s.$NAME.txt" || log "  $s: Delve exited with an error"
			sleep 0.2
			kill -0 "$pid" 2>/dev/null || log "  $s: the program did not survive the detach"
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		done
	done
done
