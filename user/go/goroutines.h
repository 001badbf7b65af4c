/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Goroutines of traced Go processes. Two levels, combined when both are there:
 * - snapshots: at every scan the runtime's goroutine list is read from the target's memory
 *   (id, creation pc, start function, status, wait reason, the stack where it waits, the
 *   channel it waits on), grouped by (creation site, state, wait site); no cost to the
 *   target;
 * - probes on the runtime (create, exit, park, ready): exact park times (a goroutine never
 *   woken since it parked), the spawner's full stack once per site, the parent goroutine,
 *   spawned/exited counts and the fan-out per site.
 * Verdicts follow product.md (godetect.c): waits the runtime says can never end are
 * stranded; leak-prone waits past the threshold never woken are stranded when the evidence
 * supports it; network and timer waits are idle; a site fanning out by its input is a
 * runaway.
 */
#ifndef STRAND_GOROUTINES_H
#define STRAND_GOROUTINES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/timeline.h"
#include "sym/symbolize.h"
#include "verdicts/runaway.h"

struct json;
struct loader;
struct go_layout;
struct strand_go_site_event;

enum go_verdict {
	GO_VERDICT_NONE,
	GO_VERDICT_IDLE,     /* blocked long on a wait that is healthy when long (I/O, timers) */
	GO_VERDICT_STRANDED, /* blocked for good, with the evidence below */
	GO_VERDICT_DEADLOCK, /* the whole program asleep, nothing left to wake it (proof) */
};

const char *go_verdict__name(enum go_verdict v);
/* Stranded or deadlocked: blocked for good. */
bool go_verdict__stuck(enum go_verdict v);

/* What the fd of a goroutine in IO wait is. */
enum net_kind {
	NET_UNKNOWN,   /* not known: netpoll layout not proved, or not described */
	NET_LISTENING, /* a listener: the goroutine is in accept */
	NET_INBOUND,   /* a connection accepted here: waiting for its client */
	NET_OUTBOUND,  /* a connection this process made: waiting for its peer */
	NET_PIPE,
	NET_OTHER, /* a Unix or UDP socket, a file, ... */
};

#define GO_MAX_EVIDENCE	    6
#define GO_MAX_SPAWN_FRAMES 16 /* inlined calls count as frames */
#define GO_MAX_WAIT_FRAMES  24

#define GO_MAX_CALLERS 8

/* Where a go statement's function was called from, and the spawner's stack from there. */
struct go_caller {
	uint64_t pc;				     /* return address into the caller */
	struct sym_frame stack[GO_MAX_SPAWN_FRAMES]; /* the go statement first */
	int depth;
	uint64_t spawned; /* while traced */
};

/* One `go` statement of one process, while it is traced. */
struct go_site {
	pid_t pid;
	uint32_t id;  /* printed "g<id>", stable within one trace */
	bool runtime; /* started by the runtime for itself (GC workers, ...) */
	uint64_t gopc;
	struct sym_frame created_at; /* the `go` statement */
	struct sym_frame start;	     /* the goroutine's function */
	/* the spawner's stack from the create probe, `go` statement first (0: not seen):
	 * the first caller's */
	struct sym_frame spawn_stack[GO_MAX_SPAWN_FRAMES];
	int spawn_depth;
	/* each caller of the go statement's function (a helper spawning for many) */
	struct go_caller callers[GO_MAX_CALLERS];
	int ncallers;
	uint64_t more_callers; /* callers beyond GO_MAX_CALLERS, not listed */
	uint64_t live, peak;   /* goroutines from here in the last scan; the most in one scan */
	uint64_t orphans;      /* of the live ones, created by a goroutine now gone */
	uint64_t stranded;     /* of the live ones, in stranded groups */
	/* while traced, from the create/exit probes (-1: no probes) */
	int64_t spawned, exited;
	bool counts_partial; /* the probes were shed for a while: lower bounds */
	/* live at the process's first scan, and the most alive at a later one beyond those:
	 * that many at least were made while traced, whether the probes saw them or not */
	uint64_t live_at_first, made_seen;
	uint64_t parents, max_children, max_parent_goid; /* the fan-out */
	struct timeline live_over_time;
	struct runaway_verdict runaway;
};

/* Goroutines of one site in one state, waiting at one place. */
struct go_group {
	pid_t pid;
	uint32_t site; /* index in go_tracker__sites() */
	bool runtime;
	enum go_verdict verdict;
	char state[40];
	/* what the wait stack says the wait is, when the state does not (Go 1.19 parks both
	 * sync.Mutex.Lock and sync.WaitGroup.Wait as "semacquire"); "" otherwise */
	char sync_wait[40];
	/* a channel wait's element type ("os.Signal"), from its first member; "": none known */
	char chan_elem[48];
	/* where they wait: the first member's stack, innermost first; wait_frame is the
	 * frame of the program's own code that waits (-1: none found) */
	struct sym_frame wait_stack[GO_MAX_WAIT_FRAMES];
	int wait_depth, wait_frame;
	uint64_t count;
	uint64_t blocked_long; /* blocked past the threshold, never woken since they parked */
	uint64_t served;       /* blocked past it, on a channel others were woken from since */
	uint64_t orphans;      /* of blocked_long, created by a goroutine now gone */
	/* of blocked_long, created by a goroutine still alive but no longer in the function
	 * that made them: the call returned, and with it whatever held their channels */
	uint64_t creator_returned;
	/* channels the blocked_long members wait on: how many distinct, the most members on
	 * one, and members whose channel is unknown */
	uint64_t objects, max_sharing, unknown_objects;
	uint64_t stack_bytes; /* goroutine stacks the group pins */
	/* IO waits of blocked_long members, by what their fd is (enum net_kind), and the first
	 * one's description ("TCP 127.0.0.1:40000, peer 127.0.0.1:8080") */
	uint64_t net[6];
	char net_text[160];
	/* of the outbound ones, those whose peer spoke last (tcp_info): answered, waiting for
	 * more; and the first one's conversation */
	uint64_t net_answered, net_unanswered; /* ... and those that sent last, or nothing */
	char net_talk[112];
	uint64_t min_goid, max_goid; /* of the blocked_long members: when they were created */
	/* the heap a stranded group keeps (gomem.c), measured on a few members' stacks and
	 * scaled to all of them; heap_measured 0: not measured (no DWARF, or not stranded) */
	uint64_t heap_bytes;
	int heap_measured;
	uint64_t sample_sp[4], sample_hi[4]; /* stacks of blocked_long members to measure */
	int nsamples;
	uint64_t goids_issued; /* by the process so far (its largest live id) */
	double oldest_wait_s;  /* seen by the scans in this state */
	/* exact, from the park probe; "since before attach" counts from the attach */
	double blocked_oldest_s, blocked_newest_s;
	bool blocked_before_attach;
	bool blocked_runtime_dated; /* ... from the scans, proved by g.waitsince */
	bool blocked_scan_dated;    /* ... from the scans, one wait by g.trackingSeq */
	/* the oldest wait as the runtime dates it (now - g.waitsince: Go's own dump's "[chan
	 * receive, 12 minutes]"), which may overstate it by a GC's interval; 0: not dated */
	double runtime_age_s;
	uint64_t first, peak; /* the group's count at its first scan; its largest */
	/* members in a system call or C call whose thread has a verdict of its own */
	uint64_t thread_stranded, thread_idle;
	/* members proven parked on channels nothing able to run can reach (golost.c), and
	 * what the walk that proved it read */
	uint64_t lost;
	uint64_t timed; /* members in a select with a pending timer's channel among its cases */
	uint64_t walk_objects, walk_bytes, walk_ns;
	bool std_start;	     /* its go statement's function is the standard library's */
	bool main_goroutine; /* the program's main goroutine (runs main.main) */
	bool test_goroutine; /* a test's own (go test's testing.(*T).Run made it) */
	pid_t thread_tid;    /* the first stranded one's */
	char thread_reason[192];
	char thread_evidence[3][192];
	int nthread_evidence;
	char evidence[GO_MAX_EVIDENCE][192];
	int nevidence;
	uint64_t goids[8]; /* the first members' */
	int ngoids;
	/* of the members not blocked_long (younger than the threshold, or woken since): their
	 * oldest wait and first ids; a stranded group hands them to a group of their own */
	double young_oldest_s;
	uint64_t young_goids[8];
	int nyoung_goids;
	double long_newest_s;	   /* the youngest blocked_long member's wait; -1: none */
	uint64_t long_stack_bytes; /* ... and the stacks the blocked_long members pin */
};

struct go_tracker;

/* ld may be NULL (no probes); threshold_ns is what "blocked long" means; runaway is the
 * runaway-spawn threshold (tasks alive at once or children of one parent); a process's
 * goroutines past max_goroutines (0: no limit) are counted by spawn site only. */
struct go_tracker *go_tracker__new(struct symbolizer *sym, struct loader *ld, uint64_t threshold_ns,
				   uint64_t runaway, size_t max_goroutines);
void go_tracker__free(struct go_tracker *t);

/*
 * Readies memory for the first scan of pid, a Go program whose goroutines are many (allgs, read
 * from its symbol table), on a thread of its own while the caller goes on (loading the BPF
 * objects, which keeps one CPU busy and leaves the other idle): the tables that scan writes
 * are faulted in ahead (prefault__reserve). The rest is let go after the snapshot, and all of
 * it by prefault__release once the first scan is done. Nothing for a small process, a
 * stripped binary or on one CPU.
 */
void go_tracker__warm_up(pid_t pid, size_t max_goroutines);

enum go_scan_result {
	GO_NOT_GO,	/* not a Go program */
	GO_TRACKED,	/* goroutines read */
	GO_UNSUPPORTED, /* a Go program whose runtime layout strand cannot read */
	GO_NOT_YET,	/* a Go program whose runtime has not started enough to be read yet */
};

/* Reads pid's goroutines if it is a Go program; attaches the probes at the first scan. The
 * groups are rebuilt by go_tracker__regroup(), after every process was scanned and the
 * threads judged (det, may be NULL): a goroutine in a system call takes its thread's. */
struct detection;
enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now_ns);
void go_tracker__regroup(struct go_tracker *t, const struct detection *det);
/* Tells each thread of a traced Go program what the runtime uses it for (its M): the
 * goroutine it runs or is in a system call for, or sysmon, idle, ... (model.h, task). */
struct model;
void go_tracker__annotate(struct go_tracker *t, struct model *m);

/* Holding Go processes on their way out: hold arms a probe on runtime.exit in each (trace
 * only: the daemon never holds a process); leaks judges what a process leaves blocked at
 * its exit a leak, as goleak does (the commands strand runs, in CI). */
void go_tracker__hold_exits(struct go_tracker *t, bool hold, bool leaks);
/* Waits timed exactly, by probes on every park and ready (a trap each: about 1-2 us, where
 * a park costs the runtime 0.1-0.2 us), rather than by the scans from the runtime's own
 * state (g.trackingSeq), which cost the target nothing. */
void go_tracker__exact_waits(struct go_tracker *t, bool exact);
/* Whether a state is a wait on a sync primitive (a Mutex, RWMutex, WaitGroup or Cond, or
 * the semaphore under them): someone must unlock, Done or signal. */
bool go_state_is_sync_wait(const char *state);
/* The create and exit probes may cost each process percent of one CPU, a trap costing
 * trap_ns (0: unknown, assumed 2 us); past it they are shed (gobudget.c). */
void go_tracker__overhead(struct go_tracker *t, double percent, double trap_ns);
struct strand_go_budget_event;
void go_tracker__on_over_budget(void *tracker, const struct strand_go_budget_event *ev);
/* Arms pid's exit hold now, if it is a Go program (cheap: the function table, no layout):
 * called while the kernel holds a new image at its first stack sample, before its main runs;
 * the first scan of a process arms it otherwise. */
void go_tracker__arm_exit(struct go_tracker *t, pid_t pid);
/* pid is held on its way out with status code: the next scan of it reads what it leaves,
 * and judges it so (at_exit). */
void go_tracker__at_exit(struct go_tracker *t, pid_t pid, int code);

/* The process exec'd or exited: its probes are detached, its sites kept for the report. */
void go_tracker__forget(struct go_tracker *t, pid_t pid);
/* And then all of it dropped, its sites too (the daemon, once the process has been
 * reported gone): what a long run keeps is bounded by the processes alive. */
void go_tracker__purge(struct go_tracker *t, pid_t pid);
/* The create probe's record of a new spawn site (collector callback). */
void go_tracker__on_site(void *tracker, const struct strand_go_site_event *ev);

/* Why pid's goroutines cannot be read (GO_UNSUPPORTED), or what was distrusted; NULL if
 * nothing. Valid until the process is forgotten. */
const char *go_tracker__problem(struct go_tracker *t, pid_t pid);

/* Groups of the last regroup, stranded first, most goroutines first; valid until the next. */
const struct go_group *go_tracker__groups(struct go_tracker *t, size_t *n);
/* Every site seen, in order of creation; valid until the next scan. */
const struct go_site *go_tracker__sites(struct go_tracker *t, size_t *n);
uint64_t go_tracker__stranded(struct go_tracker *t);
/* Goroutines of all traced Go processes, how many list entries failed validation, and how
 * many live ones were past the limit (in live too, counted by spawn site only). */
/* The create and exit probes shed for their cost (--overhead): how many times in all, and
 * how many processes are without them now. */
void go_tracker__sheds(struct go_tracker *t, uint64_t *total, uint64_t *now);
/* Go line tables held now: one per Go binary traced, however many processes run it. */
size_t go_tracker__line_tables(const struct go_tracker *t);
void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid,
			uint64_t *untracked, int *processes);

/* What strand knows of one Go process's runtime. */
struct go_runtime_info {
	pid_t pid;
	const struct go_layout *layout; /* NULL when not readable */
	const char *problem;
	bool probes;		 /* the runtime probes are attached */
	bool exact_waits;	 /* ... on park and ready too: waits timed by them */
	const char *probes_shed; /* why the create/exit probes were shed, NULL: never */
	double probes_shed_ago;	 /* seconds since they last were */
	bool exited;
	/* heap walks for unreachable waits (golost.c): how many, the last one's time, objects
	 * and bytes, and why it proved nothing (NULL: it ran through) */
	uint64_t walks, walk_ns, walk_objects, walk_bytes;
	const char *walk_problem;
};
size_t go_tracker__runtimes(struct go_tracker *t, struct go_runtime_info *out, size_t max);

/* The "goroutines" object of the JSON report: of process only, or every one's when 0. */
void go_tracker__json(struct go_tracker *t, struct json *j, pid_t only);

/* Judges a group (godetect.c): its verdict and evidence, from its members' waits. mass is
 * how many identical never-woken waits are a leak by their number alone. */
void go_group__judge(struct go_group *g, uint64_t threshold_ns, uint64_t mass);
/* Judges a group of a process held on its way out (exit status code), with goleak's
 * semantics: what is still blocked then is left behind, except the runtime's goroutines and
 * well-known library ones. mid_test: it exited with 0 while a test still ran (os.Exit in a
 * test, a test binary run as a helper process): no finished program, no verdict. */
void go_group__judge_at_exit(struct go_group *g, int code, bool mid_test);
/*
 * Whether process pid exited (with code) from inside a test still running, by its groups:
 * a clean exit while a test's goroutine is there and the main goroutine waits for it in
 * testing.(*T).Run (os.Exit in a test, a test binary run as a helper process). At a normal
 * end the main goroutine is the one exiting; a test's goroutine may be there still, between
 * handing its result over and its end, when another P ran the main goroutine on first (a
 * busy machine). A timeout or a deadlock exits 2.
 */
bool go_groups__exited_mid_test(const struct go_group *groups, size_t n, pid_t pid, int code);
/* Judges a group of a program found deadlocked (godeadlock.c): all of its n goroutines
 * asleep, unchanged for seconds over scans, nothing left to wake one. */
void go_group__judge_deadlock(struct go_group *g, uint64_t n, double seconds, int scans);
/* Whether a Go function belongs to the standard library (its package path's first element
 * has no dot, and it is not package main): waits are attributed to the program's code. */
bool go_function__is_std(const char *name);
/* Whether goroutines in state (a runtime.g status's name) are at work or in a wait that ends
 * by itself: running, runnable, in a system call, asleep ... */
bool go_state__at_work(const char *state);

#endif /* STRAND_GOROUTINES_H */
