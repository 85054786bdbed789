package main

// A Linux arm64 minidump writer in the layout Breakpad's Linux writer (and its Rust
// port, minidump-writer) produce, as rust-minidump reads it:
//
//   - MINIDUMP_HEADER, then the stream directory;
//   - ThreadListStream: MDRawThread per thread, its stack (from the stack pointer's
//     page to the end of that mapping, as get_stack_info does) and a context
//     MDRawContextARM64_Old (context_flags CONTEXT_ARM64_OLD_FULL, x0..x28, fp, lr,
//     sp, pc, cpsr, fpsr, fpcr, v0..v31): what both write on linux/arm64 with
//     SystemInfo's processor_architecture 0x8003 (MD_CPU_ARCHITECTURE_ARM64_OLD);
//   - ModuleListStream: the executable (base, size, name, CodeView 'BpEL' record with
//     the GNU build ID or, without one, the XOR of the first page of .text);
//   - MemoryListStream: the stacks plus the extra ranges of the mode;
//   - SystemInfoStream, MiscInfoStream (pid), and Breakpad's Linux streams: CpuInfo,
//     ProcStatus, CmdLine, Environ, Auxv, Maps.
//
// Dumps written on request have no exception stream, as minidump-writer's without a
// crash context; crash dumps have one (MDRawExceptionStream: the signal, its si_code
// and si_addr, the crashing thread and its context), as Breakpad's signal handler
// writes.
//
// Mode "full-ctxarm64" is "full" with the other arm64 context layout, Windows'
// CONTEXT_ARM64 that Crashpad writes (context_flags u32 0x00400007, cpsr, x0..x28,
// fp, lr, sp, pc, v0..v31, fpcr, fpsr, debug registers 0) and processor architecture
// 12 (PROCESSOR_ARCHITECTURE_ARM64).

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf16"
)

const (
	streamThreadList   = 3
	streamModuleList   = 4
	streamMemoryList   = 5
	streamException    = 6
	streamSystemInfo   = 7
	streamMiscInfo     = 15
	streamLinuxCPUInfo = 0x47670003
	streamLinuxStatus  = 0x47670004
	streamLinuxCmdLine = 0x47670006
	streamLinuxEnviron = 0x47670007
	streamLinuxAuxv    = 0x47670008
	streamLinuxMaps    = 0x47670009

	cpuArchARM64Old   = 0x8003
	cpuArchARM64      = 12
	contextARM64      = 0x00400000
	contextARM64All   = contextARM64 | 0x1 | 0x2 | 0x4 // CONTROL | INTEGER | FLOATING_POINT
	contextARM64Size  = 8 + 31*8 + 8 + 8 + 32*16 + 4 + 4 + 8*4 + 8*8 + 2*4 + 2*8
	platformLinux     = 0x8201
	contextARM64Old   = 0x80000000
	contextARM64Full  = contextARM64Old | 0x2 | 0x4 // INTEGER | FLOATING_POINT
	contextARM64Bytes = 8 + 33*8 + 4 + 4 + 4 + 32*16
)

// threadState is what ptrace gave for one stopped thread.
type threadState struct {
	tid    int
	regs   [34]uint64 // user_pt_regs: x0..x30, sp, pc, pstate
	fp     []byte     // user_fpsimd_state: v0..v31 (16 bytes each), fpsr, fpcr
	haveFP bool
}

type mapping struct {
	start, end uint64
	perms      string
	offset     uint64
	path       string
}

func parseMaps(text string) []mapping {
	var out []mapping
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		r := strings.SplitN(f[0], "-", 2)
		if len(r) != 2 {
			continue
		}
		s, e1 := strconv.ParseUint(r[0], 16, 64)
		e, e2 := strconv.ParseUint(r[1], 16, 64)
		off, e3 := strconv.ParseUint(f[2], 16, 64)
		if e1 != nil || e2 != nil || e3 != nil {
			continue
		}
		p := ""
		if len(f) >= 6 {
			p = strings.Join(f[5:], " ")
		}
		out = append(out, mapping{s, e, f[1], off, p})
	}
	return out
}

type memRange struct{ start, len uint64 }

// stackRange is minidump-writer's get_stack_info: the stack pointer rounded down to
// its page, up to the end of its mapping; past a guard page (up to 1 MiB) when the
// page is not mapped readable or writable.
func stackRange(maps []mapping, sp uint64) (memRange, bool) {
	const page = 4096
	p := sp &^ (page - 1)
	find := func(a uint64) *mapping {
		for i := range maps {
			if maps[i].start <= a && a < maps[i].end {
				return &maps[i]
			}
		}
		return nil
	}
	mayBeStack := func(m *mapping) bool {
		return m != nil && (m.perms[0] == 'r' || m.perms[1] == 'w')
	}
	m := find(p)
	limit := p + 1<<20
	for !mayBeStack(m) && p <= limit {
		p += page
		m = find(p)
	}
	if m == nil {
		return memRange{}, false
	}
	start := p
	if start < m.start || start >= m.end {
		start = m.start
	}
	return memRange{start, m.end - start}, true
}

// extraRanges: the mode's memory beyond the stacks (see generate-minidumps.sh).
func extraRanges(maps []mapping, exe, mode string) ([]memRange, error) {
	var out []memRange
	switch mode {
	case "stacks":
	case "datasegs":
		prevExeRW := false
		for _, m := range maps {
			rw := strings.HasPrefix(m.perms, "rw")
			isExe := m.path == exe
			if rw && (isExe || (prevExeRW && m.path == "")) {
				out = append(out, memRange{m.start, m.end - m.start})
				prevExeRW = isExe
			} else {
				prevExeRW = false
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no writable mapping of %s", exe)
		}
	case "full":
		for _, m := range maps {
			if m.perms[0] != 'r' || strings.HasPrefix(m.path, "[vvar") || m.path == "[vsyscall]" {
				continue
			}
			out = append(out, memRange{m.start, m.end - m.start})
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	return out, nil
}

type writer struct{ b []byte }

func (w *writer) align() {
	for len(w.b)%8 != 0 {
		w.b = append(w.b, 0)
	}
}
func (w *writer) pos() uint32  { return uint32(len(w.b)) }
func (w *writer) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *writer) put32(at, v uint32) {
	binary.LittleEndian.PutUint32(w.b[at:], v)
}

// str writes a MINIDUMP_STRING (byte length, UTF-16LE, NUL) and returns its RVA.
func (w *writer) str(s string) uint32 {
	w.align()
	at := w.pos()
	u := utf16.Encode([]rune(s))
	w.u32(uint32(2 * len(u)))
	for _, c := range u {
		w.u16(c)
	}
	w.u16(0)
	return at
}

type dirEntry struct{ typ, size, rva uint32 }

// moduleID: the GNU build ID note of the executable, else Breakpad's fallback (the
// first page of .text XORed into 16 bytes).
func moduleID(exe string) []byte {
	f, err := elf.Open(exe)
	if err != nil {
		return nil
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		d, err := s.Data()
		if err != nil {
			continue
		}
		for len(d) >= 12 {
			nsz := binary.LittleEndian.Uint32(d)
			dsz := binary.LittleEndian.Uint32(d[4:])
			typ := binary.LittleEndian.Uint32(d[8:])
			no := 12 + (nsz+3)&^3
			end := no + (dsz+3)&^3
			if uint32(len(d)) < no+dsz {
				break
			}
			if typ == 3 && nsz == 4 && string(d[12:15]) == "GNU" {
				return append([]byte(nil), d[no:no+dsz]...)
			}
			if uint32(len(d)) < end {
				break
			}
			d = d[end:]
		}
	}
	t := f.Section(".text")
	if t == nil {
		return nil
	}
	d, err := t.Data()
	if err != nil {
		return nil
	}
	if len(d) > 4096 {
		d = d[:4096]
	}
	id := make([]byte, 16)
	for i, c := range d {
		id[i%16] ^= c
	}
	return id
}

func readProc(pid int, name string) []byte {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	return b
}

// writeMinidump writes the dump of stopped process pid (threads already stopped).
// crashInfo is the signal a crash dump is written for (Breakpad's exception stream:
// exception_code the signal, exception_flags its si_code, exception_address si_addr).
type crashInfo struct {
	tid         int
	signo, code int32
	addr        uint64
}

func writeMinidump(path string, pid int, threads []threadState, mode string, crash *crashInfo) error {
	newCtx := false
	if mode == "full-ctxarm64" {
		mode, newCtx = "full", true
	}
	mapsText := readProc(pid, "maps")
	maps := parseMaps(string(mapsText))
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return err
	}
	defer mem.Close()
	read := func(r memRange) []byte {
		buf := make([]byte, r.len)
		n, _ := mem.ReadAt(buf, int64(r.start))
		return buf[:n]
	}

	nStreams := uint32(11)
	if crash != nil {
		nStreams++
	}
	w := &writer{}
	// Header.
	w.u32(0x504d444d) // MDMP
	w.u32(0xa793)
	w.u32(nStreams)
	w.u32(32) // directory right after the header
	w.u32(0)
	w.u32(uint32(time.Now().Unix()))
	w.u64(0)
	dirAt := w.pos()
	w.b = append(w.b, make([]byte, 12*nStreams)...)
	var dir []dirEntry
	add := func(typ uint32, start uint32) {
		dir = append(dir, dirEntry{typ, w.pos() - start, start})
	}

	type memDesc struct {
		start     uint64
		size, rva uint32
	}
	var memList []memDesc

	// Thread list: records first (patched once stacks and contexts are written).
	w.align()
	tlAt := w.pos()
	w.u32(uint32(len(threads)))
	recAt := w.pos()
	w.b = append(w.b, make([]byte, 48*len(threads))...)
	tlEnd := w.pos()
	ctxOf := map[int][2]uint32{}
	for i, t := range threads {
		r := recAt + uint32(48*i)
		w.put32(r, uint32(t.tid))
		// Context.
		w.align()
		ctxAt := w.pos()
		var fp [528]byte
		copy(fp[:], t.fp)
		ctxSize := uint32(contextARM64Bytes)
		if newCtx {
			flags := uint32(contextARM64 | 0x1 | 0x2)
			if t.haveFP {
				flags = contextARM64All
			}
			w.u32(flags)
			w.u32(uint32(t.regs[33])) // cpsr
			for j := 0; j < 33; j++ { // x0..x30, sp, pc
				w.u64(t.regs[j])
			}
			w.b = append(w.b, fp[:512]...)
			w.u32(binary.LittleEndian.Uint32(fp[516:])) // fpcr
			w.u32(binary.LittleEndian.Uint32(fp[512:])) // fpsr
			w.b = append(w.b, make([]byte, 8*4+8*8+2*4+2*8)...)
			ctxSize = contextARM64Size
		} else {
			flags := uint64(contextARM64Old | 0x2)
			if t.haveFP {
				flags = contextARM64Full
			}
			w.u64(flags)
			for j := 0; j < 33; j++ { // x0..x30, sp, pc
				w.u64(t.regs[j])
			}
			w.u32(uint32(t.regs[33]))                   // cpsr
			w.u32(binary.LittleEndian.Uint32(fp[512:])) // fpsr
			w.u32(binary.LittleEndian.Uint32(fp[516:])) // fpcr
			w.b = append(w.b, fp[:512]...)
		}
		if w.pos()-ctxAt != ctxSize {
			return fmt.Errorf("internal: context of %d bytes, want %d", w.pos()-ctxAt, ctxSize)
		}
		binary.LittleEndian.PutUint32(w.b[r+40:], ctxSize)
		binary.LittleEndian.PutUint32(w.b[r+44:], ctxAt)
		ctxOf[t.tid] = [2]uint32{ctxSize, ctxAt}
		// Stack.
		if sr, ok := stackRange(maps, t.regs[31]); ok {
			if data := read(sr); len(data) > 0 {
				w.align()
				at := w.pos()
				w.b = append(w.b, data...)
				binary.LittleEndian.PutUint64(w.b[r+24:], sr.start)
				binary.LittleEndian.PutUint32(w.b[r+32:], uint32(len(data)))
				binary.LittleEndian.PutUint32(w.b[r+36:], at)
				memList = append(memList, memDesc{sr.start, uint32(len(data)), at})
			}
		}
	}
	dir = append(dir, dirEntry{streamThreadList, tlEnd - tlAt, tlAt})

	// Extra memory.
	extra, err := extraRanges(maps, exe, mode)
	if err != nil {
		return err
	}
	for _, r := range extra {
		data := read(r)
		if len(data) == 0 {
			continue
		}
		w.align()
		at := w.pos()
		w.b = append(w.b, data...)
		memList = append(memList, memDesc{r.start, uint32(len(data)), at})
	}

	// Module list: the executable, from its first mapping to the end of its last.
	var base, end uint64
	for _, m := range maps {
		if m.path != exe {
			continue
		}
		if base == 0 && m.offset == 0 {
			base = m.start
		}
		if m.end > end {
			end = m.end
		}
	}
	nameAt := w.str(exe)
	id := moduleID(exe)
	w.align()
	cvAt := w.pos()
	w.u32(0x4270454c) // 'BpEL'
	w.b = append(w.b, id...)
	cvLen := w.pos() - cvAt
	w.align()
	mlAt := w.pos()
	w.u32(1)
	w.u64(base)
	w.u32(uint32(end - base))
	w.u32(0) // checksum
	w.u32(0) // time_date_stamp
	w.u32(nameAt)
	w.u32(0xfeef04bd) // VS_FIXEDFILEINFO: signature, struct version, the rest 0
	w.u32(0x10000)
	w.b = append(w.b, make([]byte, 44)...)
	w.u32(cvLen)
	w.u32(cvAt)
	w.u32(0) // misc record
	w.u32(0)
	w.u64(0)
	w.u64(0)
	add(streamModuleList, mlAt)

	// Memory list.
	w.align()
	mAt := w.pos()
	w.u32(uint32(len(memList)))
	for _, m := range memList {
		w.u64(m.start)
		w.u32(m.size)
		w.u32(m.rva)
	}
	add(streamMemoryList, mAt)

	// System info.
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	cstr := func(a [65]int8) string {
		var b []byte
		for _, c := range a {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		return string(b)
	}
	release := cstr(uts.Release)
	var ver [3]uint32
	for i, p := range strings.SplitN(strings.SplitN(release, "-", 2)[0], ".", 3) {
		v, _ := strconv.Atoi(p)
		ver[i] = uint32(v)
	}
	csdAt := w.str(strings.Join([]string{cstr(uts.Sysname), release, cstr(uts.Version), cstr(uts.Machine)}, " "))
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	ncpu := uint8(bytes.Count(cpuinfo, []byte("\nprocessor")) + 1)
	if !bytes.HasPrefix(cpuinfo, []byte("processor")) {
		ncpu--
	}
	w.align()
	sAt := w.pos()
	if newCtx {
		w.u16(cpuArchARM64)
	} else {
		w.u16(cpuArchARM64Old)
	}
	w.u16(8) // processor_level: "CPU architecture: 8"
	w.u16(0) // processor_revision
	w.b = append(w.b, ncpu, 0)
	w.u32(ver[0])
	w.u32(ver[1])
	w.u32(ver[2])
	w.u32(platformLinux)
	w.u32(csdAt)
	w.u16(0)
	w.u16(0)
	w.b = append(w.b, make([]byte, 24)...) // CPU_INFORMATION
	add(streamSystemInfo, sAt)

	// Misc info: MINIDUMP_MISC_INFO with the process id.
	w.align()
	miAt := w.pos()
	w.u32(24)
	w.u32(1) // MINIDUMP_MISC1_PROCESS_ID
	w.u32(uint32(pid))
	w.u32(0)
	w.u32(0)
	w.u32(0)
	add(streamMiscInfo, miAt)

	raw := func(typ uint32, data []byte) {
		w.align()
		at := w.pos()
		w.b = append(w.b, data...)
		add(typ, at)
	}
	raw(streamLinuxCPUInfo, cpuinfo)
	raw(streamLinuxStatus, readProc(pid, "status"))
	raw(streamLinuxCmdLine, readProc(pid, "cmdline"))
	raw(streamLinuxEnviron, readProc(pid, "environ"))
	raw(streamLinuxAuxv, readProc(pid, "auxv"))
	raw(streamLinuxMaps, mapsText)
	if crash != nil {
		// MDRawExceptionStream: thread_id, align, MDException (code, flags, record,
		// address, number_parameters, align, information[15]), the thread's context.
		w.align()
		at := w.pos()
		w.u32(uint32(crash.tid))
		w.u32(0)
		w.u32(uint32(crash.signo))
		w.u32(uint32(crash.code))
		w.u64(0)
		w.u64(crash.addr)
		w.u32(0)
		w.u32(0)
		w.b = append(w.b, make([]byte, 15*8)...)
		c := ctxOf[crash.tid]
		w.u32(c[0])
		w.u32(c[1])
		add(streamException, at)
	}

	if uint32(len(dir)) != nStreams {
		return fmt.Errorf("internal: %d streams, header says %d", len(dir), nStreams)
	}
	for i, d := range dir {
		at := dirAt + uint32(12*i)
		w.put32(at, d.typ)
		w.put32(at+4, d.size)
		w.put32(at+8, d.rva)
	}
	if uint64(len(w.b)) > 1<<32-1 {
		return fmt.Errorf("dump too large: %d bytes", len(w.b))
	}
	return os.WriteFile(path, w.b, 0o644)
}
