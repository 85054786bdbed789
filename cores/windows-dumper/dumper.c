/*
 * dumper: writes Windows minidumps of a running Go program, then makes the Go
 * runtime print the traceback of exactly the state that was dumped (the oracle).
 *
 *   dumper.exe OUTDIR ABORT_RVA PROGRAM [ARGS...]
 *
 * 1. Starts PROGRAM (stdout to a pipe, stderr to OUTDIR\stderr.txt; the environment is
 *    inherited: run it with GOTRACEBACK=all) and waits for its "ready" line.
 * 2. Suspends every thread of the process, so nothing moves from here on.
 * 3. Writes OUTDIR\normal.dmp (MiniDumpNormal) and OUTDIR\full.dmp
 *    (MiniDumpWithFullMemory) with dbghelp's MiniDumpWriteDump.
 * 4. Points one idle thread (one whose PC is outside the program's image: blocked in
 *    the OS, on its g0 stack) at runtime.abort (ABORT_RVA, hex, relative to the
 *    image base: the script reads it from the binary's symbol table) and resumes only
 *    that thread (trying the next one when it stays blocked). abort's INT3 goes to the runtime's exception handler, which prints
 *    every goroutine of the frozen process (GOTRACEBACK=all) and exits with status 2.
 *    The other threads stay suspended, so the traceback is of the dumped instant.
 *
 * Prints "threads=N hijacked=TID exit=CODE" on success; exits non-zero on failure.
 * Built by cores/generate-minidumps-windows.sh with x86_64-w64-mingw32-gcc.
 */
#include <windows.h>
#include <dbghelp.h>
#include <tlhelp32.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 256

static void fail(const char *what) {
	fprintf(stderr, "dumper: %s failed (error %lu)\n", what, GetLastError());
	exit(1);
}

/* Append a command-line argument with Windows quoting. */
static void append_arg(char *cmd, size_t cap, const char *arg) {
	size_t n = strlen(cmd);
	if (n && n + 1 < cap) cmd[n++] = ' ';
	if (n + 1 < cap) cmd[n++] = '"';
	for (const char *p = arg; *p && n + 2 < cap; p++) {
		if (*p == '"') cmd[n++] = '\\';
		cmd[n++] = *p;
	}
	if (n + 1 < cap) cmd[n++] = '"';
	cmd[n] = 0;
}

static int write_dump(HANDLE proc, DWORD pid, const char *path, MINIDUMP_TYPE type) {
	HANDLE f = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE) fail("CreateFile (dump)");
	BOOL ok = MiniDumpWriteDump(proc, pid, f, type, NULL, NULL, NULL);
	CloseHandle(f);
	if (!ok) fprintf(stderr, "dumper: MiniDumpWriteDump(%s) failed (error %lu)\n", path, GetLastError());
	return ok ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: dumper OUTDIR ABORT_RVA PROGRAM [ARGS...]\n");
		return 2;
	}
	const char *out = argv[1];
	ULONGLONG abort_rva = strtoull(argv[2], NULL, 16);
	char cmd[4096] = "";
	for (int i = 3; i < argc; i++) append_arg(cmd, sizeof cmd, argv[i]);

	char path[MAX_PATH];
	SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
	snprintf(path, sizeof path, "%s\\stderr.txt", out);
	HANDLE err = CreateFileA(path, GENERIC_WRITE, FILE_SHARE_READ, &sa, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (err == INVALID_HANDLE_VALUE) fail("CreateFile (stderr)");
	HANDLE rd, wr;
	if (!CreatePipe(&rd, &wr, &sa, 0)) fail("CreatePipe");
	SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);

	STARTUPINFOA si;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = wr;
	si.hStdError = err;
	PROCESS_INFORMATION pi;
	if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) fail("CreateProcess");
	CloseHandle(wr);
	CloseHandle(err);

	/* Wait for "ready" on the program's stdout (bounded: 30 s of output at most). */
	char line[512];
	size_t n = 0;
	DWORD got;
	char c;
	int ready = 0;
	DWORD start = GetTickCount();
	while (!ready && GetTickCount() - start < 30000 && ReadFile(rd, &c, 1, &got, NULL) && got == 1) {
		if (c == '\n') {
			line[n] = 0;
			if (strncmp(line, "ready", 5) == 0) ready = 1;
			n = 0;
		} else if (n + 1 < sizeof line) {
			line[n++] = c;
		}
	}
	if (!ready) {
		TerminateProcess(pi.hProcess, 3);
		fprintf(stderr, "dumper: the program never printed its ready line\n");
		return 1;
	}
	/* Let the goroutines that announced themselves park for good. */
	Sleep(500);

	/* Freeze every thread of the process. */
	HANDLE threads[MAX_THREADS];
	DWORD tids[MAX_THREADS];
	int nthreads = 0;
	HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
	if (snap == INVALID_HANDLE_VALUE) fail("CreateToolhelp32Snapshot (threads)");
	THREADENTRY32 te;
	te.dwSize = sizeof te;
	for (BOOL more = Thread32First(snap, &te); more && nthreads < MAX_THREADS; more = Thread32Next(snap, &te)) {
		if (te.th32OwnerProcessID != pi.dwProcessId) continue;
		HANDLE h = OpenThread(THREAD_ALL_ACCESS, FALSE, te.th32ThreadID);
		if (!h) continue;
		if (SuspendThread(h) == (DWORD)-1) {
			CloseHandle(h);
			continue;
		}
		threads[nthreads] = h;
		tids[nthreads] = te.th32ThreadID;
		nthreads++;
	}
	CloseHandle(snap);
	if (nthreads == 0) fail("suspending the threads");

	/* The image base (ASLR): the first module of the process is the executable. */
	snap = CreateToolhelp32Snapshot(TH32CS_SNAPMODULE, pi.dwProcessId);
	if (snap == INVALID_HANDLE_VALUE) fail("CreateToolhelp32Snapshot (modules)");
	MODULEENTRY32 me;
	me.dwSize = sizeof me;
	if (!Module32First(snap, &me)) fail("Module32First");
	CloseHandle(snap);
	ULONGLONG base = (ULONGLONG)(ULONG_PTR)me.modBaseAddr, size = me.modBaseSize;

	int bad = 0;
	snprintf(path, sizeof path, "%s\\normal.dmp", out);
	bad |= write_dump(pi.hProcess, pi.dwProcessId, path, MiniDumpNormal);
	snprintf(path, sizeof path, "%s\\full.dmp", out);
	bad |= write_dump(pi.hProcess, pi.dwProcessId, path, MiniDumpWithFullMemory);
	if (bad) {
		TerminateProcess(pi.hProcess, 3);
		return 1;
	}

	/* The oracle: an idle thread (PC outside the image) runs runtime.abort. Under wine
	 * a new context takes effect only when the thread's system call returns, so a
	 * thread blocked without a timeout never gets there: try each in turn (the last
	 * ones first: the first is the main thread) for a few seconds, re-suspending the
	 * ones that did not move. */
	int victim = -1;
	DWORD code = 0;
	for (int i = nthreads - 1; i >= 0 && victim < 0; i--) {
		CONTEXT ctx;
		memset(&ctx, 0, sizeof ctx);
		ctx.ContextFlags = CONTEXT_FULL;
		if (!GetThreadContext(threads[i], &ctx)) continue;
		fprintf(stderr, "dumper: thread %lu at %#llx\n", tids[i], (unsigned long long)ctx.Rip);
		if (ctx.Rip >= base && ctx.Rip < base + size) continue;
		ctx.Rip = base + abort_rva;
		if (!SetThreadContext(threads[i], &ctx)) continue;
		ResumeThread(threads[i]);
		if (WaitForSingleObject(pi.hProcess, 5000) == WAIT_OBJECT_0) {
			victim = i;
			break;
		}
		SuspendThread(threads[i]);
	}
	if (victim < 0) {
		TerminateProcess(pi.hProcess, 3);
		fprintf(stderr, "dumper: no thread ran runtime.abort (all blocked without a timeout?)\n");
		return 1;
	}
	GetExitCodeProcess(pi.hProcess, &code);
	printf("threads=%d hijacked=%lu exit=%lu\n", nthreads, tids[victim], code);
	return 0;
}
