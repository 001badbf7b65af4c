// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"
#include "engine.h"
#include "goroutines.h"
#include "loader.h"
#include "model.h"
#include "procfs.h"
#include "report.h"
#include "recording.h"
#include "report_doc.h"
#include "output.h"
#include "report_out.h"
#include "trace.h"
#include "golayout.h"
#include "util.h"

#define NSEC			1000000000LL
#define DEFAULT_INTERVAL_NS	(2 * NSEC)
#define DEFAULT_THRESHOLD_NS	(30 * NSEC)
#define DEFAULT_MAX_TASKS	(1u << 20)
#define DEFAULT_MAX_GOROUTINES	(1u << 21)
#define DEFAULT_RECORD_EVERY_NS (5 * NSEC)

struct trace_opts {
	pid_t pid;	      /* -p */
	char **command;	      /* after -- */
	int64_t duration_ns;  /* --for, 0: until the target exits or Ctrl-C */
	int64_t interval_ns;  /* live refresh */
	int64_t threshold_ns; /* blocked this long: a stranded candidate */
	bool no_go_probes, exact_waits;
	double overhead_pct;
	bool json, live, verbose;
	bool full;   /* the final text report lists everything */
	bool follow; /* -p PID -f: its descendants too, those running and those to come */
	const char *output;
	const char *record;	 /* --record FILE */
	int64_t record_every_ns; /* a snapshot this often */
	struct report_outputs outs;
	int argc;
	char **argv;
	uint32_t max_tasks;
	uint32_t ringbuf_bytes; /* 0: the default */
	uint32_t max_goroutines;
	uint32_t go_states; /* 0: the default */
	uint32_t runaway;
};

struct trace {
	struct trace_opts opts;
	struct engine e;
	bool go_unsupported;
	char go_warning[256];
	pid_t child; /* the command started with -- */
	int child_status;
	bool child_done;
	bool target_gone;
	int descendants; /* -f: the processes descended from -p PID when it attached */
	struct recorder *recorder;
	uint64_t next_record_ns;
	bool record_failed;
};

static volatile sig_atomic_t stop_requested; /* the signal that asked */

static void on_signal(int sig)
{
	stop_requested = sig;
}

/* Interrupted before the trace began (loading and attaching take seconds on a busy
 * machine): nothing to report, and nothing gained by finishing the attach first. */
static bool interrupted_early(int *code)
{
	if (!stop_requested)
		return false;
	say("interrupted before the trace began: nothing to report");
	*code = 128 + stop_requested;
	return true;
}

void trace__usage(FILE *f)
{
	fputs("Usage: strand trace [OPTIONS] [-p PID | -- COMMAND [ARGS...]]\n"
	      "\n"
	      "Trace which spawn sites create a process's threads and goroutines, and which are\n"
	      "stuck and why, live, with no change to the process.\n"
	      "With -p, attach to a running process; with -- COMMAND, start it and trace it and\n"
	      "the processes it forks until it exits; with neither, trace every process.\n"
	      "\n"
	      "Options:\n"
	      "  -p, --pid PID          trace the running process PID (its threads and\n"
	      "                         goroutines; the trace ends when it exits)\n"
	      "  -f, --follow           with -p: the processes it forked and will fork too,\n"
	      "                         their children included (like strace -f)\n"
	      "  -d, --for DURATION     stop after DURATION (500ms, 30s, 5m, 1h)\n"
	      "      --json             print the final report as JSON (docs/json-schema.md)\n"
	      "  -o, --output FILE      write the final report to FILE instead of stdout\n"
	      "      --full             the text report lists every group, site and thread\n"
	      "                         (by default the first few of each, the rest counted)\n"
	      "      --record FILE      keep the trace in FILE, a snapshot of the report every\n"
	      "                         5s and the final one, to render later with 'strand\n"
	      "                         report' (any format, any machine); a crash loses at\n"
	      "                         most the last 5s\n"
	      "      --record-every DURATION  snapshot period of --record (default 5s)\n",
	      f);
	fputs(report_outputs__help, f);
	fputs("  -t, --threshold DURATION  blocked this long before a thread or goroutine is\n"
	      "                         judged at all (default 30s)\n"
	      "      --interval DURATION  live refresh period on a terminal (default 2s)\n"
	      "      --no-live          no live refresh, only the final report\n"
	      "      --max-tasks N      tasks tracked at most; more are counted, not tracked\n"
	      "      --max-goroutines N  goroutines of a process kept in full (default 2097152);\n"
	      "                         more are counted at their spawn sites only\n"
	      "      --go-states N      goroutines the probes keep a record of (parent; park\n"
	      "                         time with --exact-waits), all processes together\n"
	      "                         (default 262144, 40 bytes each of kernel memory)\n"
	      "      --ringbuf SIZE     the kernel's event buffer (default 8M, a power of two);\n"
	      "                         what overflows it is counted and reported as dropped\n"
	      "      --runaway N        a spawn site with N tasks alive at once, or one parent\n"
	      "                         spawning N there, is a runaway (default 1000)\n"
	      "      --no-go-probes     Go programs: read goroutines by snapshots only, no\n"
	      "                         uprobes on the runtime (no spawn stacks, no parents)\n"
	      "      --exact-waits      Go programs: time each wait from its park, by uprobes on\n"
	      "                         the runtime's park and ready (a trap each, 0.5-2 us:\n"
	      "                         a channel-heavy program runs up to 8-14x slower); by\n"
	      "                         default the scans time them from the runtime's state,\n"
	      "                         to a scan's precision, at no cost to the program\n"
	      "      --overhead PERCENT  Go programs: what the spawn probes (a trap at every\n"
	      "                         goroutine made and ended) may cost each process, in\n"
	      "                         % of one CPU (default 1); past it they are detached\n"
	      "                         and armed again for moments, counts then from scans\n"
	      "  -q, --quiet            no progress messages on stderr\n"
	      "  -v, --verbose          libbpf's own diagnostics\n"
	      "  -h, --help             this help\n"
	      "\n"
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

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	enum {
		OPT_JSON = 256,
		OPT_INTERVAL,
		OPT_NO_LIVE,
		OPT_MAX_TASKS,
		OPT_RINGBUF,
		OPT_MAX_GOROUTINES,
		OPT_GO_STATES,
		OPT_NO_GO_PROBES,
		OPT_EXACT_WAITS,
		OPT_OVERHEAD,
		OPT_RUNAWAY,
		OPT_RECORD,
		OPT_RECORD_EVERY,
		OPT_FULL,
	};
	static const struct option longopts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"follow", no_argument, NULL, 'f'},
		{"for", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, OPT_JSON},
		{"output", required_argument, NULL, 'o'},
		{"interval", required_argument, NULL, OPT_INTERVAL},
		{"threshold", required_argument, NULL, 't'},
		{"no-live", no_argument, NULL, OPT_NO_LIVE},
		{"full", no_argument, NULL, OPT_FULL},
		{"no-go-probes", no_argument, NULL, OPT_NO_GO_PROBES},
		{"exact-waits", no_argument, NULL, OPT_EXACT_WAITS},
		{"overhead", required_argument, NULL, OPT_OVERHEAD},
		{"max-tasks", required_argument, NULL, OPT_MAX_TASKS},
		{"ringbuf", required_argument, NULL, OPT_RINGBUF},
		{"max-goroutines", required_argument, NULL, OPT_MAX_GOROUTINES},
		{"go-states", required_argument, NULL, OPT_GO_STATES},
		{"runaway", required_argument, NULL, OPT_RUNAWAY},
		{"record", required_argument, NULL, OPT_RECORD},
		{"record-every", required_argument, NULL, OPT_RECORD_EVERY},
		REPORT_OUT_OPTIONS,
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint32_t u;
	int c;

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
	optind = 1;
	/* "+": stop at the first non-option, so COMMAND's own options stay its own */
	while ((c = getopt_long(argc, argv, "+p:fd:o:t:qvh", longopts, NULL)) != -1) {
		int taken = report_outputs__option(&o->outs, c, optarg);

		if (taken < 0)
			return STRAND_EXIT_USAGE;
		if (taken)
			continue;
		switch (c) {
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_RECORD_EVERY:
			o->record_every_ns = duration__parse(optarg);
			if (o->record_every_ns < 100000000) {
				say("invalid --record-every '%s': expected at least 100ms", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case 'p':
			if (!parse_u32(optarg, &u) || u == 0 || u > 4194304) {
				say("invalid pid '%s': expected a process id", optarg);
				return STRAND_EXIT_USAGE;
			}
			o->pid = (pid_t)u;
			break;
		case 'f':
			o->follow = true;
			break;
		case 'd':
			o->duration_ns = duration__parse(optarg);
			if (o->duration_ns <= 0) {
				say("invalid duration '%s': expected e.g. 500ms, 30s, 5m", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case 't':
			o->threshold_ns = duration__parse(optarg);
			if (o->threshold_ns < 100000000) {
				say("invalid threshold '%s': expected at least 100ms", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_INTERVAL:
			o->interval_ns = duration__parse(optarg);
			if (o->interval_ns < 100000000) {
				say("invalid interval '%s': expected at least 100ms", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_NO_LIVE:
			o->live = false;
			break;
		case OPT_FULL:
			o->full = true;
			break;
		case OPT_NO_GO_PROBES:
			o->no_go_probes = true;
			break;
		case OPT_EXACT_WAITS:
			o->exact_waits = true;
			break;
		case OPT_OVERHEAD:
			if (!parse_overhead_arg(optarg, &o->overhead_pct))
				return STRAND_EXIT_USAGE;
			break;
		case OPT_RINGBUF:
			if (!parse_size(optarg, &o->ringbuf_bytes) || o->ringbuf_bytes < 4096 ||
			    (o->ringbuf_bytes & (o->ringbuf_bytes - 1))) {
				say("invalid --ringbuf '%s': expected a power of two from 4K, like "
				    "8M",
				    optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_GO_STATES:
			if (!parse_u32(optarg, &o->go_states) || o->go_states < 4 ||
			    o->go_states > (1u << 26)) {
				say("invalid --go-states '%s': expected 4 to 67108864", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_MAX_GOROUTINES:
			if (!parse_u32(optarg, &o->max_goroutines) || !o->max_goroutines) {
				say("invalid --max-goroutines '%s'", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_MAX_TASKS:
			if (!parse_u32(optarg, &o->max_tasks) || !o->max_tasks) {
				say("invalid --max-tasks '%s'", optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case OPT_RUNAWAY:
			if (!parse_u32(optarg, &o->runaway) || o->runaway < 2) {
				say("invalid --runaway '%s': expected a count of at least 2",
				    optarg);
				return STRAND_EXIT_USAGE;
			}
			break;
		case 'q':
			strand_quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			trace__usage(stdout);
			exit(STRAND_EXIT_OK);
		default:
			fputs("Try 'strand trace --help'.\n", stderr);
			return STRAND_EXIT_USAGE;
		}
	}
	if (optind < argc)
		o->command = argv + optind;
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

static void on_process_exit(void *ctx, pid_t pid, int exit_code)
{
	struct trace *t = ctx;

	if (t->opts.pid == pid) {
		t->target_gone = true;
		note("pid %d exited during the trace (status %d); reporting what was seen", pid,
		     exit_code >> 8);
	}
}

/*
 * Starts COMMAND stopped before exec, so that it can be made a target before it runs a
 * single instruction of its own; release_child() lets it go. Exec failures come back
 * through a close-on-exec pipe.
 */
static int start_child(struct trace *t, int *go_fd, int *err_fd)
{
	int go[2], err[2];

	if (pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		say("cannot start '%s': %s", t->opts.command[0], strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	t->child = fork();
	if (t->child < 0) {
		say("cannot start '%s': %s", t->opts.command[0], strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	if (t->child == 0) {
		char c;
		int e;

		close(go[1]);
		close(err[0]);
		/* strand may stop this process for a moment (for its memory map): should strand
		 * die meanwhile, the kernel sends the SIGCONT it owes */
		prctl(PR_SET_PDEATHSIG, SIGCONT);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(t->opts.command[0], t->opts.command);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	*go_fd = go[1];
	*err_fd = err[0];
	return 0;
}

/* The trace ends before COMMAND (Ctrl-C, --for): ask it to stop, then insist. */
static void stop_child(pid_t child)
{
	kill(child, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(child, NULL, WNOHANG) == child)
			return;
		usleep(20000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static int release_child(struct trace *t, int go_fd, int err_fd)
{
	int e = 0;
	ssize_t n;

	if (write(go_fd, "g", 1) != 1)
		e = errno;
	close(go_fd);
	n = read(err_fd, &e, sizeof(e));
	close(err_fd);
	if (n == sizeof(e) || e) {
		say("cannot run '%s': %s", t->opts.command[0], strerror(e));
		waitpid(t->child, NULL, 0);
		t->child = 0;
		return e == ENOENT || e == EACCES || e == ENOTDIR ? STRAND_EXIT_NO_TARGET
								  : STRAND_EXIT_ERROR;
	}
	return 0;
}

/* Whether the target is a Go program whose goroutines cannot be read: the report says so. */
static void on_go_scan(void *ctx, pid_t pid, int res)
{
	struct trace *t = ctx;

	if (pid != (t->opts.pid ? t->opts.pid : t->child))
		return;
	t->go_unsupported = res == GO_UNSUPPORTED;
	if (t->go_unsupported) {
		snprintf(t->go_warning, sizeof(t->go_warning),
			 "the target is a Go program whose goroutines strand cannot read (%s): "
			 "only its threads are listed",
			 go_tracker__problem(t->e.go, pid) ?: "unknown runtime layout");
	}
}

/* A Go program linked statically maps no C library: its threads are the runtime's, started
 * by its own clone, and there is nothing to probe or to say. */
static bool no_libc_needed(const struct trace *t, int err)
{
	char exe[64];

	if (err != -ENOENT || !t->opts.pid)
		return false;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->opts.pid);
	return golayout__is_go(exe);
}

static int setup_targets(struct trace *t)
{
	int go_fd = -1, err_fd = -1, err;

	if (t->opts.pid) {
		if (!procfs__exists(t->opts.pid)) {
			say("cannot attach to pid %d: no such process", t->opts.pid);
			return STRAND_EXIT_NO_TARGET;
		}
		uint32_t flags = STRAND_TARGET_TRACE | engine__target_flags(&t->e, t->opts.pid) |
				 (t->opts.follow ? STRAND_TARGET_FOLLOW_FORKS : 0);

		err = loader__add_target(t->e.ld, t->opts.pid, flags);
		if (!err)
			err = engine__add_existing(&t->e, t->opts.pid) < 0 ? -ESRCH : 0;
		if (!err && t->opts.follow &&
		    (t->descendants = engine__add_descendants(&t->e, t->opts.pid, flags)) < 0) {
			say("cannot list the children of pid %d: %s", t->opts.pid,
			    strerror(-t->descendants));
			return STRAND_EXIT_ERROR;
		}
		if (err == -ESRCH) {
			say("cannot attach to pid %d: no such process", t->opts.pid);
			return STRAND_EXIT_NO_TARGET;
		}
		if (err) {
			say("cannot trace pid %d: %s", t->opts.pid, strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		collector__prefetch(t->e.col, t->opts.pid);
		err = loader__attach_pthread_probe(t->e.ld, t->opts.pid);
	} else if (t->opts.command) {
		err = start_child(t, &go_fd, &err_fd);
		if (err)
			return err;
		err = loader__add_target(t->e.ld, t->child,
					 STRAND_TARGET_TRACE | STRAND_TARGET_FOLLOW_FORKS |
						 STRAND_TARGET_STOP_FOR_MAPS |
						 engine__target_flags(&t->e, t->child));
		if (err) {
			say("cannot trace '%s': %s", t->opts.command[0], strerror(-err));
			kill(t->child, SIGKILL);
			waitpid(t->child, NULL, 0);
			return STRAND_EXIT_ERROR;
		}
		/* the child waits for its go-ahead: only a /proc it cannot be read from fails */
		if ((err = engine__add_existing(&t->e, t->child)) < 0) {
			say("cannot read the threads of '%s' (pid %d): %s", t->opts.command[0],
			    t->child, strerror(-err));
			kill(t->child, SIGKILL);
			waitpid(t->child, NULL, 0);
			return STRAND_EXIT_ERROR;
		}
		err = loader__attach_pthread_probe(t->e.ld, -1);
	} else {
		if ((err = engine__add_existing(&t->e, 0)) < 0) {
			say("cannot list the processes in /proc: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		err = loader__attach_pthread_probe(t->e.ld, -1);
	}
	if (err && !no_libc_needed(t, err))
		note("start routines unknown: no pthread_create probe (%s)", strerror(-err));
	if (t->opts.pid) {
		struct process *p = model__find_process(&t->e.model, t->opts.pid);

		if ((err = engine__scan(&t->e))) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		if (t->opts.follow)
			note("attached to pid %d (%s) and its %d descendant process%s, and to "
			     "those "
			     "it will fork",
			     t->opts.pid, p ? p->comm : "?", t->descendants,
			     t->descendants == 1 ? "" : "es");
		else
			note("attached to pid %d (%s)", t->opts.pid, p ? p->comm : "?");
	} else if (t->opts.command) {
		note("attached; starting '%s' as pid %d", t->opts.command[0], t->child);
		return release_child(t, go_fd, err_fd);
	} else {
		note("attached to every process (%zu threads already running)",
		     t->e.model.tasks.len);
	}
	return 0;
}

static void build_report(struct trace *t, struct report *r, bool final)
{
	engine__report(&t->e, r, final, t->target_gone || t->child_done);
	if (t->target_gone)
		report__warn(r, "the target exited during the trace");
	if (t->go_unsupported)
		report__warn(r, t->go_warning);
}

/* The text report is rendered from the report document, as `strand report` renders a
 * recording: what a trace says live is what its recording says later. */
static void render_text(const struct report *r, FILE *f)
{
	struct report_doc doc;

	if (report__doc(r, &doc))
		return;
	report_doc__text(&doc, f);
	report_doc__free(&doc);
}

static void render_live(struct trace *t)
{
	struct report r;

	build_report(t, &r, false);
	r.tasks_per_site = REPORT_TEXT_TASKS_PER_SITE + 1;
	fputs("\033[H\033[2J", stdout);
	render_text(&r, stdout);
}

/* A full disk ends the recording, not the trace: the report at the end still comes. */
static void record_snapshot(struct trace *t, const struct report_doc *doc, bool final)
{
	int err;

	if (!t->recorder || t->record_failed)
		return;
	err = recorder__write(t->recorder, doc, (double)(now_mono_ns() - t->e.start_ns) / 1e9,
			      final);
	if (err) {
		say("recording to '%s' stopped: %s", t->opts.record, strerror(-err));
		t->record_failed = true;
	}
	t->next_record_ns = now_mono_ns() + (uint64_t)t->opts.record_every_ns;
}

static void record_live(struct trace *t)
{
	struct report_doc doc;
	struct report r;

	build_report(t, &r, false);
	if (report__doc(&r, &doc)) {
		t->next_record_ns = now_mono_ns() + (uint64_t)t->opts.record_every_ns;
		return;
	}
	record_snapshot(t, &doc, false);
	report_doc__free(&doc);
}

static int write_report(struct trace *t, const struct report *r, const struct report_doc *doc)
{
	struct output out;
	int code;

	/* an output file sent to stdout takes the place of the text report there */
	if (!t->opts.output && !t->opts.json && report_outputs__to_stdout(&t->opts.outs))
		return 0;
	if ((code = output__open(&out, t->opts.output)))
		return code;
	if (t->opts.json)
		report__json(out.f, r);
	else
		report_doc__text(doc, out.f);
	return output__close(&out);
}

static int render_final(struct trace *t)
{
	struct report_doc doc = {0};
	struct report r;
	int code;

	build_report(t, &r, true);
	/* the document is what the text, the recording and the profiles are rendered from;
	 * --json alone is written from the report itself, and the text alone needs a few
	 * tasks of each site */
	if (!t->opts.json && !t->recorder && !report_outputs__any(&t->opts.outs) && !t->opts.full)
		r.tasks_per_site = REPORT_TEXT_TASKS_PER_SITE + 1;
	if ((!t->opts.json || t->recorder || report_outputs__any(&t->opts.outs)) &&
	    report__doc(&r, &doc)) {
		say("cannot build the report document");
		return STRAND_EXIT_ERROR;
	}
	doc.full = t->opts.full;
	record_snapshot(t, &doc, true);
	code = write_report(t, &r, &doc);
	if (!code)
		code = report_outputs__write(&t->opts.outs, &doc);
	report_doc__free(&doc);
	if (t->recorder) {
		int err = recorder__close(t->recorder);

		t->recorder = NULL;
		if (err && !t->record_failed)
			say("cannot write '%s': %s", t->opts.record, strerror(-err));
		if ((err || t->record_failed) && !code)
			code = STRAND_EXIT_ERROR;
	}
	return code;
}

static bool should_stop(struct trace *t)
{
	uint64_t now = now_mono_ns();

	if (stop_requested)
		return true;
	if (t->opts.duration_ns && now - t->e.start_ns >= (uint64_t)t->opts.duration_ns)
		return true;
	if (t->child && !t->child_done && waitpid(t->child, &t->child_status, WNOHANG) == t->child)
		t->child_done = true;
	if (t->child_done || t->target_gone)
		return true;
	if (t->opts.pid && !procfs__exists(t->opts.pid)) {
		t->target_gone = true;
		return true;
	}
	return false;
}

static int run_loop(struct trace *t)
{
	uint64_t next_render = t->e.start_ns + (uint64_t)t->opts.interval_ns;
	int err;

	while (!should_stop(t)) {
		err = engine__poll(&t->e, 100);
		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		if (t->opts.live && now_mono_ns() >= next_render) {
			render_live(t);
			next_render = now_mono_ns() + (uint64_t)t->opts.interval_ns;
		}
		if (t->recorder && now_mono_ns() >= t->next_record_ns)
			record_live(t);
	}
	/* events of the last moments, the target's exit among them; a last look at the waits
	 * of a target still there (one that exited is reported as its last scan saw it) */
	err = t->target_gone || t->child_done ? engine__drain(&t->e) : engine__scan(&t->e);
	if (err) {
		say("reading events failed: %s", strerror(-err));
		return STRAND_EXIT_ERROR;
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct engine_opts eopts = {0};
	struct trace t = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	int err, code = STRAND_EXIT_OK;

	err = parse_opts(argc, argv, &t.opts);
	if (err)
		return err;
	const char *untraceable = t.opts.pid ? procfs__untraceable(t.opts.pid) : NULL;

	if (untraceable) {
		say("cannot attach to pid %d: %s", t.opts.pid, untraceable);
		return STRAND_EXIT_NO_TARGET;
	}
	if (t.opts.record) {
		t.recorder = recorder__open(t.opts.record, t.opts.argc, t.opts.argv,
					    (double)t.opts.record_every_ns / 1e9, &err);
		if (!t.recorder) {
			say("cannot write '%s': %s", t.opts.record, strerror(-err));
			return STRAND_EXIT_ERROR;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	eopts.all = !t.opts.pid && !t.opts.command;
	eopts.only_pid = t.opts.follow ? 0 : t.opts.pid; /* -f: every process it forks too */
	eopts.threshold_ns = t.opts.threshold_ns;
	eopts.max_tasks = t.opts.max_tasks;
	eopts.ringbuf_bytes = t.opts.ringbuf_bytes;
	eopts.max_goroutines = t.opts.max_goroutines;
	eopts.go_states = t.opts.go_states;
	eopts.runaway = t.opts.runaway;
	eopts.go_probes = !t.opts.no_go_probes;
	eopts.exact_waits = t.opts.exact_waits;
	eopts.overhead_pct = t.opts.overhead_pct ? t.opts.overhead_pct : DEFAULT_OVERHEAD_PCT;
	/* what a traced process leaves when it exits is read as it leaves it; for a command
	 * strand runs (CI), a goroutine it leaves blocked is a leak */
	eopts.hold_at_exit = t.opts.pid || t.opts.command;
	eopts.exit_leaks = t.opts.command != NULL;
	eopts.verbose = t.opts.verbose;
	code = engine__start(&t.e, &eopts);
	if (code || interrupted_early(&code))
		goto out;
	t.e.on_exit = on_process_exit;
	t.e.on_exit_ctx = &t;
	t.e.on_go_scan = on_go_scan;
	t.e.on_go_scan_ctx = &t;
	t.next_record_ns = t.e.start_ns + (uint64_t)t.opts.record_every_ns;
	code = setup_targets(&t);
	if (code || interrupted_early(&code))
		goto out;
	code = run_loop(&t);
	if (!code)
		code = render_final(&t);
	if (!code && engine__leaks_remain(&t.e))
		code = STRAND_EXIT_STRANDED;
	else if (!code && t.child_done && WIFEXITED(t.child_status) && WEXITSTATUS(t.child_status))
		code = WEXITSTATUS(t.child_status);
out:
	if (t.recorder)
		recorder__close(t.recorder);
	if (t.child && !t.child_done)
		stop_child(t.child);
	engine__stop(&t.e);
	return code;
}
