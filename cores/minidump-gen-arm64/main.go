// minidump-gen-arm64: the /init of an arm64 initramfs booted under
// qemu-system-aarch64 (cores/generate-minidumps-arm64.sh). For every
// /fixtures/TAG/live it runs `live service` (GOTRACEBACK=all, GOMAXPROCS=2, an
// environment of just those), waits for its `ready` line and for its goroutines to
// park, stops every thread (PTRACE_SEIZE + PTRACE_INTERRUPT), reads their registers
// (PTRACE_GETREGSET NT_PRSTATUS and NT_PRFPREG), writes Linux arm64 minidumps
// (minidump.go) for the modes listed in /fixtures/TAG/modes, detaches, sends SIGQUIT
// and keeps the runtime's traceback (the oracle). Each result goes out on the
// console as gzip+base64 between "=== BEGIN TAG/NAME" and "=== END TAG/NAME"
// lines; then the machine powers off.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const (
	ptraceSeize     = 0x4206
	ptraceInterrupt = 0x4207
	ptraceGetRegset = 0x4204
	ptraceDetach    = 17
	ptraceCont      = 7
	ptraceSetOpts   = 0x4200
	ptraceGetMsg    = 0x4201
	ptraceGetSig    = 0x4202
	optTraceClone   = 0x8
	eventClone      = 3
	eventStop       = 128
	siTkill         = -6
	ntPRStatus      = 1
	ntPRFPReg       = 2
	wall            = 0x40000000
)

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stdout, "coroner-init: "+format+"\n", a...)
}

func ptrace(req int, tid int, addr, data uintptr) syscall.Errno {
	_, _, e := syscall.Syscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	return e
}

func tasks(pid int) []int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	sort.Ints(out)
	return out
}

type iovec struct {
	base uintptr
	len  uint64
}

func getRegset(tid int, typ uintptr, buf []byte) (int, syscall.Errno) {
	iov := iovec{uintptr(unsafe.Pointer(&buf[0])), uint64(len(buf))}
	e := ptrace(ptraceGetRegset, tid, typ, uintptr(unsafe.Pointer(&iov)))
	runtime.KeepAlive(buf)
	return int(iov.len), e
}

// stopAll seizes and interrupts every thread until no new one appears; returns the
// stopped threads (main thread first) and the signal each must get back on detach.
func stopAll(pid int) ([]threadState, map[int]int, error) {
	seized := map[int]bool{}
	pending := map[int]int{}
	var order []int
	for round := 0; round < 20; round++ {
		fresh := false
		for _, t := range tasks(pid) {
			if seized[t] {
				continue
			}
			if e := ptrace(ptraceSeize, t, 0, 0); e != 0 {
				if e == syscall.ESRCH {
					continue
				}
				return nil, nil, fmt.Errorf("PTRACE_SEIZE %d: %v", t, e)
			}
			if e := ptrace(ptraceInterrupt, t, 0, 0); e != 0 {
				return nil, nil, fmt.Errorf("PTRACE_INTERRUPT %d: %v", t, e)
			}
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(t, &ws, wall, nil); err != nil {
				return nil, nil, fmt.Errorf("wait %d: %v", t, err)
			}
			if !ws.Stopped() {
				return nil, nil, fmt.Errorf("thread %d: not stopped (%#x)", t, uint32(ws))
			}
			if sig := ws.StopSignal(); sig != syscall.SIGTRAP {
				// A signal-delivery stop came first: the thread is stopped; the
				// signal is given back on detach.
				pending[t] = int(sig)
			}
			seized[t] = true
			order = append(order, t)
			fresh = true
		}
		if !fresh {
			break
		}
	}
	sort.Ints(order)
	var out []threadState
	for _, t := range order {
		st, err := regsOf(t)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, st)
	}
	return out, pending, nil
}

// regsOf reads a stopped thread's NT_PRSTATUS and NT_PRFPREG.
func regsOf(t int) (threadState, error) {
	st := threadState{tid: t}
	buf := make([]byte, 34*8)
	n, e := getRegset(t, ntPRStatus, buf)
	if e != 0 || n != len(buf) {
		return st, fmt.Errorf("NT_PRSTATUS of %d: %v (%d bytes)", t, e, n)
	}
	for i := range st.regs {
		st.regs[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	fp := make([]byte, 528)
	if n, e := getRegset(t, ntPRFPReg, fp); e == 0 && n >= 520 {
		st.fp = fp
		st.haveFP = true
	}
	return st, nil
}

func detachAll(threads []threadState, pending map[int]int) {
	for _, t := range threads {
		ptrace(ptraceDetach, t.tid, 0, uintptr(pending[t.tid]))
	}
}

// emit prints a file gzip+base64 between markers.
func emit(name string, data []byte) {
	var z bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	gw.Write(data)
	gw.Close()
	s := base64.StdEncoding.EncodeToString(z.Bytes())
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	fmt.Fprintf(out, "=== BEGIN %s %d\n", name, len(data))
	for len(s) > 0 {
		n := 76
		if len(s) < n {
			n = len(s)
		}
		out.WriteString(s[:n])
		out.WriteByte('\n')
		s = s[n:]
	}
	fmt.Fprintf(out, "=== END %s\n", name)
	out.Flush()
}

// dumpOnce runs one attempt for a fixture directory; returns the files to emit.
func dumpOnce(dir string, modes []string) (map[string][]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("./live", "service")
	cmd.Dir = dir
	cmd.Env = []string{"GOTRACEBACK=all", "GOMAXPROCS=2"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready pid=") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("no ready line")
	}
	time.Sleep(500 * time.Millisecond)
	threads, pending, err := stopAll(pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	out := map[string][]byte{}
	var werr error
	for _, m := range modes {
		p := filepath.Join("/tmp", m+".dmp")
		if err := writeMinidump(p, pid, threads, m, nil); err != nil {
			werr = fmt.Errorf("%s: %v", m, err)
			break
		}
		b, err := os.ReadFile(p)
		os.Remove(p)
		if err != nil {
			werr = err
			break
		}
		out[m+".dmp"] = b
	}
	detachAll(threads, pending)
	syscall.Kill(pid, syscall.SIGQUIT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var rc error
	select {
	case rc = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("no exit after SIGQUIT")
	}
	if werr != nil {
		return nil, werr
	}
	code := -1
	if ee, ok := rc.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	e := stderr.Bytes()
	if code != 2 || !bytes.Contains(e, []byte("SIGQUIT: quit")) || !bytes.Contains(e, []byte("\nmain.svcMutexWaiter")) {
		return nil, fmt.Errorf("exit %d; stderr %q", code, firstLines(e))
	}
	out["service.stderr"] = e
	out["threads"] = []byte(fmt.Sprint(len(threads)))
	return out, nil
}

func firstLines(b []byte) string {
	l := strings.SplitN(string(b), "\n", 4)
	if len(l) > 3 {
		l = l[:3]
	}
	return strings.Join(l, "\n")
}

func main() {
	if os.Getpid() == 1 {
		if err := syscall.Mount("proc", "/proc", "proc", 0, ""); err != nil {
			logf("mount /proc: %v", err)
		}
		// No core files: the crash run's process dies by SIGABRT.
		syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
		// /dev/null and friends for os/exec (the console stays open).
		syscall.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
		syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, "size=1200m")
		defer func() {
			syscall.Sync()
			logf("power off")
			syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
		}()
	}
	root := "/fixtures"
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		logf("%v", err)
		return
	}
	for _, e := range ents {
		tag := e.Name()
		dir := filepath.Join(root, tag)
		modesText, _ := os.ReadFile(filepath.Join(dir, "modes"))
		modes := strings.Fields(string(modesText))
		if len(modes) == 0 {
			modes = []string{"stacks", "datasegs"}
		}
		ok := false
		for attempt := 1; attempt <= 3 && !ok; attempt++ {
			start := time.Now()
			files, err := dumpOnce(dir, modes)
			if err != nil {
				logf("%s: attempt %d failed: %v", tag, attempt, err)
				continue
			}
			names := make([]string, 0, len(files))
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				emit(tag+"/"+n, files[n])
			}
			logf("%s: ok (%s, %s threads)", tag, time.Since(start).Round(time.Millisecond), files["threads"])
			ok = true
		}
		if !ok {
			logf("%s: FAILED", tag)
		}
		crashText, err := os.ReadFile(filepath.Join(dir, "crashmodes"))
		if err != nil {
			continue
		}
		ok = false
		for attempt := 1; attempt <= 3 && !ok; attempt++ {
			start := time.Now()
			files, err := crashOnce(dir, strings.Fields(string(crashText)))
			if err != nil {
				logf("%s crash: attempt %d failed: %v", tag, attempt, err)
				continue
			}
			names := make([]string, 0, len(files))
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				emit(tag+"/"+n, files[n])
			}
			logf("%s crash: ok (%s)", tag, time.Since(start).Round(time.Millisecond))
			ok = true
		}
		if !ok {
			logf("%s crash: FAILED", tag)
		}
	}
	logf("done")
}

// crashOnce: the crash run. With every thread of `live service` (GOTRACEBACK=crash)
// seized and followed (PTRACE_O_TRACECLONE), SIGABRT is sent to the process: the
// runtime's handler stops the world, prints every goroutine (the oracle), then
// re-raises SIGABRT with the default action on its own thread (tgkill, si_code
// SI_TKILL). That signal-delivery stop is the crash: every other thread is
// interrupted, the dumps get an exception stream for it (what Breakpad's SIGABRT
// handler would write), and on detach the signal kills the process.
var debug = os.Getenv("DUMPER_DEBUG") != ""

func crashOnce(dir string, modes []string) (map[string][]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("./live", "service")
	cmd.Dir = dir
	cmd.Env = []string{"GOTRACEBACK=crash", "GOMAXPROCS=2"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready pid=") {
				ready <- true
			}
		}
	}()
	fail := func(e error) (map[string][]byte, error) {
		// Traced threads must be reaped by the tracer (__WALL) before the process's
		// exit can be waited for.
		syscall.Kill(pid, syscall.SIGKILL)
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(-1, &ws, wall, nil); err == syscall.ECHILD {
				break
			}
		}
		cmd.Wait()
		return nil, fmt.Errorf("%v; stderr %q", e, firstLines(stderr.Bytes()))
	}
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		return fail(fmt.Errorf("no ready line"))
	}
	time.Sleep(500 * time.Millisecond)
	if debug {
		logf("crash: ready, stopping")
	}
	threads, pending, err := stopAll(pid)
	if err != nil {
		return fail(err)
	}
	if debug {
		logf("crash: %d threads stopped, sending SIGABRT", len(threads))
	}
	live := map[int]bool{}
	for _, t := range threads {
		live[t.tid] = true
		if e := ptrace(ptraceSetOpts, t.tid, 0, optTraceClone); e != 0 {
			return fail(fmt.Errorf("PTRACE_SETOPTIONS %d: %v", t.tid, e))
		}
		if e := ptrace(ptraceCont, t.tid, 0, uintptr(pending[t.tid])); e != 0 {
			return fail(fmt.Errorf("PTRACE_CONT %d: %v", t.tid, e))
		}
	}
	syscall.Kill(pid, syscall.SIGABRT)
	var crash *crashInfo
	deadline := time.Now().Add(120 * time.Second)
	for crash == nil {
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("no crash; live threads %v", live))
		}
		var ws syscall.WaitStatus
		tid, err := syscall.Wait4(-1, &ws, wall|syscall.WNOHANG, nil)
		if err != nil {
			return fail(fmt.Errorf("wait: %v", err))
		}
		if tid == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if debug {
			logf("crash: tid %d status %#x", tid, uint32(ws))
		}
		if ws.Exited() || ws.Signaled() {
			delete(live, tid)
			if tid == pid {
				return nil, fmt.Errorf("the process ended before the crash stop (%#x)", uint32(ws))
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := ws.StopSignal()
		event := int(uint32(ws) >> 16)
		switch {
		case sig == syscall.SIGTRAP && event == eventClone:
			var msg uint64
			ptrace(ptraceGetMsg, tid, 0, uintptr(unsafe.Pointer(&msg)))
			live[int(msg)] = true
			ptrace(ptraceCont, tid, 0, 0)
		case event == eventStop:
			live[tid] = true
			ptrace(ptraceCont, tid, 0, 0)
		case sig == syscall.SIGABRT:
			var si [128]byte
			ptrace(ptraceGetSig, tid, 0, uintptr(unsafe.Pointer(&si[0])))
			code := int32(binary.LittleEndian.Uint32(si[8:]))
			if code == siTkill && int(binary.LittleEndian.Uint32(si[16:])) == pid {
				crash = &crashInfo{tid: tid, signo: int32(sig), code: code, addr: binary.LittleEndian.Uint64(si[16:])}
			} else {
				ptrace(ptraceCont, tid, 0, uintptr(sig))
			}
		default:
			ptrace(ptraceCont, tid, 0, uintptr(sig))
		}
	}
	// Stop every other thread.
	pending = map[int]int{}
	waiting := map[int]bool{}
	for t := range live {
		if t == crash.tid {
			continue
		}
		if e := ptrace(ptraceInterrupt, t, 0, 0); e == 0 {
			waiting[t] = true
		}
	}
	for len(waiting) > 0 {
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("threads did not stop"))
		}
		var ws syscall.WaitStatus
		tid, err := syscall.Wait4(-1, &ws, wall|syscall.WNOHANG, nil)
		if err != nil {
			return fail(fmt.Errorf("wait: %v", err))
		}
		if tid == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if debug {
			logf("crash: tid %d status %#x", tid, uint32(ws))
		}
		if ws.Exited() || ws.Signaled() {
			delete(live, tid)
			delete(waiting, tid)
			continue
		}
		sig := ws.StopSignal()
		event := int(uint32(ws) >> 16)
		if sig == syscall.SIGTRAP && event == eventClone {
			var msg uint64
			ptrace(ptraceGetMsg, tid, 0, uintptr(unsafe.Pointer(&msg)))
			live[int(msg)] = true
			waiting[int(msg)] = true
			ptrace(ptraceCont, tid, 0, 0)
			continue
		}
		if event != eventStop && sig != syscall.SIGTRAP {
			pending[tid] = int(sig)
		}
		delete(waiting, tid)
	}
	var tids []int
	for t := range live {
		tids = append(tids, t)
	}
	sort.Ints(tids)
	if debug {
		logf("crash: thread %d, all stopped: %v", crash.tid, tids)
	}
	threads = threads[:0]
	for _, t := range tids {
		st, err := regsOf(t)
		if err != nil {
			return fail(err)
		}
		threads = append(threads, st)
	}
	out := map[string][]byte{}
	var werr error
	for _, m := range modes {
		p := filepath.Join("/tmp", "crash-"+m+".dmp")
		if err := writeMinidump(p, pid, threads, m, crash); err != nil {
			werr = fmt.Errorf("%s: %v", m, err)
			break
		}
		b, err := os.ReadFile(p)
		os.Remove(p)
		if err != nil {
			werr = err
			break
		}
		out["crash-"+m+".dmp"] = b
		if debug {
			logf("crash: %s written (%d bytes)", m, len(b))
		}
	}
	// The crashing thread last: its SIGABRT kills the process, and a thread still
	// traced then would be a zombie only the tracer can reap.
	pending[crash.tid] = int(syscall.SIGABRT)
	sort.SliceStable(threads, func(i, j int) bool { return threads[j].tid == crash.tid && threads[i].tid != crash.tid })
	detachAll(threads, pending)
	if debug {
		logf("crash: detached")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var rc error
	select {
	case rc = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("no exit after the crash")
	}
	if werr != nil {
		return nil, werr
	}
	e := stderr.Bytes()
	ee, ok := rc.(*exec.ExitError)
	killed := ok && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGABRT
	if !killed || !bytes.Contains(e, []byte("SIGABRT: abort")) || !bytes.Contains(e, []byte("\nmain.svcMutexWaiter")) {
		return nil, fmt.Errorf("end %v; stderr %q", rc, firstLines(e))
	}
	out["crash.stderr"] = e
	return out, nil
}
