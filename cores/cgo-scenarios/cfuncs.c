// The C half of the cgo scenarios. Compiled by cgo with its default flags
// (-g -O2: no frame pointers, so only DWARF CFI unwinds these frames).
// noipa keeps every function a real frame under its own name: no inlining,
// no .isra/.constprop clones, no interprocedural shortcuts.
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

#include "_cgo_export.h"
#include "cfuncs.h"

// crash_in_c: c_crash_entry -> crash_walk (static) -> crash_deref (static)
// reads through a NULL pointer. The pointer comes from a volatile global so
// the compiler cannot see the NULL and turn the load into a trap.

struct record {
	int *value;
	int weight;
};

static int *volatile missing_value;

static int __attribute__((noipa)) crash_deref(const struct record *r, int depth)
{
	int v = *r->value; /* SIGSEGV: r->value is NULL */
	return v * r->weight + depth;
}

static int __attribute__((noipa)) crash_walk(struct record *r, int depth)
{
	r->value = missing_value;
	int got = crash_deref(r, depth + 1);
	return got * 3 + 1;
}

int __attribute__((noipa)) c_crash_entry(int depth)
{
	struct record r = {NULL, 5};
	int got = crash_walk(&r, depth);
	return got + r.weight;
}

// blocked_in_c: three goroutines wait in libc, called from C helpers.

static atomic_int blocked;

int c_blocked_count(void)
{
	return atomic_load(&blocked);
}

static void __attribute__((noipa)) sleep_forever(unsigned secs)
{
	for (;;) {
		atomic_fetch_add(&blocked, 1);
		sleep(secs); /* parked in libc's nanosleep */
	}
}

void __attribute__((noipa)) c_block_sleep(void)
{
	sleep_forever(600);
	atomic_fetch_sub(&blocked, 1);
}

static int __attribute__((noipa)) read_one(int fd)
{
	char c;
	atomic_fetch_add(&blocked, 1);
	ssize_t n = read(fd, &c, 1); /* parked in libc's read */
	return n > 0 ? c : -1;
}

void __attribute__((noipa)) c_block_read(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return;
	/* The write end stays open and unused: the read never returns. */
	int got = read_one(fds[0]);
	atomic_fetch_sub(&blocked, got + 1);
}

static void __attribute__((noipa)) nap_loop(useconds_t us)
{
	atomic_fetch_add(&blocked, 1);
	for (;;)
		usleep(us); /* parked in libc's usleep (nanosleep) */
}

void __attribute__((noipa)) c_block_usleep(void)
{
	nap_loop(250000);
	atomic_fetch_sub(&blocked, 1);
}

// callback: c_call_back -> call_back_level (static) -> goCallback (Go,
// exported from main.go), which dereferences a nil pointer in Go.

static int __attribute__((noipa)) call_back_level(int n)
{
	int r = goCallback(n + 1);
	return r * 2 + 1;
}

int __attribute__((noipa)) c_call_back(int n)
{
	int r = call_back_level(n);
	return r + n;
}
