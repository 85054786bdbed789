"""cores/windows-dumper/trim_dlls.py FULL.dmp OUT.dmp

Drop the Memory64List ranges that lie in DLL images (every module but the first,
the executable) from a minidump: the dump then holds what MiniDumpWithFullMemory
saves minus the DLLs' images, like a MiniDumpWithPrivateReadWriteMemory dump."""
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
v = open(src, 'rb').read()
n, dirr = struct.unpack_from('<II', v, 8)
entries = [struct.unpack_from('<III', v, dirr + 12 * i) for i in range(n)]
mods = []
for t, sz, rva in entries:
    if t == 4:
        cnt = struct.unpack_from('<I', v, rva)[0]
        for i in range(cnt):
            base, size = struct.unpack_from('<QI', v, rva + 4 + 108 * i)
            mods.append((base, base + size))
dlls = mods[1:]
idx = [i for i, e in enumerate(entries) if e[0] == 9]
assert len(idx) == 1
t, sz, rva = entries[idx[0]]
cnt, base_rva = struct.unpack_from('<QQ', v, rva)
# Everything else in the file must come before the memory data.
for t2, sz2, rva2 in entries:
    if t2 != 9 and sz2:
        assert rva2 + sz2 <= base_rva, (t2, rva2)
assert rva + sz <= base_rva
out = bytearray(v[:base_rva])
kept, off = [], base_rva
for i in range(cnt):
    s, l = struct.unpack_from('<QQ', v, rva + 16 + 16 * i)
    if not any(a <= s < b for a, b in dlls):
        kept.append((s, l))
        out += v[off:off + l]
    off += l
assert off == len(v), (off, len(v))
# Rewrite the list in place (fewer descriptors fit in the old stream).
struct.pack_into('<QQ', out, rva, len(kept), base_rva)
for i, (s, l) in enumerate(kept):
    struct.pack_into('<QQ', out, rva + 16 + 16 * i, s, l)
struct.pack_into('<III', out, dirr + 12 * idx[0], 9, 16 + 16 * len(kept), rva)
open(dst, 'wb').write(out)
print(f'{cnt} ranges -> {len(kept)}, {len(v) >> 10} KiB -> {len(out) >> 10} KiB')
