#!/usr/bin/env bash
# Regenerates cores/windows-syscall/ (see "Windows minidumps" in cores/README.md): a
# Windows minidump of cores/winsyscall, a Go program with a goroutine blocked in a
# Windows system call (ReadFile on a pipe), written under wine by
# cores/windows-dumper/dumper.exe as for cores/windows/, with the runtime's traceback of
# the dumped instant (runtime.abort on a frozen thread).
#
# Stores cores/windows-syscall/go1.27-stripped/:
#   winsyscall.exe.zst   the binary (-ldflags=-s -w: pclntab only)
#   private.dmp.zst      the MiniDumpWithFullMemory dump less the DLLs' images
#                        (cores/windows-dumper/trim_dlls.py: every other range is kept
#                        byte for byte; wine ignores MiniDumpWithPrivateReadWriteMemory,
#                        which would leave them out itself); ~2 MB instead of ~12 MB
#   abort.stderr         the runtime's traceback
#   build.json           version, mode, build command, what the dumper printed
#
# Environment (all optional): GO_TOOLCHAINS (default /opt/go), WORKDIR (default
# /tmp/coroner-windows-syscall; keep it: the binary and traceback record its src/).
# Needs: wine (Debian wine64), x86_64-w64-mingw32-gcc (Debian mingw-w64), zstd, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
GO_TOOLCHAINS=${GO_TOOLCHAINS:-/opt/go}
WORKDIR=${WORKDIR:-/tmp/coroner-windows-syscall}
SRC=$WORKDIR/src
VER=go1.27
MODE=stripped
DEST=$HERE/windows-syscall/$VER-$MODE

for tool in zstd wine x86_64-w64-mingw32-gcc python3; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install wine64 mingw-w64 zstd python3)"
done
goroot=$GO_TOOLCHAINS/$VER
[ -x "$goroot/bin/go" ] || die "no Go toolchain at $goroot"

export WINEPREFIX=$WORKDIR/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WORKDIR"
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
	wineboot -i >"$WORKDIR/wineboot.log" 2>&1 || die "wineboot failed: see $WORKDIR/wineboot.log"
fi
x86_64-w64-mingw32-gcc -O2 -Wall -o "$WORKDIR/dumper.exe" "$HERE/windows-dumper/dumper.c" -ldbghelp
x86_64-w64-mingw32-gcc -O2 -Wall -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	"$HERE/windows-dumper/bcryptprimitives.c" -ladvapi32

rm -rf "$SRC"
mkdir -p "$SRC"
cp -r "$HERE/winsyscall/." "$SRC/"
dir=$WORKDIR/run
rm -rf "$dir"
mkdir -p "$dir"
# shellcheck disable=SC2046
(cd "$SRC" && env $(go_env "$goroot") GOOS=windows GOARCH=amd64 \
	"$goroot/bin/go" build -ldflags=-s\ -w -o "$dir/winsyscall.exe" . &&
	env $(go_env "$goroot") GOOS=windows GOARCH=amd64 "$goroot/bin/go" build -o "$dir/syms.exe" .)
abort=$("$goroot/bin/go" tool nm "$dir/syms.exe" | awk '$3=="runtime.abort.abi0"||$3=="runtime.abort"{print $1}' | head -n1)
[ -n "$abort" ] || die "no runtime.abort in the symbol table"
imagebase=$(x86_64-w64-mingw32-objdump -p "$dir/syms.exe" | awk '/^ImageBase/{print $2}')
rva=$(printf '%x' $((0x$abort - 0x$imagebase)))
winpath() { printf 'Z:%s' "${1//\//\\}"; }
for attempt in 1 2 3; do
	rm -f "$dir"/*.dmp "$dir/stderr.txt"
	set +e
	res=$(cd "$dir" && GOTRACEBACK=all GOMAXPROCS=2 timeout 300 \
		wine "$WORKDIR/dumper.exe" "$(winpath "$dir")" "$rva" winsyscall.exe 2>"$dir/dumper.log")
	set -e
	res=${res//$'\r'/}
	if [[ $res == *exit=2 ]] && grep -q '^Exception 0x80000003' "$dir/stderr.txt" &&
		grep -q '^main\.pipeReader' "$dir/stderr.txt" && grep -q '\[syscall\]' "$dir/stderr.txt"; then
		rm -rf "$DEST"
		mkdir -p "$DEST"
		python3 "$HERE/windows-dumper/trim_dlls.py" "$dir/full.dmp" "$dir/private.dmp" >&2
		zstd -19 -q -f "$dir/winsyscall.exe" -o "$DEST/winsyscall.exe.zst"
		zstd -19 --long=27 -T2 -q -f "$dir/private.dmp" -o "$DEST/private.dmp.zst"
		cp "$dir/stderr.txt" "$DEST/abort.stderr"
		printf '{"go_version":"%s","mode":"%s","goos":"windows","build_cmd":"%s","dumper":"%s"}\n' \
			"${VER#go}" "$MODE" "$(json_escape "GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -ldflags=-s -w -o winsyscall.exe .")" \
			"$(json_escape "$res")" >"$DEST/build.json"
		rm -rf "$dir"
		log "done: $res, $(du -sh "$DEST" | cut -f1) in $DEST"
		exit 0
	fi
	log "attempt $attempt failed ($res): $(tail -n2 "$dir/dumper.log" | tr '\n' ' ')"
done
die "no dump written"
