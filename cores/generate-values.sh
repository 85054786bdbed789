#!/usr/bin/env bash
# Regenerates the variables fixture corpus under cores/fixtures-values/ (see
# docs/variables.md). Same structure as generate.sh (owned separately).
#
# For every Go version and build mode: build cores/values, run each scenario
# with GOTRACEBACK=crash so the runtime prints its traceback and the kernel
# dumps core, then store binary, core, traceback and a JSON description. On Go
# 1.19 (the release Debian's Delve 1.20 reads) also record Delve's answers to
# the commands in values-delve-MODE.cmds as SCENARIO.delve.txt: the test
# tests/vars_delve.rs must reproduce them line for line.
#
# Commands files: one command per line; `@FUNC` in place of a frame number
# means "the frame of FUNC in that goroutine's stack" (Delve and coroner number
# signal frames differently, so the test resolves it in each tool), and `@@FUNC`
# in place of a goroutine id means "the goroutine whose stack contains FUNC".
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go)
#   VERSIONS       Go versions (default: 1.19 1.21 ... 1.27)
#   MODES          build modes (default: opt noopt; plus stripped for 1.27)
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-values)
#   DLV127         path to a Delve 1.27 binary: record only. Nothing is built or
#                  regenerated; for every committed fixture of DLV127_VERSIONS
#                  (default: every version of the corpus) in opt and noopt, the committed
#                  binary and core are decompressed and Delve 1.27's answers to
#                  values/delve127.cmds stored as values.delve127.{cmds,txt}
#                  (the format of record for tests/vars_delve.rs).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
full=0
# Recording Delve 1.27 transcripts (DLV127) never clears the corpus.
[ -z "${VERSIONS:-}${MODES:-}${DLV127:-}" ] && full=1
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.27"}
SCENARIOS="values"
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-values}
SRC=$WORKDIR/src
OUT=$HERE/fixtures-values
ATTEMPTS=3
DELVE_VERSION=1.19

for tool in zstd file timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

modes_for() { # version
	if [ -n "${MODES:-}" ]; then echo "$MODES"; return; fi
	if [ "$1" = 1.27 ]; then echo "opt noopt stripped"; else echo "opt noopt"; fi
}

expected_header() {
	case $1 in
	values) echo 'panic: values crash: boom total=6 id=77 outer=1001 err=outer: middle: code 7: inner' ;;
	*) die "unknown scenario $1" ;;
	esac
}

mode_flags() {
	case $1 in
	opt) echo '' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	stripped) echo '-ldflags=-s -w' ;;
	*) die "unknown mode $1" ;;
	esac
}

write_json() { # dir scenario version mode kind signal build_cmd
	printf '{"scenario":"%s","go_version":"%s","mode":"%s","core_kind":"%s","exit_signal":"%s","build_cmd":"%s"}\n' \
		"$2" "$3" "$4" "$5" "$6" "$(json_escape "$7")" >"$1/$2.json"
}

check_stderr() { # file scenario
	! grep -q 'returned without crashing' "$1" &&
		grep -qF -- "$(expected_header "$2")" "$1" &&
		grep -qE '^goroutine [0-9]+ .*\[.*\]:$' "$1"
}

rm -rf "$SRC"
[ "$full" = 1 ] && rm -rf "$OUT"
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/values/." "$SRC/"

# The goroutine id whose traceback section contains a frame of FUNC.
goroutine_of() { # stderr func
	# A generic function prints as FUNC[...](.
	awk -v f="$2" '/^goroutine [0-9]+ /{g=$2} (index($0, f "(")==1 || index($0, f "[")==1) && g!="" {print g; exit}' "$1"
}

# Run Delve on a core with the commands in $cmds (placeholders resolved),
# separating answers with a marker line; store SCENARIO.delve.txt.
# DLV (default dlv) is the Delve binary, DLV_FLAGS extra flags for it.
delve_transcript() { # bin core stderr cmds out
	local bin=$1 core=$2 stderr=$3 cmds=$4 out=$5 tmp line g f fr dlv=${DLV:-dlv}
	# shellcheck disable=SC2206
	local flags=(${DLV_FLAGS:-})
	command -v "$dlv" >/dev/null || { log "  $dlv not installed: no Delve transcript"; return 0; }
	# Delve 1.27 colours its stacks even when not on a terminal.
	local strip='s/\x1b\[[0-9;]*m//g'

	tmp=$(mktemp -d)
	# Pass 1: Delve's frame numbers for the functions named with @FUNC.
	: >"$tmp/stacks.cmds"
	while IFS= read -r line; do
		g=$(printf '%s\n' "$line" | sed -n 's/^goroutine @@\([^ ]*\) .*/\1/p')
		[ -n "$g" ] && printf 'goroutine %s stack 100\n' "$(goroutine_of "$stderr" "$g")" >>"$tmp/stacks.cmds"
		g=$(printf '%s\n' "$line" | sed -n 's/^goroutine \([0-9][0-9]*\) .*/\1/p')
		[ -n "$g" ] && printf 'goroutine %s stack 100\n' "$g" >>"$tmp/stacks.cmds"
	done <"$cmds"
	printf 'exit\n' | timeout 120 "$dlv" core "$bin" "$core" "${flags[@]}" --init "$tmp/stacks.cmds" \
		--allow-non-terminal-interactive=true 2>&1 | sed "$strip" >"$tmp/stacks.txt" || true
	# Pass 2: the commands, each preceded by a marker.
	: >"$tmp/run.cmds"
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		g=$(printf '%s\n' "$line" | sed -n 's/^goroutine @@\([^ ]*\) .*/\1/p')
		[ -n "$g" ] && line=$(printf '%s\n' "$line" | sed "s/^goroutine @@[^ ]*/goroutine $(goroutine_of "$stderr" "$g")/")
		f=$(printf '%s\n' "$line" | sed -n 's/.* frame @\([^ ]*\) .*/\1/p')
		if [ -n "$f" ]; then
			fr=$(grep -E "^ *[0-9]+  0x[0-9a-f]+ in $(printf '%s' "$f" | sed 's/[]*.[]/\\&/g')(\\[.*\\])?\$" "$tmp/stacks.txt" | head -n1 | awk '{print $1}')
			[ -n "$fr" ] || die "Delve shows no frame $f"
			line=$(printf '%s\n' "$line" | sed "s/ frame @[^ ]* / frame $fr /")
		fi
		printf 'print "----8<----"\n%s\n' "$line" >>"$tmp/run.cmds"
	done <"$cmds"
	printf 'exit\n' | timeout 300 "$dlv" core "$bin" "$core" "${flags[@]}" --init "$tmp/run.cmds" \
		--allow-non-terminal-interactive=true 2>&1 |
		grep -v ' error layer=' | sed "$strip" |
		sed '/^Type .help. for list of commands\.$/d; /^(dlv) *$/d; /^WARNING: undefined behavior - Go version .* is too old/d' >"$out" || true
	rm -rf "$tmp"
}

if [ -n "${DLV127:-}" ]; then
	[ -x "$DLV127" ] || die "DLV127=$DLV127 is not executable"
	for v in ${DLV127_VERSIONS:-1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.27}; do
		for mode in opt noopt; do
			tag=go$v-$mode
			dest=$OUT/$tag
			[ -f "$dest/values.core.zst" ] || { log "skipping $tag: no committed core"; continue; }
			tmpd=$WORKDIR/dlv127/$tag
			mkdir -p "$tmpd"
			zstd -dqf --long=27 "$dest/values.zst" -o "$tmpd/values"
			zstd -dqf --long=27 "$dest/values.core.zst" -o "$tmpd/core"
			cp "$HERE/values/delve127.cmds" "$dest/values.delve127.cmds"
			log "== $tag: Delve 1.27 transcript"
			DLV=$DLV127 DLV_FLAGS=--check-go-version=false delve_transcript "$tmpd/values" "$tmpd/core" \
				"$dest/values.stderr" "$dest/values.delve127.cmds" "$dest/values.delve127.txt"
			rm -rf "$tmpd"
		done
	done
	exit 0
fi

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot"
		failures=$((failures + 1))
		continue
	fi
	for mode in $(modes_for "$v"); do
		tag=go$v-$mode
		dest=$OUT/$tag
		bindir=$WORKDIR/bin/$tag
		rundir=$WORKDIR/run/$tag
		mkdir -p "$bindir"
		flags=$(mode_flags "$mode")
		build_cmd="CGO_ENABLED=0 go build${flags:+ $flags} -o values ."
		log "== $tag: $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot") "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/values" .)
		mkdir -p "$dest"
		zstd -19 --long=27 -q -f "$bindir/values" -o "$dest/values.zst"
		for s in $SCENARIOS; do
			rm -f "$dest/$s.core.zst" "$dest/$s.stderr" "$dest/$s.json" "$dest/$s.delve.txt" "$dest/$s.delve.cmds"
			if sig=$(run_scenario "$bindir/values" "$s" "$rundir/$s"); then
				cp "$rundir/$s/stderr" "$dest/$s.stderr"
				write_json "$dest" "$s" "$v" "$mode" kernel "$sig" "$build_cmd"
				if [ "$v" = "$DELVE_VERSION" ] && [ -f "$HERE/values/delve-$mode.cmds" ]; then
					cp "$HERE/values/delve-$mode.cmds" "$dest/$s.delve.cmds"
					delve_transcript "$bindir/values" "$rundir/$s/core" "$rundir/$s/stderr" \
						"$dest/$s.delve.cmds" "$dest/$s.delve.txt"
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
done

du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
