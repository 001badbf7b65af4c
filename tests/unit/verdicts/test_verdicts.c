// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the thread verdicts (docs/verdicts.md) on a model built by hand, no kernel:
 * what a wait's system call says (timed or not), the roles of runtime threads, and the
 * verdict of each shape: a flat pool is idle, a timed wait idle, a lock whose holder is gone
 * stranded and proven, a group that grew on objects of its own stranded, one that grew with
 * nothing else against it a candidate, a lock cycle a deadlock, a join on a stranded thread
 * stranded in turn. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect/model.h"
#include "collect/wait_decode.h"
#include "collect/waits.h"
#include "unit.h"
#include "verdicts/detect.h"
#include "verdicts/thread_roles.h"

#define S   1000000000ULL
#define PID 100

static void test_decode(void)
{
	uint64_t args[6] = {0}, object;
	struct wait_timeout t;

	/* untimed pthread_cond_wait: FUTEX_WAIT_BITSET | PRIVATE | CLOCK_REALTIME, no timeout */
	args[0] = 0x1004;
	args[1] = 393;
	ASSERT_EQ(wait__decode_syscall(202, args, &object, &t), WAIT_FUTEX);
	ASSERT_EQ(object, 0x1000); /* a condvar's two words are one object */
	ASSERT_EQ(t.kind, WAIT_UNTIMED);
	/* HotSpot's timed wait: WAIT_BITSET | PRIVATE, an absolute CLOCK_MONOTONIC deadline */
	args[1] = 137;
	args[3] = 0x7000;
	wait__decode_syscall(202, args, &object, &t);
	ASSERT_TRUE(t.kind == WAIT_TIMED_ABS && t.clock == CLOCK_MONOTONIC && t.value == 0x7000);
	args[1] = 128; /* FUTEX_WAIT | PRIVATE: relative */
	wait__decode_syscall(202, args, &object, &t);
	ASSERT_EQ(t.kind, WAIT_TIMED_REL);
	args[1] = 1; /* FUTEX_WAKE: its args[3] is no timeout */
	wait__decode_syscall(202, args, &object, &t);
	ASSERT_EQ(t.kind, WAIT_UNTIMED);

	memset(args, 0, sizeof(args));
	args[0] = 5;
	args[3] = (uint64_t)-1; /* epoll_wait(5, ..., -1) */
	ASSERT_EQ(wait__decode_syscall(232, args, &object, &t), WAIT_EPOLL);
	ASSERT_TRUE(object == 5 && t.kind == WAIT_UNTIMED);
	args[3] = 100;
	wait__decode_syscall(232, args, &object, &t);
	ASSERT_TRUE(t.kind == WAIT_TIMED_MS && t.value == 100);
	args[2] = 500; /* poll(fds, n, 500) */
	ASSERT_EQ(wait__decode_syscall(7, args, &object, &t), WAIT_POLL);
	ASSERT_EQ(t.kind, WAIT_TIMED_MS);
	args[2] = (uint64_t)-1;
	wait__decode_syscall(7, args, &object, &t);
	ASSERT_EQ(t.kind, WAIT_UNTIMED);
	args[4] = 0; /* select with a NULL timeval: forever */
	wait__decode_syscall(23, args, &object, &t);
	ASSERT_EQ(t.kind, WAIT_UNTIMED);
	/* clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) */
	args[0] = CLOCK_MONOTONIC;
	args[1] = 1;
	args[2] = 0x8000;
	ASSERT_EQ(wait__decode_syscall(230, args, &object, &t), WAIT_SLEEP);
	ASSERT_TRUE(t.kind == WAIT_TIMED_ABS && t.value == 0x8000);
	ASSERT_EQ(wait__decode_syscall(219, args, &object, &t), WAIT_SYSCALL);
	ASSERT_EQ(t.kind, WAIT_TIMED_SOME); /* restart_syscall: timed, value gone */
	ASSERT_EQ(wait__decode_syscall(0, args, &object, &t), WAIT_READ);
	ASSERT_EQ(t.kind, WAIT_UNTIMED);
	ASSERT_EQ(wait__decode_syscall(-1, args, &object, &t), WAIT_UNKNOWN);

	/* the time left, read from a process's memory (this one's) */
	struct timespec rel = {2, 0}, now, abs;

	t.kind = WAIT_TIMED_REL;
	t.value = (uintptr_t)&rel;
	ASSERT_EQ(wait_timeout__left(&t, getpid(), 10 * S, 10 * S + S / 2), S + S / 2);
	ASSERT_EQ(wait_timeout__left(&t, getpid(), 10 * S, 20 * S), 0); /* overdue */
	clock_gettime(CLOCK_MONOTONIC, &now);
	abs = now;
	abs.tv_sec += 60;
	t.kind = WAIT_TIMED_ABS;
	t.clock = CLOCK_MONOTONIC;
	t.value = (uintptr_t)&abs;
	int64_t left = wait_timeout__left(&t, getpid(), 0, 0);

	ASSERT_TRUE(left > 59 * (int64_t)S && left <= 60 * (int64_t)S);
	t.value = 0x10; /* unreadable */
	ASSERT_EQ(wait_timeout__left(&t, getpid(), 0, 0), -1);
}

/* ---- a model by hand ---------------------------------------------------------------------- */

static struct sym_frame jvm_frames[] = {
	{.function = "pthread_cond_wait", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6"},
	{.function = "_ZN10GangWorker4loopEv", .module = "/usr/lib/jvm/lib/server/libjvm.so"},
};

static uint64_t path_of(int n)
{
	return 0x40000 + (uint64_t)n;
}

static struct site *site_n(struct model *m, int n)
{
	uint64_t path = path_of(n);
	bool is_new;

	return model__site_by_path(m, PID, TASK_THREAD, 0x77, &path, 1, &is_new);
}

/* tid, spawned at site (NULL: before attach) by parent at born, blocked since `since` on
 * object in a wait of kind, at wait site stack_hash. */
static struct task *thread(struct model *m, pid_t tid, struct site *site, pid_t parent,
			   uint64_t born, enum wait_kind kind, uint64_t object, uint64_t since,
			   uint64_t stack_hash)
{
	struct task *t;

	if (site)
		model__spawn(m, site, PID, tid, parent, born);
	else
		model__add_existing(m, PID, tid, "worker", born);
	t = model__task(m, tid);
	t->wait = calloc(1, sizeof(*t->wait));
	t->wait->kind = kind;
	t->wait->object = object;
	t->wait->since_ns = since;
	t->wait->stack_hash = stack_hash;
	t->wait->syscall = 202;
	t->wait->pipe_write_fd = -1;
	t->wait->epoll_fds = -1;
	snprintf(t->wait->reason, sizeof(t->wait->reason), "pthread_cond_wait");
	return t;
}

struct world {
	struct model m;
	struct wait_table *wt;
	struct detector *d;
};

static void world_init(struct world *w)
{
	model__init(&w->m, 0);
	model__process(&w->m, PID, "svc");
	model__add_existing(&w->m, PID, PID, "svc", 1 * S); /* the leader, born at 1 s */
	w->wt = wait_table__new(NULL, NULL, &w->m, 0);
	w->d = detector__new(&w->m, w->wt, 2 * S, 1000);
}

static void world_free(struct world *w)
{
	detector__free(w->d);
	wait_table__free(w->wt);
	model__free(&w->m);
}

static const struct wait_group *group_of(struct world *w, pid_t tid)
{
	return detection__group_of(detector__last(w->d), tid);
}

static bool evidence_has(const struct wait_group *g, const char *phrase)
{
	for (int i = 0; g && i < g->nevidence; i++)
		if (strstr(g->evidence[i], phrase))
			return true;
	return false;
}

static void test_flat_pool_made_at_start_up_is_idle(void)
{
	struct world w;
	const struct wait_group *g;

	world_init(&w);
	for (int i = 0; i < 4; i++) /* made at 2 s, all on one condvar since 3 s */
		thread(&w.m, 200 + i, site_n(&w.m, 1), PID, 2 * S, WAIT_CONDVAR, 0x1000, 3 * S,
		       0xaa);
	for (uint64_t now = 40 * S; now < 44 * S; now += S)
		detector__observe(w.d, now);
	g = group_of(&w, 200);
	ASSERT_TRUE(g && g->verdict == VERDICT_IDLE && g->count == 4);
	ASSERT_TRUE(evidence_has(g, "made at the process's start-up, their number flat"));
	ASSERT_EQ(detector__last(w.d)->stranded, 0);
	world_free(&w);
}

static void test_timed_wait_is_idle(void)
{
	struct world w;
	struct task *t;
	const struct wait_group *g;

	world_init(&w);
	t = thread(&w.m, 200, NULL, 0, 2 * S, WAIT_CONDVAR, 0x1000, 3 * S, 0xaa);
	t->wait->timeout.kind = WAIT_TIMED_ABS;
	t->wait->timeout_at_ns = 100 * S;
	detector__observe(w.d, 40 * S);
	g = group_of(&w, 200);
	ASSERT_TRUE(g && g->verdict == VERDICT_IDLE && evidence_has(g, "a timed wait"));
	world_free(&w);
}

static void test_lock_whose_holder_is_gone_is_stranded_proven(void)
{
	struct world w;
	struct task *t;
	const struct wait_group *g;

	world_init(&w);
	for (int i = 0; i < 3; i++) {
		t = thread(&w.m, 200 + i, site_n(&w.m, 1), PID, 2 * S, WAIT_MUTEX, 0x2000, 3 * S,
			   0xbb);
		t->wait->lock_owner = 9999; /* no such thread */
	}
	detector__observe(w.d, 40 * S);
	g = group_of(&w, 201);
	ASSERT_TRUE(g && g->verdict == VERDICT_STRANDED && g->proven && g->count == 3);
	ASSERT_TRUE(evidence_has(g, "which no longer exists"));
	/* and a join on one of them is stranded in turn, proven */
	t = thread(&w.m, 300, site_n(&w.m, 2), PID, 2 * S, WAIT_JOIN, 0x3000, 3 * S, 0xcc);
	t->wait->join_tid = 200;
	detector__observe(w.d, 41 * S);
	g = group_of(&w, 300);
	ASSERT_TRUE(g && g->verdict == VERDICT_STRANDED && g->proven);
	ASSERT_TRUE(evidence_has(g, "it joins tid 200"));
	world_free(&w);
}

/* Two threads a scan, for four scans, each blocked from its birth; of its own object or not. */
static void grow(struct world *w, bool own, pid_t parent)
{
	for (int scan = 0; scan < 4; scan++) {
		uint64_t now = (20 + (uint64_t)scan) * S;

		for (int k = 0; k < 2; k++) {
			pid_t tid = (pid_t)(400 + scan * 2 + k);

			thread(&w->m, tid, site_n(&w->m, 3), parent, now - 5 * S, WAIT_CONDVAR,
			       own ? 0x10000 + (uint64_t)tid * 64 : 0x5000, now - 5 * S, 0xdd);
		}
		detector__observe(w->d, now);
	}
}

static void test_growing_group_on_objects_of_its_own_is_stranded(void)
{
	struct world w;
	const struct wait_group *g;

	world_init(&w);
	grow(&w, true, PID);
	g = group_of(&w, 400);
	ASSERT_TRUE(g && g->verdict == VERDICT_STRANDED && !g->proven && g->count == 8);
	ASSERT_TRUE(evidence_has(g, "the group only grew during the trace"));
	ASSERT_TRUE(evidence_has(g, "of its own"));
	world_free(&w);
}

static void test_growing_group_with_nothing_else_is_a_candidate(void)
{
	struct world w;
	const struct wait_group *g;

	world_init(&w);
	grow(&w, false, PID); /* one shared object, their spawner alive */
	g = group_of(&w, 400);
	ASSERT_TRUE(g && g->verdict == VERDICT_CANDIDATE && g->count == 8);
	ASSERT_EQ(detector__last(w.d)->stranded, 0);
	world_free(&w);
	/* the same with their spawner gone is stranded */
	world_init(&w);
	grow(&w, false, 4242);
	g = group_of(&w, 400);
	ASSERT_TRUE(g && g->verdict == VERDICT_STRANDED &&
		    evidence_has(g, "the thread that spawned 8 of them has exited"));
	world_free(&w);
}

static void test_runtime_thread_is_judged_apart(void)
{
	struct world w;
	struct task *t;
	const struct wait_group *g;

	world_init(&w);
	t = thread(&w.m, 200, NULL, 0, 2 * S, WAIT_SEMAPHORE, 0x1000, 3 * S, 0xee);
	snprintf(t->name, sizeof(t->name), "GC Thread#0");
	t->wait->stack = frames__new(jvm_frames, 2);
	t->wait->depth = 2;
	ASSERT_TRUE(thread_role__of(t) != NULL);
	ASSERT_STREQ(thread_role__of(t)->runtime, "JVM");
	detector__observe(w.d, 40 * S);
	g = group_of(&w, 200);
	ASSERT_TRUE(g && g->verdict == VERDICT_IDLE && g->role);
	/* a thread of that name outside a JVM (no libjvm.so frame) has no role (a stack's
	 * frames never change: another stack is another copy) */
	struct sym_frame elsewhere[2] = {jvm_frames[0], jvm_frames[1]};

	elsewhere[1].module = "/usr/bin/myserver";
	frames__release(t->wait->stack);
	t->wait->stack = frames__new(elsewhere, 2);
	ASSERT_TRUE(thread_role__of(t) == NULL);
	world_free(&w);
}

static void test_lock_cycle_is_a_deadlock(void)
{
	struct world w;
	struct task *a, *b;

	world_init(&w);
	a = thread(&w.m, 200, site_n(&w.m, 1), PID, 2 * S, WAIT_MUTEX, 0x100, 3 * S, 0x1);
	b = thread(&w.m, 201, site_n(&w.m, 1), PID, 2 * S, WAIT_MUTEX, 0x200, 3 * S, 0x2);
	a->wait->lock_owner = 201;
	b->wait->lock_owner = 200;
	detector__observe(w.d, 40 * S);
	ASSERT_EQ(detector__last(w.d)->deadlocked, 2);
	ASSERT_TRUE(group_of(&w, 200)->proven);
	world_free(&w);
}

int main(void)
{
	test_decode();
	test_flat_pool_made_at_start_up_is_idle();
	test_timed_wait_is_idle();
	test_lock_whose_holder_is_gone_is_stranded_proven();
	test_growing_group_on_objects_of_its_own_is_stranded();
	test_growing_group_with_nothing_else_is_a_candidate();
	test_runtime_thread_is_judged_apart();
	test_lock_cycle_is_a_deadlock();
	return unit_summary();
}
