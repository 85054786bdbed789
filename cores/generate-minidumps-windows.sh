#!/usr/bin/env bash
# Regenerates the Windows minidump fixtures under cores/windows/ (see "Windows
# minidumps" in cores/README.md): real MiniDumpWriteDump dumps of a running Go
# program, written under wine, with the runtime's own traceback of the dumped instant.
#
# For every build go1.NN-MODE: build cores/live for GOOS=windows, run `live.exe service`
# (GOTRACEBACK=all, GOMAXPROCS=2) under cores/windows-dumper/dumper.exe, which waits
# for the program's "ready" line, suspends every thread, writes a MiniDumpNormal and a
# MiniDumpWithFullMemory dump, then points one idle thread at runtime.abort and
# resumes only that thread: the runtime prints every goroutine of the frozen process
# (the oracle) and exits 2. Stores
#   windows/go1.NN-MODE/live.exe.zst      the binary
#   windows/go1.NN-MODE/normal.dmp.zst    MiniDumpNormal: thread stacks only
#   windows/go1.NN-MODE/full.dmp.zst      MiniDumpWithFullMemory (FULL_BUILDS only:
#                                         ~13 MB compressed, most of it wine's DLLs)
#   windows/go1.NN-MODE/abort.stderr      the runtime's traceback
#   windows/go1.NN-MODE/build.json        go version, mode, build command
#
# wine 8.0 lacks bcryptprimitives.dll, which Go 1.21+ loads at start (ProcessPrng):
# a shim over RtlGenRandom (cores/windows-dumper/bcryptprimitives.c) is put in the
# scratch prefix's system32.
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go)
#   BUILDS         builds (default: go1.19-opt go1.22-noopt go1.25-opt go1.27-opt
#                  go1.27-stripped)
#   FULL_BUILDS    builds that also keep their full dump (default: go1.27-opt)
#   WORKDIR        scratch directory (default /tmp/coroner-minidumps-windows); sources
#                  are built from $WORKDIR/src: keep the default, the committed
#                  binaries and tracebacks record /tmp/coroner-minidumps-windows/src
# Needs: wine (Debian wine64), x86_64-w64-mingw32-gcc (Debian mingw-w64), zstd.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
GO_TOOLCHAINS=${GO_TOOLCHAINS:-/opt/go}
BUILDS=${BUILDS:-"go1.19-opt go1.22-noopt go1.25-opt go1.27-opt go1.27-stripped"}
FULL_BUILDS=${FULL_BUILDS:-"go1.27-opt"}
WORKDIR=${WORKDIR:-/tmp/coroner-minidumps-windows}
SRC=$WORKDIR/src
OUT=$HERE/windows

for tool in zstd wine x86_64-w64-mingw32-gcc; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install wine64 mingw-w64 zstd)"
done

export WINEPREFIX=$WORKDIR/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WORKDIR"
log "== wine prefix and dumper"
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
	wineboot -i >"$WORKDIR/wineboot.log" 2>&1 || die "wineboot failed: see $WORKDIR/wineboot.log"
fi
x86_64-w64-mingw32-gcc -O2 -Wall -o "$WORKDIR/dumper.exe" "$HERE/windows-dumper/dumper.c" -ldbghelp
x86_64-w64-mingw32-gcc -O2 -Wall -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	"$HERE/windows-dumper/bcryptprimitives.c" -ladvapi32

rm -rf "$SRC"
mkdir -p "$SRC"
cp -r "$HERE/live/." "$SRC/"

# The Windows path of a Unix path (wine maps / to Z:).
winpath() { printf 'Z:%s' "${1//\//\\}"; }

dump_build() { # tag
	local tag=$1 ver mode goroot flags=() dir=$WORKDIR/run/$1 dest=$OUT/$1 abort rva attempt res
	ver=${tag%%-*}
	mode=${tag#*-}
	goroot=$GO_TOOLCHAINS/$ver
	[ -x "$goroot/bin/go" ] || die "no Go toolchain at $goroot"
	case $mode in
	opt) ;;
	noopt) flags=("-gcflags=all=-N -l") ;;
	stripped) flags=("-ldflags=-s -w") ;;
	*) die "unknown mode $mode" ;;
	esac
	rm -rf "$dir"
	mkdir -p "$dir"
	log "== $tag"
	# shellcheck disable=SC2046
	(cd "$SRC" && env $(go_env "$goroot") GOOS=windows GOARCH=amd64 \
		"$goroot/bin/go" build "${flags[@]}" -o "$dir/live.exe" .)
	# runtime.abort from the symbol table; stripped binaries have none, so take it
	# from the same build with symbols.
	local symbin=$dir/live.exe
	if [ "$mode" = stripped ]; then
		(cd "$SRC" && env $(go_env "$goroot") GOOS=windows GOARCH=amd64 \
			"$goroot/bin/go" build -o "$dir/live-syms.exe" .)
		symbin=$dir/live-syms.exe
	fi
	abort=$("$goroot/bin/go" tool nm "$symbin" | awk '$3=="runtime.abort.abi0"||$3=="runtime.abort"{print $1}' | head -n1)
	[ -n "$abort" ] || die "$tag: no runtime.abort in the symbol table"
	# RVA: the image base of Go's PE binaries is 0x400000 (0x140000000 for PIE).
	local imagebase
	imagebase=$(x86_64-w64-mingw32-objdump -p "$symbin" | awk '/^ImageBase/{print $2}')
	rva=$(printf '%x' $((0x$abort - 0x$imagebase)))
	for attempt in 1 2 3; do
		rm -f "$dir"/*.dmp "$dir/stderr.txt"
		set +e
		res=$(cd "$dir" && GOTRACEBACK=all GOMAXPROCS=2 timeout 300 \
			wine "$WORKDIR/dumper.exe" "$(winpath "$dir")" "$rva" live.exe service 2>"$dir/dumper.log")
		set -e
		res=${res//$'\r'/} # the dumper's stdout has CRLF line ends
		if [[ $res == *exit=2 ]] && grep -q '^Exception 0x80000003' "$dir/stderr.txt" &&
			grep -q '^main\.svcMutexWaiter' "$dir/stderr.txt"; then
			rm -rf "$dest"
			mkdir -p "$dest"
			zstd -19 -q -f "$dir/live.exe" -o "$dest/live.exe.zst"
			zstd -19 -q -f "$dir/normal.dmp" -o "$dest/normal.dmp.zst"
			case " $FULL_BUILDS " in
			*" $tag "*) zstd -19 --long=27 -T2 -q -f "$dir/full.dmp" -o "$dest/full.dmp.zst" ;;
			esac
			# wine writes the program's stderr with CRLF line ends only where the
			# program does: Go writes LF; keep it as it is.
			cp "$dir/stderr.txt" "$dest/abort.stderr"
			printf '{"go_version":"%s","mode":"%s","goos":"windows","build_cmd":"%s","dumper":"%s"}\n' \
				"${ver#go}" "$mode" "$(json_escape "GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build ${flags[*]} -o live.exe .")" \
				"$(json_escape "$res")" >"$dest/build.json"
			log "  $tag: $res, $(cd "$dest" && du -ch ./* | tail -n1 | cut -f1)"
			return 0
		fi
		log "  $tag: attempt $attempt failed ($res): $(tail -n2 "$dir/dumper.log" | tr '\n' ' ')"
	done
	return 1
}

failed=0
for tag in $BUILDS; do
	dump_build "$tag" || failed=1
done
rm -rf "$WORKDIR/run"
[ "$failed" = 0 ] || die "some builds failed"
log "done: $(du -sh "$OUT" | cut -f1) in $OUT"
