#!/usr/bin/env bash
# Regenerates the Linux arm64 minidump fixtures under cores/minidumps-arm64/ (see
# "arm64 minidumps" in cores/README.md).
#
# The live program (cores/live) is built for linux/arm64 and run, in a real arm64
# Linux, under qemu-system-aarch64 (full-system emulation: qemu-user has no ptrace):
# Debian's arm64 cloud kernel boots an initramfs whose /init is
# cores/minidump-gen-arm64 (Go). For each build it runs `live service`
# (GOTRACEBACK=all, GOMAXPROCS=2, that environment only), waits for its goroutines to
# park, stops every thread with ptrace, writes minidumps in Breakpad's Linux arm64
# layout (MDRawContextARM64_Old contexts, MemoryList, Linux streams), detaches and
# sends SIGQUIT: the runtime prints every goroutine (the oracle). The files come back
# gzip+base64 on the serial console. Stores
#   minidumps-arm64/go1.NN-MODE/live.zst             the arm64 binary
#   minidumps-arm64/go1.NN-MODE/stacks.dmp.zst       thread stacks only
#   minidumps-arm64/go1.NN-MODE/datasegs.dmp.zst     stacks + the executable's .data/.bss
#   minidumps-arm64/go1.NN-MODE/full.dmp.zst         every readable mapping (FULL_BUILDS)
#   minidumps-arm64/go1.NN-MODE/full-ctxarm64.dmp.zst  the same in the other context layout,
#                                                    CONTEXT_ARM64 (Crashpad's, Windows') (CTX_BUILDS)
#   minidumps-arm64/go1.NN-MODE/service.stderr       the runtime's SIGQUIT traceback
#   minidumps-arm64/go1.NN-MODE/crash-stacks|crash-full.dmp.zst  (CRASH_BUILDS) dumps at a
#                  crash: GOTRACEBACK=crash, SIGABRT sent; the runtime prints every
#                  goroutine with the world stopped and re-raises SIGABRT; at that
#                  signal's stop the dumps are written with an exception stream
#   minidumps-arm64/go1.NN-MODE/crash.stderr         that traceback
#   minidumps-arm64/go1.NN-MODE/build.json           version, mode, build command
#
# Environment (all optional):
#   GO_TOOLCHAINS  directory holding go1.NN/ GOROOTs (default /opt/go); first argument overrides
#   BUILDS         builds go1.NN-MODE, MODE opt, noopt (-gcflags=all=-N -l) or stripped
#                  (-ldflags=-s -w) (default: go1.19-opt go1.22-noopt go1.25-opt go1.27-opt)
#   FULL_BUILDS    builds that also get a full-memory dump (default: all of BUILDS)
#   CTX_BUILDS     builds that also get full-ctxarm64 (default: go1.27-opt)
#   CRASH_BUILDS   builds that also get crash dumps (default: go1.19-opt go1.27-opt)
#   GEN_GO         the Go release that builds the dumper (default 1.25)
#   KERNEL         an arm64 vmlinuz (default: Debian's linux-image-*-cloud-arm64, fetched
#                  with `apt-get download` into WORKDIR: needs `dpkg --add-architecture arm64`)
#   QEMU           default qemu-system-aarch64 (Debian package qemu-system-arm)
#   APPEND_EXTRA   more kernel command line (DUMPER_DEBUG=1: the dumper logs every ptrace
#                  event of the crash run on the console)
#   VM_TIMEOUT     seconds before the VM is killed (default 900)
#   OUT            where the results go (default cores/minidumps-arm64; e.g. a held-out root)
#   WORKDIR        scratch directory (default /tmp/coroner-minidumps-arm64); sources are
#                  copied to $WORKDIR/src, the path every binary and traceback names
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cores/lib.sh
. "$HERE/lib.sh"
GO_TOOLCHAINS=${1:-${GO_TOOLCHAINS:-/opt/go}}
BUILDS=${BUILDS:-"go1.19-opt go1.22-noopt go1.25-opt go1.27-opt"}
FULL_BUILDS=${FULL_BUILDS:-$BUILDS}
CTX_BUILDS=${CTX_BUILDS:-go1.27-opt}
CRASH_BUILDS=${CRASH_BUILDS:-"go1.19-opt go1.27-opt"}
GEN_GO=${GEN_GO:-1.25}
QEMU=${QEMU:-qemu-system-aarch64}
VM_TIMEOUT=${VM_TIMEOUT:-900}
WORKDIR=${WORKDIR:-/tmp/coroner-minidumps-arm64}
SRC=$WORKDIR/src
OUT=${OUT:-$HERE/minidumps-arm64}

for tool in zstd gzip base64 timeout "$QEMU"; do
	command -v "$tool" >/dev/null || die "missing tool: $tool ($QEMU is in Debian's qemu-system-arm)"
done

mode_flags() {
	case $1 in
	opt) echo '' ;;
	noopt) echo '-gcflags=all=-N -l' ;;
	stripped) echo '-ldflags=-s -w' ;;
	*) die "unknown mode $1" ;;
	esac
}

mkdir -p "$WORKDIR"
if [ -z "${KERNEL:-}" ]; then
	KERNEL=$(ls "$WORKDIR"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
	if [ -z "$KERNEL" ]; then
		log "== fetching Debian's arm64 cloud kernel"
		pkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-arm64$' |
			awk '{print $1}' | sort -V | tail -n1)
		[ -n "$pkg" ] || die "no linux-image-*-cloud-arm64 package (dpkg --add-architecture arm64 && apt-get update)"
		(cd "$WORKDIR" && apt-get download "$pkg:arm64")
		dpkg-deb -x "$WORKDIR/${pkg}"_*_arm64.deb "$WORKDIR/kernel"
		KERNEL=$(ls "$WORKDIR"/kernel/boot/vmlinuz-* | head -n1)
	fi
fi
log "kernel: $KERNEL"

genroot=$GO_TOOLCHAINS/go$GEN_GO
log "== building the dumper (go$GEN_GO, linux/arm64) and mkcpio"
(cd "$HERE/minidump-gen-arm64" &&
	env $(go_env "$genroot") GOOS=linux GOARCH=arm64 "$genroot/bin/go" build -o "$WORKDIR/init" . &&
	env $(go_env "$genroot") "$genroot/bin/go" build -o "$WORKDIR/mkcpio" ./mkcpio)

rm -rf "$SRC" "$WORKDIR/fixtures"
mkdir -p "$SRC"
cp -r "$HERE/live/." "$SRC/"
rm -rf "$SRC/sessions"
cpio_args=("init=$WORKDIR/init")
for tag in $BUILDS; do
	v=${tag%-*}
	v=${v#go}
	mode=${tag#*-}
	goroot=$GO_TOOLCHAINS/go$v
	[ -x "$goroot/bin/go" ] || die "no Go toolchain at $goroot"
	flags=$(mode_flags "$mode")
	gover=$("$goroot/bin/go" env GOVERSION)
	bindir=$WORKDIR/fixtures/$tag
	mkdir -p "$bindir"
	log "== $tag ($gover): GOARCH=arm64 CGO_ENABLED=0 go build${flags:+ $flags} -o live ."
	(cd "$SRC" && env $(go_env "$goroot") GOOS=linux GOARCH=arm64 "$goroot/bin/go" build ${flags:+"$flags"} -o "$bindir/live" .)
	printf '{"go_version":"%s","go_full_version":"%s","mode":"%s","goarch":"arm64","build_cmd":"%s","src_dir":"%s"}\n' \
		"$v" "$gover" "$mode" "$(json_escape "GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build${flags:+ $flags} -o live .")" "$SRC" >"$bindir/build.json"
	modes="stacks datasegs"
	case " $FULL_BUILDS " in *" $tag "*) modes="$modes full" ;; esac
	case " $CTX_BUILDS " in *" $tag "*) modes="$modes full-ctxarm64" ;; esac
	echo "$modes" >"$bindir/modes"
	cpio_args+=("fixtures/$tag/live=$bindir/live" "fixtures/$tag/modes=$bindir/modes")
	rm -f "$bindir/crashmodes"
	case " $CRASH_BUILDS " in *" $tag "*)
		echo "stacks full" >"$bindir/crashmodes"
		cpio_args+=("fixtures/$tag/crashmodes=$bindir/crashmodes")
		;;
	esac
done
"$WORKDIR/mkcpio" "$WORKDIR/initramfs.cpio" "${cpio_args[@]}"
gzip -1 -f "$WORKDIR/initramfs.cpio"

log "== booting $QEMU (timeout ${VM_TIMEOUT}s)"
serial=$WORKDIR/serial.log
set +e
timeout -s KILL "$VM_TIMEOUT" "$QEMU" -M virt -cpu max -smp 2 -m 2048 -nographic -no-reboot \
	-kernel "$KERNEL" -initrd "$WORKDIR/initramfs.cpio.gz" \
	-append "console=ttyAMA0 panic=-1 quiet loglevel=1${APPEND_EXTRA:+ $APPEND_EXTRA}" </dev/null >"$serial" 2>&1
rc=$?
set -e
grep -a '^coroner-init:' "$serial" | tr -d '\r' >&2 || true
[ "$rc" = 0 ] || log "qemu exited $rc"

# extract TAG/NAME: the gzip+base64 lines between the markers.
extract() {
	tr -d '\r' <"$serial" | awk -v n="$1" '
		$0 ~ "^=== END " n "$" { on = 0 }
		on { print }
		$0 ~ "^=== BEGIN " n " " { on = 1 }' | base64 -d | gzip -dc
}

failures=0
for tag in $BUILDS; do
	dir=$WORKDIR/out/$tag
	rm -rf "$dir"
	mkdir -p "$dir"
	modes=$(cat "$WORKDIR/fixtures/$tag/modes")
	ok=1
	for f in service.stderr $(for m in $modes; do echo "$m.dmp"; done); do
		extract "$tag/$f" >"$dir/$f" 2>/dev/null && [ -s "$dir/$f" ] || ok=0
	done
	if [ "$ok" = 0 ] || ! grep -q '^SIGQUIT: quit' "$dir/service.stderr"; then
		log "  $tag: no complete result in $serial"
		failures=$((failures + 1))
		continue
	fi
	crash=
	if [ -f "$WORKDIR/fixtures/$tag/crashmodes" ]; then
		crash=crash.stderr
		for m in $(cat "$WORKDIR/fixtures/$tag/crashmodes"); do
			crash="$crash crash-$m.dmp"
		done
		for f in $crash; do
			extract "$tag/$f" >"$dir/$f" 2>/dev/null && [ -s "$dir/$f" ] || ok=0
		done
		if [ "$ok" = 0 ] || ! grep -q '^SIGABRT: abort' "$dir/crash.stderr"; then
			log "  $tag: no complete crash result in $serial"
			failures=$((failures + 1))
			continue
		fi
	fi
	dest=$OUT/$tag
	rm -rf "$dest"
	mkdir -p "$dest"
	for m in $modes; do
		zstd -19 --long=27 -q -f "$dir/$m.dmp" -o "$dest/$m.dmp.zst"
	done
	for f in $crash; do
		case $f in
		*.dmp) zstd -19 --long=27 -q -f "$dir/$f" -o "$dest/$f.zst" ;;
		*) cp "$dir/$f" "$dest/$f" ;;
		esac
	done
	cp "$dir/service.stderr" "$dest/service.stderr"
	cp "$WORKDIR/fixtures/$tag/build.json" "$dest/build.json"
	zstd -19 --long=27 -q -f "$WORKDIR/fixtures/$tag/live" -o "$dest/live.zst"
	log "  $tag: $(cd "$dest" && du -ch ./*.zst | tail -n1 | cut -f1) ($modes)"
done
log "total: $(du -sh "$OUT" 2>/dev/null | cut -f1) in $OUT"
[ "$failures" = 0 ] || die "$failures builds failed"
