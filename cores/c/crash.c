/* CFI test fixture: nested non-inlined calls f1 -> f2 -> f3, then SIGSEGV in f3.
 * Built with -fomit-frame-pointer so only DWARF CFI (.eh_frame) can unwind it; each
 * function keeps a live stack buffer and does work after its call so the compiler can
 * neither inline nor turn the calls into tail jumps. */
#include <stdio.h>
#include <string.h>

/* A volatile null pointer: the compiler cannot prove the store faults, so it emits a
 * real store (not ud2) and the process dies of SIGSEGV. */
int *volatile crash_ptr = 0;
volatile int sink;

__attribute__((noinline)) int f3(int x) {
	volatile char buf[40];
	memset((char *)buf, x, sizeof buf);
	*crash_ptr = x + buf[3];
	return buf[7] + 1;
}

__attribute__((noinline)) int f2(int x) {
	volatile long pad[6];
	pad[0] = x;
	int r = f3(x * 2 + (int)pad[0]);
	sink = r + (int)pad[0];
	return r * 5;
}

__attribute__((noinline)) int f1(int x) {
	volatile int pad[3];
	pad[1] = x;
	int r = f2(x + pad[1]);
	sink = r;
	return r - 7;
}

int main(int argc, char **argv) {
	(void)argv;
	int r = f1(argc + 2);
	printf("%d\n", r);
	return 0;
}
