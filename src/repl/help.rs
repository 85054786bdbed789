//! The command table: Delve's names, aliases and help groups, with coroner's help texts.

use super::parse::{CommandSpec, Group};
use std::fmt::Write;

/// Commands that need variable evaluation (issue 3).
pub const VARIABLE_COMMANDS: &[&str] = &[
    "print", "locals", "args", "vars", "whatis", "set", "display", "call", "deferred",
];

macro_rules! cmd {
    ($name:expr, [$($alias:expr),*], $group:ident, $summary:expr, $help:expr) => {
        CommandSpec {
            name: $name,
            aliases: &[$($alias),*],
            group: Group::$group,
            summary: $summary,
            help: $help,
        }
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    // Running: snapshots cannot run; these answer NO_EXECUTION.
    cmd!("call", [], Running, "Resumes process, injecting a function call (not on snapshots).", "call [-unsafe] <function call expression>\n\nRuns the function in the selected goroutine through the Go runtime's debugCallV2 protocol and prints the values it returned, or its panic. -unsafe allows pointers into the goroutine's stack as arguments. Needs a live process: not available on a core file."),
    cmd!("continue", ["c"], Running, "Run until breakpoint or program termination.", "continue\n\nNeeds a running process: not available on a core file."),
    cmd!("next", ["n"], Running, "Step over to next source line.", "next [count]\n\nNeeds a running process: not available on a core file."),
    cmd!("rebuild", [], Running, "Rebuild the target executable and restart it.", "rebuild\n\nNeeds a running process: not available on a core file."),
    cmd!("restart", ["r"], Running, "Restart process.", "restart [-noargs | newargv...]\nrestart [checkpoint | event]  (recordings)\n\nWith new arguments they replace the old ones for this and later restarts;\n-noargs clears them. Needs a running process: not available on a core file."),
    cmd!("rev", [], Running, "Reverses the execution of the target program for the command specified.", "rev <command>\n\nrev next, rev step, rev stepout, rev step-instruction, rev next-instruction,\nrev continue. Needs a target that runs backwards (an rr recording, a stub with\nreverse execution): not available on a core file."),
    cmd!("rewind", ["rw"], Running, "Run backwards until breakpoint or start of recorded history.", "rewind\n\nNeeds an rr recording: not available on a core file."),
    cmd!("step", ["s"], Running, "Single step through program.", "step\n\nNeeds a running process: not available on a core file."),
    cmd!("step-instruction", ["si"], Running, "Single step a single cpu instruction.", "step-instruction\n\nNeeds a running process: not available on a core file."),
    cmd!("next-instruction", ["ni"], Running, "Single step a single cpu instruction, skipping function calls.", "next-instruction\n\nNeeds a running process: not available on a core file."),
    cmd!("stepout", ["so"], Running, "Step out of the current function.", "stepout\n\nNeeds a running process: not available on a core file."),
    cmd!("break", ["b"], Breakpoints, "Sets a breakpoint.", "break [name] [locspec]\n\nNeeds a running process: not available on a core file."),
    cmd!("breakpoints", ["bp"], Breakpoints, "Print out info for active breakpoints.", "breakpoints\n\nA core file has no breakpoints."),
    cmd!("clear", [], Breakpoints, "Deletes breakpoint.", "clear <breakpoint name or id>\n\nA core file has no breakpoints."),
    cmd!("clearall", [], Breakpoints, "Deletes multiple breakpoints.", "clearall [locspec]\n\nA core file has no breakpoints."),
    cmd!("condition", ["cond"], Breakpoints, "Set breakpoint condition.", "condition <breakpoint name or id> <boolean expression>\n\nA core file has no breakpoints."),
    cmd!("on", [], Breakpoints, "Executes a command when a breakpoint is hit.", "on <breakpoint name or id> <command>\n\nA core file has no breakpoints."),
    cmd!("toggle", [], Breakpoints, "Toggles on or off a breakpoint.", "toggle <breakpoint name or id>\n\nA core file has no breakpoints."),
    cmd!("trace", ["t"], Breakpoints, "Set tracepoint.", "trace [name] [locspec]\n\nNeeds a running process: not available on a core file."),
    cmd!("watch", [], Breakpoints, "Set watchpoint.", "watch [-r|-w|-rw] <expr>\n\nNeeds a running process: not available on a core file."),
    // Data.
    cmd!("args", [], Data, "Print function arguments.", "[goroutine <n>] [frame <m>] args [-v] [<regex>]\n\nIf regex is specified only function arguments with a name matching it will be returned. If -v is specified more information about each function argument will be shown."),
    cmd!("display", [], Data, "Print value of an expression every time the program stops.", "display -a [%format] <expression>\ndisplay -d <number>\ndisplay\n\nThe first form adds an expression to the display list and prints it, the second removes it. A core never stops again, so `display` with no arguments re-prints the whole list in the current goroutine and frame."),
    cmd!("examinemem", ["x"], Data, "Examine raw memory at the given address.", "Examine raw memory at the given address.

	examinemem [-fmt <format>] [-count|-len <count>] [-size <size>] <address>
	examinemem [-fmt <format>] [-count|-len <count>] [-size <size>] -x <expression>

Format is one of bin, oct, dec, hex (default hex). Count (default 1) times size
(1, 2, 4 or 8 bytes, default 1) must not exceed 1000 bytes. The address (or -x
expression) is an integer, optionally with + and - arithmetic:

    x -fmt hex -count 20 -size 1 0xc00008af38
    x -fmt hex -count 20 -size 1 -x 0xc00008af38 + 8"),
    cmd!("locals", [], Data, "Print local variables.", "[goroutine <n>] [frame <m>] locals [-v] [<regex>]\n\nThe name of variables that are shadowed in the current scope will be shown in parenthesis. If regex is specified only local variables with a name matching it will be returned. If -v is specified more information about each local variable will be shown."),
    cmd!("print", ["p"], Data, "Evaluate an expression.", "[goroutine <n>] [frame <m>] print [%format] <expression>\n\nExpressions: identifiers of the frame, package variables (main.x, \"net/http\".DefaultClient), field selection, indexing and slicing of arrays, slices, strings and maps, *p, &x, (*T)(0xaddr), arithmetic, comparison and logical operators, len and cap. %x %d %o %b %s format integers and strings."),
    cmd!("regs", [], Data, "Print contents of CPU registers.", "Print contents of CPU registers.

	regs [-a]

Shows the general purpose registers of the current thread (or of the current
frame when it is not the innermost); -a also shows the rest of the register set
the core recorded."),
    cmd!("set", [], Data, "Changes the value of a variable.", "set <variable> = <value>\n\nNumbers, bools, nil and values of the variable's own type (a string from another string). A core file cannot be modified."),
    cmd!("vars", [], Data, "Print package variables.", "vars [-v] [<regex>]\n\nIf regex is specified only package variables with a name matching it will be returned. If -v is specified more information about each package variable will be shown."),
    cmd!("whatis", [], Data, "Prints type of an expression.", "[goroutine <n>] [frame <m>] whatis <expression>"),
    // Goroutines and threads.
    cmd!("goroutine", ["gr"], Goroutines, "Shows or changes current goroutine", "Shows or changes current goroutine

	goroutine
	goroutine <id>
	goroutine <id> <command>

Called without arguments it shows information about the current goroutine.
Called with a single argument it switches to the specified goroutine.
Called with more arguments it executes a command on the specified goroutine."),
    cmd!("goroutines", ["grs"], Goroutines, "List program goroutines.", "List program goroutines.

	goroutines [-u|-r|-g|-s] [-t [depth]] [-l] [-with loc expr] [-without loc expr] [-group argument] [-exec command]

Print out info for every goroutine. The flag controls what information is shown along with each goroutine:

	-u	displays location of topmost stackframe in user code (default)
	-r	displays location of topmost stackframe (including frames inside private runtime functions)
	-g	displays location of go instruction that created the goroutine
	-s	displays location of the start function
	-t	displays goroutine's stacktrace (an optional depth value can be specified, default: 10)
	-l	displays goroutine's labels

FILTERING

	goroutines -with (userloc|curloc|goloc|startloc) expr
	goroutines -without (userloc|curloc|goloc|startloc) expr
	goroutines -with running | -without running
	goroutines -with user | -without user
	goroutines -with label key[=value]

GROUPING

	goroutines -group (userloc|curloc|goloc|startloc|running|user)

Groups goroutines by the given location, running status or user classification;
up to 5 goroutines per group are displayed with the group's total.

EXEC

	goroutines -exec <command>

Runs the command on every goroutine."),
    cmd!("thread", ["tr"], Goroutines, "Switch to the specified thread.", "Switch to the specified thread.

	thread <id>"),
    cmd!("threads", [], Goroutines, "Print out info for every traced thread.", "Print out info for every traced thread.\n\n\tthreads"),
    // Stack.
    cmd!("deferred", [], Stack, "Executes command in the context of a deferred call.", "deferred <n> <command>\n\nNot available on a core yet: deferred calls are not decoded."),
    cmd!("down", [], Stack, "Move the current frame down.", "Move the current frame down.

	down [<m>]
	down [<m>] <command>

Move the current frame down by <m>. The second form runs the command on the given frame."),
    cmd!("frame", [], Stack, "Set the current frame, or execute command on a different frame.", "Set the current frame, or execute command on a different frame.

	frame <m>
	frame <m> <command>

The first form sets frame used by subsequent commands such as \"list\" or \"disassemble\".
The second form runs the command on the given frame."),
    cmd!("stack", ["bt"], Stack, "Print stack trace.", "Print stack trace.

	[goroutine <n>] [frame <m>] stack [<depth>] [-full]

	-full	every stackframe is decorated with the value of its local variables and
		arguments

The default depth is 50."),
    cmd!("up", [], Stack, "Move the current frame up.", "Move the current frame up.

	up [<m>]
	up [<m>] <command>

Move the current frame up by <m>. The second form runs the command on the given frame."),
    // Other.
    cmd!("check", ["checkpoint"], Other, "Creates a checkpoint at the current position.", "checkpoint [note]\n\nNeeds an rr recording: not available on a core file."),
    cmd!("checkpoints", [], Other, "Print out info for existing checkpoints.", "checkpoints\n\nNeeds an rr recording: not available on a core file."),
    cmd!("clear-checkpoint", ["clearcheck"], Other, "Deletes checkpoint.", "clear-checkpoint <id>\n\nNeeds an rr recording: not available on a core file."),
    cmd!("analyze", [], Other, "Run coroner's analyzers on the snapshot.", "analyze [<name>]

Without a name, runs every analyzer (crash, groups, waitgraph, leaks) and prints one
incident report, as `coroner triage` does. With a name, runs only that analyzer."),
    cmd!("config", [], Other, "Changes configuration parameters.", "Changes configuration parameters.

	config -list

Show all configuration parameters.

	config -save

Saves the configuration to $XDG_CONFIG_HOME/coroner/config.yml (default
~/.config/coroner/config.yml), keeping the keys coroner does not know. That file
is read when a session starts; without it, Delve's dlv/config.yml is read.

	config <parameter> <value>

Changes the value of a configuration parameter.

	config substitute-path <from> <to>
	config substitute-path <from>
	config substitute-path -clear

Adds or removes a path substitution rule (applied when reading source files).

	config alias <command> <alias>
	config alias <alias>

Defines <alias> as an alias to <command> or removes an alias.

	config debug-info-directories -add <path>
	config debug-info-directories -rm <path>
	config debug-info-directories -clear

Adds or removes a directory searched for separate debug info (used by the next
target opened).

Parameters: max-string-len, max-array-values, max-variable-recurse,
show-location-expr, source-list-line-count, disassemble-flavor, substitute-path,
aliases, debug-info-directories."),
    cmd!("disassemble", ["disass"], Other, "Disassembler.", "Disassembler.

	[goroutine <n>] [frame <m>] disassemble [-a <start> <end>] [-l <locspec>] [-s intel|gnu|go]

If no argument is specified the function being executed in the selected stack frame will be executed.

	-a <start> <end>	disassembles the specified address range
	-l <locspec>		disassembles the specified function
	-s <flavor>		syntax: intel (default), gnu (AT&T) or go (Plan 9-like)"),
    cmd!("dump", [], Other, "Creates a core dump from the current process state", "dump <output file>\n\nThe target already is a core file."),
    cmd!("edit", ["ed"], Other, "Open where you are in $DELVE_EDITOR or $EDITOR", "Open where you are in $DELVE_EDITOR or $EDITOR

	edit [locspec]

If locspec is omitted edit will open the current source file in the editor, otherwise it will open the specified location. The editor runs as `EDITOR +LINE FILE`."),
    cmd!("exit", ["quit", "q"], Other, "Exit the debugger.", "Exit the debugger.\n\n\texit"),
    cmd!("funcs", [], Other, "Print list of functions.", "Print list of functions.

	funcs [<regex>]

If regex is specified only the functions matching it will be returned."),
    cmd!("help", ["h"], Other, "Prints the help message.", "Prints the help message.

	help [command]

Type \"help\" followed by the name of a command for more information about it."),
    cmd!("libraries", [], Other, "List loaded dynamic libraries", "libraries\n\nNot available in coroner yet."),
    cmd!("list", ["ls", "l"], Other, "Show source code.", "Show source code.

	[goroutine <n>] [frame <m>] list [<locspec>]

Show source around current point or provided locspec: file.go:N, pkg.Func,
*0xADDR, or N (a line of the current file). The number of lines shown on each
side is the source-list-line-count setting (default 5)."),
    cmd!("source", [], Other, "Executes a file containing a list of delve commands", "Executes a file containing a list of delve commands

	source <path>

Runs the commands in the file one per line; blank lines and lines starting with #
are skipped. A command that fails prints <path>:<line>: <error> and the next one
runs. Files may source other files (up to 16 deep). Starlark scripts (.star, source -)
are not supported."),
    cmd!("sources", [], Other, "Print list of source files.", "Print list of source files.

	sources [<regex>]

If regex is specified only the source files matching it will be returned."),
    cmd!("transcript", [], Other, "Appends command output to a file.", "Appends command output to a file.

	transcript [-t] [-x] <output file>
	transcript -off

Output of Delve's command is appended to the specified output file. If '-t' is specified and the output file exists it is truncated. If '-x' is specified output to stdout is suppressed instead.

Using the -off option disables the transcript."),
    cmd!("types", [], Other, "Print list of types", "Print list of types

	types [<regex>]

If regex is specified only the types matching it will be returned."),
];

/// The `help` listing: commands by group, names padded with Delve's dashes.
pub fn overview() -> String {
    let mut out = String::from("The following commands are available:\n");
    for group in Group::ALL {
        let cmds: Vec<_> = COMMANDS.iter().filter(|c| c.group == group).collect();
        let heads: Vec<String> = cmds
            .iter()
            .map(|c| {
                if c.aliases.is_empty() {
                    c.name.to_string()
                } else {
                    format!("{} (alias: {})", c.name, c.aliases.join(" | "))
                }
            })
            .collect();
        let width = heads.iter().map(|h| h.len()).max().unwrap_or(0);
        let _ = writeln!(out, "\n{}:", group.title());
        for (c, head) in cmds.iter().zip(&heads) {
            // Delve pads the name column with dashes between two spaces.
            let fill = format!(" {} ", "-".repeat(width.saturating_sub(head.len())));
            let _ = writeln!(out, "    {head}{fill}{}", c.summary);
        }
    }
    out.push_str("\nType help followed by a command for full documentation.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            for a in c.aliases {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
        }
    }

    #[test]
    fn overview_layout_matches_delve() {
        let o = overview();
        // Delve 1.20 prints exactly these two lines (see tests/delve-transcripts).
        assert!(o.contains(
            "    continue (alias: c) --------- Run until breakpoint or program termination.\n"
        ));
        assert!(
            o.contains("    step-instruction (alias: si)  Single step a single cpu instruction.\n")
        );
        assert!(o.contains("\nViewing the call stack and selecting frames:\n"));
    }
}
