// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Verdicts on goroutine groups. A goroutine blocked long is not a leak by itself: a pool
 * worker waits for work for minutes, a service goroutine waits for its context to end all
 * its life (each on a channel of its own), main waits for its shutdown signal. A group is
 * stranded when the wait can never end, or when it is leak-prone, nobody woke it or anyone
 * else waiting on the same channel since it parked, and something else says it was
 * forgotten: several were made by calls that are over (their spawner gone, or returned from
 * the function that made them), the group only grew, its members were created all along
 * the process's life rather than at start-up, they are too many for any design, or it is a
 * lock nobody holds that long on purpose. N goroutines sharing one channel, flat, with their
 * spawner alive, are a pool: idle. False positives cost more trust than a missed leak.
 */
#include "go/goroutines.h"
#include "lib/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Waits the runtime itself says can never end. */
/* Goroutine ids below this were made as the program started (the main goroutine is 1, the
 * runtime's own take the next few). */
#define STARTUP_GOIDS 64

static const char *const forever_reasons[] = {
	"select (no cases)",
	"chan receive (nil chan)",
	"chan send (nil chan)",
};

/* Channel waits a leak leaves behind (someone had to send or close), beside the sync ones
 * (go_state_is_sync_wait: someone had to unlock, signal or Done). */
static const char *const leak_prone_chan_reasons[] = {"chan receive", "chan send", "select"};

/* Locks: healthy code does not hold a lock for the threshold (30 s by default). */
static const char *const lock_reasons[] = {
	"sync.Mutex.Lock",
	"sync.RWMutex.Lock",
	"sync.RWMutex.RLock",
};

/* Waits that are healthy when long: a connection with nothing to say, a timer. */
static const char *const idle_reasons[] = {
	"IO wait",
	"sleep",
	"timer goroutine (idle)",
	"syscall",
};

static bool listed(const char *const *list, size_t n, const char *state)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], state))
			return true;
	return false;
}

const char *go_verdict__name(enum go_verdict v)
{
	return v == GO_VERDICT_STRANDED	  ? "stranded"
	       : v == GO_VERDICT_DEADLOCK ? "deadlock"
	       : v == GO_VERDICT_IDLE	  ? "idle"
					  : NULL;
}

bool go_verdict__stuck(enum go_verdict v)
{
	return v == GO_VERDICT_STRANDED || v == GO_VERDICT_DEADLOCK;
}

/* The first elements of the standard library's package paths, Go 1.18 to 1.26 ("vendor"
 * holds its copies of golang.org/x; "cmd", the toolchain's programs, is left out: traced, it
 * is the program). A module may be called anything without a dot ("goker/...", "myapp"), so
 * only this list says what is the standard library. */
static const char *const std_roots[] = {
	"archive", "bufio",    "builtin", "bytes",   "cmp",	 "compress", "container", "context",
	"crypto",  "database", "debug",	  "embed",   "encoding", "errors",   "expvar",	  "flag",
	"fmt",	   "go",       "hash",	  "html",    "image",	 "index",    "internal",  "io",
	"iter",	   "log",      "maps",	  "math",    "mime",	 "net",	     "os",	  "path",
	"plugin",  "reflect",  "regexp",  "runtime", "slices",	 "sort",     "strconv",	  "strings",
	"structs", "sync",     "syscall", "testing", "text",	 "time",     "unicode",	  "unique",
	"unsafe",  "vendor",   "weak",
};

bool go_function__is_std(const char *name)
{
	size_t len;

	if (!name || !*name)
		return false;
	/* the first element of the package path: up to the first slash, or for a path of one
	 * element up to the dot before the function's name */
	len = strcspn(name, "/.");
	if (!name[len])
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(std_roots); i++)
		if (strlen(std_roots[i]) == len && !strncmp(name, std_roots[i], len))
			return true;
	return false;
}

/* a line of g's evidence */
#define add(g, ...) EVIDENCE_ADD((g)->evidence, (g)->nevidence, __VA_ARGS__)

static void say_blocked(struct go_group *g, uint64_t threshold_ns)
{
	double threshold = (double)threshold_ns / 1e9;

	if (g->blocked_runtime_dated)
		add(g,
		    "%" PRIu64 " blocked in %s for %.1f s at least (oldest): not run since a scan "
		    "saw the runtime's g.waitsince set, unchanged since (threshold %.0f s)",
		    g->blocked_long, g->state, g->blocked_oldest_s, threshold);
	else if (g->blocked_scan_dated && g->blocked_before_attach)
		add(g,
		    "%" PRIu64 " blocked in %s since before strand first read the process %.1f s "
		    "ago, never woken since (g.trackingSeq, one more each time a goroutine stops "
		    "running, the same at every scan) (threshold %.0f s)",
		    g->blocked_long, g->state, g->blocked_oldest_s, threshold);
	else if (g->blocked_scan_dated)
		add(g,
		    "%" PRIu64 " blocked in %s for %.1f s at least (oldest), never woken since a "
		    "scan first saw them in that wait (g.trackingSeq, one more each time a "
		    "goroutine stops running, the same at every scan) (threshold %.0f s)",
		    g->blocked_long, g->state, g->blocked_oldest_s, threshold);
	else if (g->blocked_before_attach)
		add(g,
		    "%" PRIu64 " blocked in %s since before strand's probes were attached %.1f s "
		    "ago, never woken since (threshold %.0f s)",
		    g->blocked_long, g->state, g->blocked_oldest_s, threshold);
	else
		add(g,
		    "%" PRIu64 " blocked in %s for %.1f s (oldest), never woken since they "
		    "parked (threshold %.0f s)",
		    g->blocked_long, g->state, g->blocked_oldest_s, threshold);
	if ((g->blocked_before_attach || g->blocked_runtime_dated || g->blocked_scan_dated) &&
	    g->runtime_age_s > g->blocked_oldest_s + 1)
		add(g,
		    "the runtime dates the oldest wait %.0f s back (g.waitsince, to a GC's "
		    "precision)",
		    g->runtime_age_s);
}

/* Members created over the process's life, not at start-up: their ids span at least half
 * of all the ids it issued, and a thousand at least (a start-up set is a few dozen apart). */
#define SPREAD_MIN_GOIDS 1000

static bool spread_over_life(const struct go_group *g)
{
	uint64_t span = g->max_goid - g->min_goid;

	return g->blocked_long >= 3 && g->max_goid > g->min_goid && span >= SPREAD_MIN_GOIDS &&
	       span * 2 >= g->goids_issued;
}

/* All blocked members on one channel, known for each: a pool waiting for work. */
static bool pool_shaped(const struct go_group *g)
{
	return g->objects == 1 && !g->unknown_objects && g->max_sharing >= 2;
}

/* Receiving from a channel of os.Signal: a signal handler's loop (signal.Notify), which
 * waits for the signals of the process's whole life by design. */
static bool signal_receiver(const struct go_group *g)
{
	return !strcmp(g->state, "chan receive") && !strcmp(g->chan_elem, "os.Signal");
}

void go_group__judge(struct go_group *g, uint64_t threshold_ns, uint64_t mass)
{
	bool grew = g->first && g->count > g->first && g->count >= g->peak;
	bool own_channels = g->objects >= 2 && g->max_sharing == 1 && !g->unknown_objects;
	const char *wait = g->sync_wait[0] ? g->sync_wait : g->state;
	bool lock = listed(lock_reasons, ARRAY_SIZE(lock_reasons), wait);
	bool spread = spread_over_life(g), many = mass && g->blocked_long >= mass;

	g->verdict = GO_VERDICT_NONE;
	g->nevidence = 0;
	if (g->runtime)
		return;
	/* the program's idiom for "run forever": main, or one goroutine among the first it
	 * made, parked in select {} while the rest runs */
	if (!strcmp(g->state, "select (no cases)") && g->count == 1 &&
	    (g->main_goroutine || (g->ngoids == 1 && g->goids[0] < STARTUP_GOIDS))) {
		g->verdict = GO_VERDICT_IDLE;
		add(g,
		    "one goroutine in select {}, %s: the idiom for \"run forever\", parked by "
		    "design",
		    g->main_goroutine ? "the main goroutine" : "made at start-up");
		return;
	}
	if (listed(forever_reasons, ARRAY_SIZE(forever_reasons), g->state)) {
		g->verdict = GO_VERDICT_STRANDED;
		g->blocked_long = g->count;
		add(g, "the runtime says this wait can never end (%s)", g->state);
		return;
	}
	if (g->lost) {
		g->verdict = GO_VERDICT_STRANDED;
		g->blocked_long = g->lost;
		add(g,
		    "proven unreachable: %" PRIu64
		    " parked on channels or locks no goroutine able to run "
		    "can reach, nor any global, at two heap walks in a row",
		    g->lost);
		add(g,
		    "(the walk, the process held still %.0f ms: %" PRIu64 " heap objects, %.1f MiB "
		    "read, every word taken for a pointer)",
		    (double)g->walk_ns / 1e6, g->walk_objects, (double)g->walk_bytes / 1048576.0);
		return;
	}
	if (g->thread_stranded) {
		g->verdict = GO_VERDICT_STRANDED;
		g->blocked_long = g->thread_stranded;
		add(g,
		    "%" PRIu64 " in a system call or C call whose thread is stranded: tid %d, %s",
		    g->thread_stranded, g->thread_tid, g->thread_reason);
		for (int i = 0; i < g->nthread_evidence; i++)
			add(g, "the thread: %s", g->thread_evidence[i]);
		return;
	}
	if (g->timed && g->timed == g->count) {
		g->verdict = GO_VERDICT_IDLE;
		add(g,
		    "in a select with a pending timer's channel among its cases: it ends when the "
		    "timer fires");
		return;
	}
	if (g->blocked_long && signal_receiver(g)) {
		g->verdict = GO_VERDICT_IDLE;
		add(g, "receiving from a channel of os.Signal: a signal handler waiting for "
		       "signals (signal.Notify), healthy however long");
		return;
	}
	if (!g->blocked_long) {
		if (g->served) {
			g->verdict = GO_VERDICT_IDLE;
			add(g,
			    "%" PRIu64 " blocked past the threshold on channels others were woken "
			    "from since: served, not forgotten",
			    g->served);
		}
		return;
	} /* In IO wait on connections this process made, and on nothing else: a call waiting for
	   * its peer, maybe with no timeout. On a listener or an accepted connection it is a
	   * server waiting for its clients, healthy however long. */
	bool outbound = !strcmp(g->state, "IO wait") && g->net[NET_OUTBOUND] &&
			!g->net[NET_LISTENING] && !g->net[NET_INBOUND];
	/* and, by tcp_info, the peer never answered what was sent (or nothing was ever said):
	 * a call with no reply */
	bool unanswered = outbound && g->net_unanswered == g->net[NET_OUTBOUND];

	if (outbound && g->net_answered) {
		g->verdict = GO_VERDICT_IDLE;
		add(g,
		    "blocked %.1f s in IO wait on %s, whose peer spoke last (%s): a quiet stream "
		    "or an idle pooled connection",
		    g->blocked_oldest_s, g->net_text, g->net_talk);
		return;
	}

	if (!outbound && listed(idle_reasons, ARRAY_SIZE(idle_reasons), g->state)) {
		g->verdict = GO_VERDICT_IDLE;
		if (g->net[NET_LISTENING] || g->net[NET_INBOUND])
			add(g, "blocked %.1f s in IO wait on %s: %s, healthy when long",
			    g->blocked_oldest_s, g->net_text,
			    g->net[NET_LISTENING]
				    ? "a listener in accept"
				    : "an accepted connection waiting for its client");
		else
			add(g,
			    "blocked %.1f s in %s: a network, timer or system call wait, healthy "
			    "when long",
			    g->blocked_oldest_s, g->state);
		return;
	}
	if (!outbound &&
	    !listed(leak_prone_chan_reasons, ARRAY_SIZE(leak_prone_chan_reasons), g->state) &&
	    !go_state_is_sync_wait(g->state))
		return;
	/* a pool is typically started by a constructor that returned, even by a goroutine
	 * that exited: one shared channel, flat, says pool whoever made it */
	if (pool_shaped(g) && !grew) {
		g->verdict = GO_VERDICT_IDLE;
		add(g,
		    "all %" PRIu64 " wait on one channel and their number is flat: a pool waiting "
		    "for work",
		    g->blocked_long);
		return;
	}
	/* Long and never woken is a candidate; only other evidence makes it a verdict. A
	 * creator gone (or returned from the function that made it) says little of one
	 * goroutine: a constructor starts its object's loop and returns. Of several from one
	 * go statement, each made by a call that is over, it says: one forgotten per call. */
	/* Unless the standard library started it: its goroutines live as long as an object
	 * the program holds, past the call that made them, by design (an exec.Cmd's watchCtx
	 * while the command runs, a connection's read loop, a context's watcher). Whether the
	 * program's own are still held, a heap walk proves one way only: a conservative walk
	 * reaches through stale words too, so "reached" is no sign of being held. */
	bool gone = (g->orphans || g->creator_returned) && !g->std_start;

	if (!lock && !unanswered && !(gone && g->blocked_long >= 2) && !grew && !spread && !many)
		return;
	g->verdict = GO_VERDICT_STRANDED;
	say_blocked(g, threshold_ns);
	if (outbound)
		add(g, "on a connection this process made, its peer silent: %s%s%s", g->net_text,
		    g->net_talk[0] ? "; " : "", g->net_talk);
	if (lock)
		add(g,
		    "a lock held this long is not released: whoever holds it returned or is stuck");
	if (gone && g->orphans)
		add(g, "the goroutine that created %" PRIu64 " of them has exited", g->orphans);
	if (gone && g->creator_returned)
		add(g,
		    "the function that created %" PRIu64 " of them has returned: whatever it held "
		    "for them went with it",
		    g->creator_returned);
	if (grew)
		add(g, "the group grew from %" PRIu64 " to %" PRIu64 " during the trace", g->first,
		    g->count);
	if (spread)
		add(g,
		    "created all along the process's life (goroutine ids %" PRIu64 " to %" PRIu64
		    " of %" PRIu64 "), not at start-up: they accumulate",
		    g->min_goid, g->max_goid, g->goids_issued);
	if (many)
		add(g,
		    "%" PRIu64 " identical waits from one go statement: more than any design needs",
		    g->blocked_long);
	if (own_channels)
		add(g,
		    "each waits on a channel of its own (%" PRIu64
		    " channels) that nothing was sent "
		    "on or closed since",
		    g->objects);
	else if (g->count >= 2)
		add(g, "%" PRIu64 " goroutines from the same go statement wait the same way",
		    g->count);
}

/* Goroutines a finished program leaves waiting by design, as goleak's defaults (options.go:
 * isTestStack, isSyscallStack, isStdLibStack, isTraceStack): the testing package waiting for
 * its tests, os/signal's loop, the runtime's signal and trace readers. */
static const char *library_role(const struct go_group *g)
{
	static const char *const testing[] = {
		"testing.RunTests",   "testing.(*T).Run",     "testing.(*T).Parallel",
		"testing.runFuzzing", "testing.runFuzzTests",
	};
	static const char *const anywhere[] = {"runtime.ensureSigM", "runtime.ReadTrace"};
	const char *top = g->wait_depth ? g->wait_stack[0].function : NULL;
	const char *waiter = NULL;

	/* the code that waits, past the channel and sync machinery: testing's own, the
	 * harness waiting for a test (main in t.Run when a timeout ends the process) */
	for (int i = 0; i < g->wait_depth && !waiter; i++) {
		const char *fn = g->wait_stack[i].function;

		if (fn && strncmp(fn, "runtime.", 8) && strncmp(fn, "sync.", 5) &&
		    strncmp(fn, "internal/", 9))
			waiter = fn;
	}
	if (waiter && listed(testing, ARRAY_SIZE(testing), waiter))
		return "the testing package's, waiting for its tests";
	if (top && (!strcmp(top, "os/signal.signal_recv") || !strcmp(top, "os/signal.loop")))
		return "os/signal's loop";
	if (signal_receiver(g))
		return "a signal handler receiving from a channel of os.Signal (signal.Notify)";
	for (int i = 0; i < g->wait_depth; i++)
		if (g->wait_stack[i].function &&
		    listed(anywhere, ARRAY_SIZE(anywhere), g->wait_stack[i].function))
			return "the runtime's signal or trace reader";
	return NULL;
}

/* States of goroutines still at work or in a wait that ends by itself: the one calling
 * exit, those on a CPU or waiting for one, those in a system call (their threads are judged
 * apart) and those asleep (time.Sleep ends). */
bool go_state__at_work(const char *state)
{
	static const char *const working[] = {"running",   "runnable", "syscall", "copystack",
					      "preempted", "idle",     "dead",	  "sleep"};

	return listed(working, ARRAY_SIZE(working), state);
}

bool go_groups__exited_mid_test(const struct go_group *groups, size_t n, pid_t pid, int code)
{
	bool test_running = false, main_exiting = false;

	if (code != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (groups[i].pid != pid)
			continue;
		test_running |= groups[i].test_goroutine;
		main_exiting |= groups[i].main_goroutine && go_state__at_work(groups[i].state);
	}
	return test_running && !main_exiting;
}

void go_group__judge_deadlock(struct go_group *g, uint64_t n, double seconds, int scans)
{
	g->nevidence = 0;
	g->verdict = GO_VERDICT_DEADLOCK;
	g->blocked_long = g->count;
	add(g,
	    "all %" PRIu64 " goroutines of the program are blocked on channels or locks, none "
	    "running, runnable, in a system call, in IO wait or asleep, unchanged over %d scans "
	    "(%.1f s)",
	    n, scans, seconds);
	add(g, "no pending timer wakes one (a test's -test.timeout alarm panics, waking nobody), "
	       "no C code can call in: nothing can run to wake them");
}

void go_group__judge_at_exit(struct go_group *g, int code, bool mid_test)
{
	const char *role;

	g->verdict = GO_VERDICT_NONE;
	g->nevidence = 0;
	if (g->runtime || go_state__at_work(g->state))
		return;
	if (mid_test) {
		add(g,
		    "%" PRIu64
		    " still blocked in %s when the process exited (status %d) from inside "
		    "a test still running (os.Exit in a test, or a helper process): not a finished "
		    "program, so no verdict",
		    g->count, g->sync_wait[0] ? g->sync_wait : g->state, code);
		return;
	}
	if (!g->wait_depth) {
		add(g,
		    "%" PRIu64 " still blocked in %s when the process exited (status %d), their "
		    "stacks unread (the garbage collector was scanning them): whose they are "
		    "cannot be told, so no verdict",
		    g->count, g->state, code);
		return;
	}
	if ((role = library_role(g))) {
		g->verdict = GO_VERDICT_IDLE;
		add(g, "%s: waits by design when a program exits", role);
		return;
	}
	if (!strcmp(g->state, "chan receive") && !g->chan_elem[0]) {
		add(g,
		    "%" PRIu64
		    " still blocked in chan receive when the process exited (status %d), "
		    "on a channel whose type could not be read: a signal handler's (os.Signal) "
		    "cannot be ruled out, so no verdict",
		    g->count, code);
		return;
	}
	g->verdict = GO_VERDICT_STRANDED;
	g->blocked_long = g->count;
	add(g,
	    "%" PRIu64 " still blocked in %s when the process exited (status %d): left behind by "
	    "the work that made them",
	    g->count, g->sync_wait[0] ? g->sync_wait : g->state, code);
	add(g, "a goroutine a finished program leaves waiting is a leak, as goleak says in tests "
	       "(the runtime's own goroutines, signal handlers' and testing's excepted)");
}
