// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cli/trace_opts.h"
#include "cli/trace.h"
#include "lib/options.h"
#include "lib/output.h"
#include "lib/util.h"
#include "verdicts/runaway.h"

#include <string.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_NS	(2 * NSEC_PER_SEC)
#define DEFAULT_THRESHOLD_NS	(30 * NSEC_PER_SEC)
#define DEFAULT_MAX_TASKS	(1u << 20)
#define DEFAULT_MAX_GOROUTINES	(1u << 21)
#define DEFAULT_RECORD_EVERY_NS (5 * NSEC_PER_SEC)

#define T struct trace_opts

static const struct opt trace_options[] = {
	{"pid", 'p', OPT_PID(T, pid), .arg = "PID",
	 .help = "trace the running process PID (its threads and\n"
		 "goroutines; the trace ends when it exits)"},
	{"follow", 'f', OPT_FLAG(T, follow),
	 .help = "with -p: the processes it forked and will fork too,\n"
		 "their children included (like strace -f)"},
	{"for", 'd', OPT_DURATION(T, duration_ns, 1, 0), .arg = "DURATION",
	 .help = "stop after DURATION (500ms, 30s, 5m, 1h)"},
	{"json", 0, OPT_FLAG(T, json),
	 .help = "print the final report as JSON (docs/json-schema.md)"},
	{"output", 'o', OPT_STRING(T, output), .arg = "FILE",
	 .help = "write the final report to FILE instead of stdout"},
	{"full", 0, OPT_FLAG(T, full),
	 .help = "the text report lists every group, site and thread\n"
		 "(by default the first few of each, the rest counted)"},
	{"record", 0, OPT_STRING(T, record), .arg = "FILE",
	 .help = "keep the trace in FILE, a snapshot of the report every\n"
		 "5s and the final one, to render later with 'strand\n"
		 "report' (any format, any machine); a crash loses at\n"
		 "most the last 5s"},
	{"record-every", 0, OPT_DURATION(T, record_every_ns, MIN_PERIOD_NS, 0), .arg = "DURATION",
	 .help = "snapshot period of --record (default 5s)"},
	{NULL, 0, REPORT_OUT_OPTIONS(T, outs)},
	{"threshold", 't', OPT_DURATION(T, threshold_ns, MIN_PERIOD_NS, 0), .arg = "DURATION",
	 .help = "blocked this long before a thread or goroutine is\n"
		 "judged at all (default 30s)"},
	{"interval", 0, OPT_DURATION(T, interval_ns, MIN_PERIOD_NS, 0), .arg = "DURATION",
	 .help = "live refresh period on a terminal (default 2s)"},
	{"no-live", 0, OPT_CLEAR(T, live), .help = "no live refresh, only the final report"},
	{"max-tasks", 0, OPT_COUNT(T, max_tasks, 1, UINT32_MAX), .arg = "N",
	 .help = "tasks tracked at most; more are counted, not tracked"},
	{"max-goroutines", 0, OPT_COUNT(T, max_goroutines, 1, UINT32_MAX), .arg = "N",
	 .help = "goroutines of a process kept in full (default 2097152);\n"
		 "more are counted at their spawn sites only"},
	{"go-states", 0, OPT_COUNT(T, go_states, 4, 1u << 26), .arg = "N",
	 .help = "goroutines the probes keep a record of (parent; park\n"
		 "time with --exact-waits), all processes together\n"
		 "(default 262144, 40 bytes each of kernel memory)"},
	{"ringbuf", 0, OPT_SIZE(T, ringbuf_bytes, 4096), .arg = "SIZE",
	 .help = "the kernel's event buffer (default 8M, a power of two);\n"
		 "what overflows it is counted and reported as dropped"},
	{"runaway", 0, OPT_COUNT(T, runaway, 2, UINT32_MAX), .arg = "N",
	 .help = "a spawn site with N tasks alive at once, or one parent\n"
		 "spawning N there, is a runaway (default 1000)"},
	{"no-go-probes", 0, OPT_FLAG(T, no_go_probes),
	 .help = "Go programs: read goroutines by snapshots only, no\n"
		 "uprobes on the runtime (no spawn stacks, no parents)"},
	{"exact-waits", 0, OPT_FLAG(T, exact_waits),
	 .help = "Go programs: time each wait from its park, by uprobes on\n"
		 "the runtime's park and ready (a trap each, 0.5-2 us:\n"
		 "a channel-heavy program runs up to 8-14x slower); by\n"
		 "default the scans time them from the runtime's state,\n"
		 "to a scan's precision, at no cost to the program"},
	{"overhead", 0, OPT_PERCENT(T, overhead_pct), .arg = "PERCENT",
	 .help = "Go programs: what the spawn probes (a trap at every\n"
		 "goroutine made and ended) may cost each process, in\n"
		 "% of one CPU (default 1); past it they are detached\n"
		 "and armed again for moments, counts then from scans"},
	{"quiet", 'q', OPT_CALL(options__take_quiet), .help = "no progress messages on stderr"},
	{"verbose", 'v', OPT_FLAG(T, verbose), .help = "libbpf's own diagnostics"},
	{"help", 'h', OPT_HELP, .help = "this help"},
	{0},
};

#undef T

void trace__usage(FILE *f)
{
	fputs("Usage: strand trace [OPTIONS] [-p PID | -- COMMAND [ARGS...]]\n"
	      "\n"
	      "Trace which spawn sites create a process's threads and goroutines, and which are\n"
	      "stuck and why, live, with no change to the process.\n"
	      "With -p, attach to a running process; with -- COMMAND, start it and trace it and\n"
	      "the processes it forks until it exits; with neither, trace every process.\n"
	      "\n"
	      "Options:\n",
	      f);
	options__help(trace_options, f);
	fputs("\n"
	      "The report first lists blocked threads by verdict, grouped by (spawn site, wait\n"
	      "site), each with its evidence: DEADLOCK (a cycle of mutex owners), STRANDED on\n"
	      "a proof (a mutex whose owner is gone, a join on a stuck thread) or on evidence\n"
	      "of forgetting (an untimed wait nothing served, in a group that grew while traced\n"
	      "with something else against it: an object of its own each, a spawner gone, a\n"
	      "silent peer, a lock held all along), IDLE (timed waits, accept, sleeps, a pool\n"
	      "that is served, or a flat group made at start-up), the runtime's own threads\n"
	      "(JVM, jemalloc, ...) apart, and what has no verdict. Being blocked long is no\n"
	      "evidence (docs/verdicts.md). Then the spawn sites by live threads: how many\n"
	      "each created, how many are alive, the spawn rate, the start routine and the\n"
	      "spawner's stack symbolized to function and file:line. Threads alive before\n"
	      "strand attached are listed under a \"before attach\" site, and their waits with\n"
	      "their real age. The trace ends on Ctrl-C, after --for, or when the target\n"
	      "exits. strand scans the waits once a second (a quarter of the threshold when\n"
	      "shorter); a scan that takes over 0.1 s of CPU (a million goroutines) spaces the\n"
	      "scans to keep them within 3% of a CPU, and the report says so.\n"
	      "\n"
	      "Go programs (Go 1.18 to 1.27 on x86-64, stripped, PIE or cgo) are recognized:\n"
	      "their goroutines are listed by (go statement, state, wait site), like Go's own\n"
	      "`goroutine N [chan receive]`, with the channels they wait on and, in IO wait,\n"
	      "their connection. Waits are timed from the runtime's own state at each scan\n"
	      "(g.trackingSeq tells a new wait from the old); uprobes on its create and exit\n"
	      "give spawn stacks, callers and fan-out, within --overhead. A leak-prone wait\n"
	      "(channel, select, sync) never woken past the threshold is STRANDED when the\n"
	      "evidence says it was forgotten (several made by calls that are over, a growing\n"
	      "group, a lock held that long, a call whose peer never answered); select {} and\n"
	      "nil channels always are (but one select {} in main, or made at start-up, is\n"
	      "idle: the idiom for \"run forever\"); one channel shared by a flat group is an\n"
	      "idle pool. Proofs, at any age: DEADLOCK when every goroutine of the program\n"
	      "sleeps on channels and locks at two scans with no timer left to wake one (a\n"
	      "test's -test.timeout alarm excepted); STRANDED \"proven unreachable\" when two\n"
	      "heap walks find no goroutine able to run, nor any global, that can reach the\n"
	      "channel or lock it waits on (the process held still with ptrace for each walk, at\n"
	      "most 250 ms, every 2 s at most, only while such waits are unproven).\n"
	      "Each thread of a Go program says what the runtime uses it for; a goroutine in a\n"
	      "system call or C call takes its thread's verdict. RUNAWAY SPAWN marks sites\n"
	      "fanning out by their input or only growing (threads too).\n"
	      "\n"
	      "CI mode (-- COMMAND): every process of COMMAND is held a moment on its way out\n"
	      "(Go's runtime.exit, libc's _exit) and read as its exit leaves it; what is still\n"
	      "blocked then was left behind, as goleak says: STRANDED, proven, whatever its\n"
	      "age (the runtimes' own tasks, timed waits, testing's and os/signal's excepted).\n"
	      "Should strand die, a guardian process lets every held process go.\n"
	      "\n"
	      "Examples:\n"
	      "  strand trace -p $(pidof myserver) --for 30s\n"
	      "  strand trace --json -o report.json -- ./integration-tests\n"
	      "  strand trace -p $(pidof api) --for 1m --svg leaks.svg --pprof leaks.pb.gz\n"
	      "  strand trace -p $(pidof api) --record api.strand   # strand report api.strand\n"
	      "  strand trace --for 10s            # every process on the machine\n"
	      "\n"
	      "Exit status:\n"
	      "  0  traced and reported     3  no such process, or COMMAND cannot run\n"
	      "  1  strand failed           4  not permitted (needs root or CAP_BPF+CAP_PERFMON)\n"
	      "  2  bad command line        5  the kernel lacks BPF features strand needs\n"
	      " 10  stranded or deadlocked threads or goroutines remained at the end (or when\n"
	      "     the target exited): for CI, 'strand trace -- go test ./...' fails on a\n"
	      "     goroutine a test left blocked, in the test binaries go test runs too\n"
	      "  Otherwise, with -- COMMAND, a failing COMMAND's own exit status is passed\n"
	      "  through.\n",
	      f);
}

static const struct opt_command trace_command = {
	.name = "trace",
	.table = trace_options,
	.usage = trace__usage,
	/* "+": stop at the first non-option, so COMMAND's own options stay its own */
	.stop_at_operand = true,
};

int trace_opts__parse(int argc, char **argv, struct trace_opts *o)
{
	int operand, code;

	memset(o, 0, sizeof(*o));
	o->interval_ns = DEFAULT_INTERVAL_NS;
	o->threshold_ns = DEFAULT_THRESHOLD_NS;
	o->live = true;
	o->max_tasks = DEFAULT_MAX_TASKS;
	o->max_goroutines = DEFAULT_MAX_GOROUTINES;
	o->runaway = RUNAWAY_DEFAULT;
	o->record_every_ns = DEFAULT_RECORD_EVERY_NS;
	o->argc = argc;
	o->argv = argv;
	if ((code = options__parse(&trace_command, argc, argv, o, &operand)))
		return code;
	if (operand < argc)
		o->command = argv + operand;
	if (o->pid && o->command) {
		say("give either -p PID or -- COMMAND, not both");
		return STRAND_EXIT_USAGE;
	}
	if (o->follow && !o->pid) {
		say(o->command ? "-f is for -p PID: a command's children are always followed"
			       : "-f follows the children of -p PID: give -p PID");
		return STRAND_EXIT_USAGE;
	}
	if (o->json || o->output || !isatty(STDOUT_FILENO))
		o->live = false;
	if (o->output && output__check(o->output))
		return STRAND_EXIT_ERROR;
	if (o->record && output__check(o->record))
		return STRAND_EXIT_ERROR;
	return report_outputs__check(&o->outs);
}
