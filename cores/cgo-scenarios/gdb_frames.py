# gdb script for cores/generate-cgo.sh: every thread's frames, one per line,
# in a form tests can parse (gdb's `bt` text is for people):
#   thread LWP
#   frame N PC KIND FUNCTION FILE LINE
# KIND is normal, inline (gdb's inlined-function frames share their PC with
# the frame below), sigtramp (the kernel's signal frame) or other. FUNCTION
# and FILE are "?" when gdb has none. A thread's list ends after
# runtime.asmcgocall (gdb cannot follow the switch back to the goroutine's
# stack; what it prints after that is garbage), before the first frame gdb
# cannot name (after the innermost), or where gdb's unwinding stops.
import gdb

KINDS = {gdb.NORMAL_FRAME: "normal", gdb.INLINE_FRAME: "inline", gdb.SIGTRAMP_FRAME: "sigtramp"}

for t in sorted(gdb.selected_inferior().threads(), key=lambda t: t.ptid[1]):
    t.switch()
    print("thread %d" % t.ptid[1])
    try:
        f = gdb.newest_frame()
    except gdb.error:
        continue
    n = 0
    while f is not None and n < 200:
        try:
            sal = f.find_sal()
            name = f.name() or "?"
            path = sal.symtab.filename if sal.symtab else "?"
        except gdb.error:
            break
        if name == "?" and n > 0:
            break
        print("frame %d %#x %s %s %s %d" % (n, f.pc(), KINDS.get(f.type(), "other"), name, path, sal.line))
        if name == "runtime.asmcgocall":
            break
        n += 1
        try:
            f = f.older()
        except gdb.error:
            break
