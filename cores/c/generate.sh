#!/bin/sh
# Rebuild the CFI fixture: crash (binary) and crash.core (its core), zstd-compressed.
# Needs gcc, zstd and a core_pattern that writes "core" or "core.PID" to the cwd.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Static, non-PIE: link-time addresses are runtime addresses, and the core needs no
# shared libraries. -fomit-frame-pointer leaves CFI as the only way to unwind.
gcc -O2 -fomit-frame-pointer -g -gz=zlib -static -no-pie -Wl,--eh-frame-hdr -o "$tmp/crash" crash.c
(
	cd "$tmp"
	ulimit -c unlimited
	./crash || true
)
core=$(ls "$tmp"/core* 2>/dev/null | head -n 1)
if [ -z "$core" ]; then
	echo "no core written: check ulimit -c and /proc/sys/kernel/core_pattern" >&2
	exit 1
fi
zstd -q -19 -f "$tmp/crash" -o crash.zst
zstd -q -19 -f "$core" -o crash.core.zst
ls -l crash.zst crash.core.zst
