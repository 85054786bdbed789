#!/usr/bin/env bash
# Regenerates the live-process fixture binaries under cores/live-fixtures/
# (see "Live programs" in cores/README.md).
#
# For every Go version and build mode: copy cores/live to $WORKDIR/src (so
# every binary records the same file paths), build it, and store
#   live-fixtures/go1.NN-MODE/live.zst                  the binary
#   live-fixtures/go1.NN-MODE/build.json                go version, mode, build command
#   live-fixtures/go1.NN-MODE/service.sigquit.stderr    GOTRACEBACK=all + SIGQUIT of `live service`
# then, with DLV set, re-record every Delve transcript with cores/record-delve.sh
# (and with DLV120 set, Debian's Delve 1.20 ones on the go1.19 fixtures).
# Without DLV the committed transcripts are kept as they are: re-record them
# whenever cores/live changed.
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go)
#   VERSIONS       Go versions (default: 1.19 1.22 1.25 1.27)
#   MODES          build modes (default: opt noopt)
#   DLV            a Delve 1.27 binary: also record SESSION.delve.txt
#   DLV120         Debian's Delve 1.20 (/usr/bin/dlv): also record SESSION.delve120.txt
#   WORKDIR        scratch directory (default /tmp/coroner-fixtures-live);
#                  sources are built from $WORKDIR/src: keep the default,
#                  the committed binaries record /tmp/coroner-fixtures-live/src
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
full=0
[ -z "${VERSIONS:-}${MODES:-}" ] && full=1
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
VERSIONS=${VERSIONS:-"1.19 1.22 1.25 1.27"}
MODES=${MODES:-"opt noopt"}
WORKDIR=${WORKDIR:-/tmp/coroner-fixtures-live}
SRC=$WORKDIR/src
OUT=$HERE/live-fixtures

for tool in zstd timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

mode_flags() {
	case $1 in
	opt) echo '' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	*) die "unknown mode $1" ;;
	esac
}

# Run `live service` under GOTRACEBACK=all until it prints ready, SIGQUIT it,
# and keep its stderr: the runtime's list of every goroutine (the attach
# oracle). Checked: exit status 2 and the parked goroutines are all there.
sigquit_service() { # bin out
	local bin=$1 out=$2 dir=$WORKDIR/run/sigquit attempt pid rc
	for attempt in 1 2 3; do
		rm -rf "$dir"
		mkdir -p "$dir"
		env GOTRACEBACK=all GOMAXPROCS=2 "$bin" service >"$dir/stdout" 2>"$dir/stderr" &
		pid=$!
		for _ in $(seq 1 100); do
			grep -qs '^ready pid=' "$dir/stdout" && break
			sleep 0.1
		done
		kill -QUIT "$pid" 2>/dev/null || true
		set +e
		wait "$pid"
		rc=$?
		set -e
		if [ "$rc" = 2 ] && grep -q '^SIGQUIT: quit' "$dir/stderr" &&
			grep -q '^main\.svcMutexWaiter' "$dir/stderr" && grep -q '^main\.spinner' "$dir/stderr"; then
			cp "$dir/stderr" "$out"
			return 0
		fi
		log "  service sigquit: attempt $attempt failed (exit $rc)"
	done
	return 1
}

rm -rf "$SRC"
# A full run drops fixtures it no longer builds; everything, transcripts too,
# only when it records them again.
if [ "$full" = 1 ]; then
	if [ -n "${DLV:-}" ]; then
		rm -rf "$OUT"
	else
		for d in "$OUT"/go*-*; do
			[ -d "$d" ] || continue
			t=${d##*/go}
			case " $VERSIONS " in *" ${t%-*} "*) ;; *) rm -rf "$d"; continue ;; esac
			case " $MODES " in *" ${t#*-} "*) ;; *) rm -rf "$d" ;; esac
		done
	fi
fi
mkdir -p "$SRC" "$OUT"
cp -r "$HERE/live/." "$SRC/"
rm -rf "$SRC/sessions"

failures=0
for v in $VERSIONS; do
	goroot=$GO_TOOLCHAINS/go$v
	if [ ! -x "$goroot/bin/go" ]; then
		log "skipping Go $v: no toolchain at $goroot"
		failures=$((failures + 1))
		continue
	fi
	gover=$("$goroot/bin/go" env GOVERSION 2>/dev/null || "$goroot/bin/go" version | awk '{print $3}')
	for mode in $MODES; do
		tag=go$v-$mode
		dest=$OUT/$tag
		bindir=$WORKDIR/bin/$tag
		mkdir -p "$bindir" "$dest"
		flags=$(mode_flags "$mode")
		build_cmd="CGO_ENABLED=0 go build${flags:+ $flags} -o live ."
		log "== $tag ($gover): $build_cmd"
		# shellcheck disable=SC2046
		(cd "$SRC" && env $(go_env "$goroot") "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/live" .)
		zstd -19 --long=27 -q -f "$bindir/live" -o "$dest/live.zst"
		printf '{"go_version":"%s","go_full_version":"%s","mode":"%s","build_cmd":"%s","src_dir":"%s"}\n' \
			"$v" "$gover" "$mode" "$(json_escape "$build_cmd")" "$SRC" >"$dest/build.json"
		if sigquit_service "$bindir/live" "$dest/service.sigquit.stderr"; then
			log "  service sigquit: ok"
		else
			log "  service sigquit: FAILED, see $WORKDIR/run/sigquit"
			failures=$((failures + 1))
		fi
		log "  live.zst: $(stat -c %s "$dest/live.zst") bytes"
	done
done

if [ -n "${DLV:-}" ]; then
	VERSIONS=$VERSIONS MODES=$MODES WORKDIR=$WORKDIR "$HERE/record-delve.sh" "$DLV" ||
		failures=$((failures + 1))
fi
if [ -n "${DLV120:-}" ] && case " $VERSIONS " in *" 1.19 "*) true ;; *) false ;; esac; then
	NAME=delve120 VERSIONS=1.19 MODES=$MODES WORKDIR=$WORKDIR "$HERE/record-delve.sh" "$DLV120" ||
		failures=$((failures + 1))
fi
du -sh "$OUT" >&2
[ "$failures" -eq 0 ] || die "$failures failures"
