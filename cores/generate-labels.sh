#!/usr/bin/env bash
# Regenerates the goroutine-labels fixtures under cores/fixtures-labels/ (see
# cores/README.md, "Labels"). For every Go version and build mode: build
# cores/labels (module example.com/labels), run `labels labels` with
# GOTRACEBACK=crash GOMAXPROCS=2 (handlers parked under pprof.Do, then main
# panics inside pprof.Do), store binary, core, traceback and a JSON
# description, zstd-compressed. With DLV (a Delve 1.27 binary) also record
# Delve's answers to labels/delve.cmds on each opt and noopt core as
# labels.delve127.{cmds,txt} (stripped binaries: Delve finds no labelMap type
# without DWARF and prints no labels, so nothing is recorded for them).
#
# delve.cmds: one command per line; `goroutine @@FUNC` means "the goroutine
# whose traceback section contains a frame of FUNC" (ids depend on which P
# started a goroutine, so they are resolved from the run's own traceback).
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); the
#                  first argument overrides it
#   VERSIONS       Go versions (default: 1.19 1.22 1.25 1.27)
#   MODES          build modes (default: opt noopt stripped)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-labels)
#   DLV            Delve 1.27 binary (e.g. /opt/dlv-1.27/dlv); without it the
#                  committed transcripts are kept as they are
#   RECORD_ONLY=1  build and run nothing: record Delve's transcripts for the
#                  committed cores only (needs DLV)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.22 1.25 1.27"}
MODES=${MODES:-"opt noopt stripped"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-labels}
SRC=$WORKDIR/src
OUT=$HERE/fixtures-labels
ATTEMPTS=3
S=labels

for tool in zstd file timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

mode_flags() {
	case $1 in
	opt) echo '' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	stripped) echo '-ldflags=-s -w' ;;
	*) die "unknown mode $1" ;;
	esac
}

write_json() { # dir version mode signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","core_kind":"kernel","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$S" "$2" "$3" "$4" "$(json_escape "$5")" >"$1/$S.json"
}

# Valid oracle: the panic, every labelled function parked, at least one stack.
check_stderr() { # file scenario
	local f
	! grep -q 'returned without crashing' "$1" || return 1
	grep -qF 'panic: labels crash: shutdown with handlers parked' "$1" || return 1
	for f in serve inherit batchWorker manyLabels quoted emptyValue unlabelled; do
		grep -q "^main\.$f(" "$1" || return 1
	done
	[ "$(grep -c '^main\.serve(' "$1")" -ge 3 ]
}

# The goroutine id whose traceback section contains a frame of FUNC.
goroutine_of() { # stderr func
	awk -v f="$2" '/^goroutine [0-9]+ /{g=$2} index($0, f "(")==1 && g!="" {print g; exit}' "$1"
}

# Delve's answers to labels/delve.cmds on one core, each after a marker line.
record_delve() { # bin core stderr dest
	local bin=$1 core=$2 stderr=$3 dest=$4 line f g tmp
	tmp=$(mktemp -d)
	: >"$dest/$S.delve127.cmds"
	: >"$tmp/run.cmds"
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		f=$(printf '%s\n' "$line" | sed -n 's/^goroutine @@\([^ ]*\).*/\1/p')
		if [ -n "$f" ]; then
			g=$(goroutine_of "$stderr" "$f")
			[ -n "$g" ] || die "no goroutine runs $f in $stderr"
			line="goroutine $g"
		fi
		printf '%s\n' "$line" >>"$dest/$S.delve127.cmds"
		printf 'print "----8<----"\n%s\n' "$line" >>"$tmp/run.cmds"
	done <"$HERE/labels/delve.cmds"
	# Run from an empty directory so Delve prints full paths.
	(cd "$tmp" && printf 'exit\n' | timeout 300 "$DLV" core "$bin" "$core" --check-go-version=false \
		--init "$tmp/run.cmds" --allow-non-terminal-interactive=true 2>&1) |
		grep -v ' error layer=' | sed 's/\x1b\[[0-9;]*m//g' |
		sed '/^Type .help. for list of commands\.$/d; /^(dlv) *$/d; /^WARNING: undefined behavior - Go version .* is too old/d' \
			>"$dest/$S.delve127.txt" || true
	rm -rf "$tmp"
}

if [ "${RECORD_ONLY:-0}" = 1 ]; then
	[ -x "${DLV:-}" ] || die "RECORD_ONLY needs DLV=<Delve 1.27 binary>"
	for v in $VERSIONS; do
		for mode in $MODES; do
			[ "$mode" = stripped ] && continue
			dest=$OUT/go$v-$mode
			[ -f "$dest/$S.core.zst" ] || { log "skipping go$v-$mode: no committed core"; continue; }
			tmpd=$WORKDIR/record/go$v-$mode
			mkdir -p "$tmpd"
			zstd -dqf --long=27 "$dest/$S.zst" -o "$tmpd/$S"
			zstd -dqf --long=27 "$dest/$S.core.zst" -o "$tmpd/core"
			log "== go$v-$mode: Delve transcript"
			record_delve "$tmpd/$S" "$tmpd/core" "$dest/$S.stderr" "$dest"
			rm -rf "$tmpd"
		done
	done
	exit 0
fi

rm -rf "$SRC"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/labels/." "$SRC/"
rm -f "$SRC/delve.cmds"

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot"
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
		build_cmd="CGO_ENABLED=0 go build${flags:+ $flags} -o $S ."
		log "== $tag: $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot") "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/$S" .)
		zstd -19 --long=27 -q -f "$bindir/$S" -o "$dest/$S.zst"
		rm -f "$dest/$S.core.zst" "$dest/$S.stderr" "$dest/$S.json"
		if sig=$(run_scenario "$bindir/$S" "$S" "$rundir"); then
			cp "$rundir/stderr" "$dest/$S.stderr"
			write_json "$dest" "$v" "$mode" "$sig" "$build_cmd"
			if [ -n "${DLV:-}" ] && [ "$mode" != stripped ]; then
				record_delve "$bindir/$S" "$rundir/core" "$rundir/stderr" "$dest"
			fi
			zstd -19 --long=27 -q -f "$rundir/core" -o "$dest/$S.core.zst"
			rm -f "$rundir/core"
			log "  $S: ok ($sig, $(stat -c %s "$dest/$S.core.zst") bytes compressed)"
		else
			log "  $S: FAILED, see $rundir"
			failures=$((failures + 1))
		fi
	done
done

du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
