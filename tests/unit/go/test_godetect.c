// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the goroutine verdicts, runaway spawn, timelines, frame-pointer walks and
 * the channel wake table: the logic, without a process or a kernel. */
#include <stdlib.h>
#include <string.h>

#include "go/goroutines.h"
#include "go/gostack.h"
#include "go/gowait.h"
#include "lib/timeline.h"
#include "unit.h"
#include "verdicts/runaway.h"

static void test_std_packages(void)
{
	ASSERT_TRUE(go_function__is_std("runtime.gopark"));
	ASSERT_TRUE(go_function__is_std("net/http.(*conn).serve"));
	ASSERT_TRUE(go_function__is_std("internal/poll.(*FD).Read"));
	ASSERT_TRUE(go_function__is_std("sync.(*Mutex).Lock"));
	ASSERT_TRUE(go_function__is_std("vendor/golang.org/x/net/http2.(*Framer).ReadFrame"));
	ASSERT_TRUE(!go_function__is_std("main.worker"));
	ASSERT_TRUE(!go_function__is_std("main.(*server).handle.func1"));
	ASSERT_TRUE(!go_function__is_std("github.com/acme/api/handler.(*Server).handleWebhook"));
	ASSERT_TRUE(!go_function__is_std("golang.org/x/sync/errgroup.(*Group).Wait"));
	ASSERT_TRUE(!go_function__is_std("example.com/svc.Run"));
	ASSERT_TRUE(!go_function__is_std("_/tmp/leakpkg.fetch.func1"));
	ASSERT_TRUE(!go_function__is_std("command-line-arguments.worker"));
	ASSERT_TRUE(!go_function__is_std(""));
	ASSERT_TRUE(!go_function__is_std(NULL));
	ASSERT_TRUE(!go_function__is_std("nodot"));
	/* modules whose paths have no dot are programs, not the standard library */
	ASSERT_TRUE(!go_function__is_std("goker/blocking/etcd.(*Client).Close"));
	ASSERT_TRUE(!go_function__is_std("myapp.worker"));
	ASSERT_TRUE(!go_function__is_std("myapp/internal/queue.(*Q).Pop"));
	ASSERT_TRUE(!go_function__is_std("cmd/go/internal/base.processSignals.func1"));
	ASSERT_TRUE(!go_function__is_std("synchronizer.Run")); /* a prefix of no root */
	ASSERT_TRUE(go_function__is_std("internal/sync.(*Mutex).lockSlow"));
	ASSERT_TRUE(go_function__is_std("iter.Pull.func1"));
}

/* A group of n goroutines blocked 40 s in state, past a 30 s threshold. */
static struct go_group blocked(const char *state, uint64_t n)
{
	struct go_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.state, sizeof(g.state), "%s", state);
	g.count = g.blocked_long = g.first = g.peak = n;
	g.blocked_oldest_s = 40;
	g.blocked_newest_s = 35;
	g.wait_frame = -1;
	return g;
}

#define THRESHOLD 30000000000ULL
#define MASS	  1000

static void test_verdicts(void)
{
	struct go_group g;

	/* select {} can never end, however few and however young */
	g = blocked("select (no cases)", 1);
	g.blocked_long = 0;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);
	ASSERT_EQ(g.blocked_long, 1);

	/* five each on a channel of its own, created together, spawner unknown, flat: as
	 * likely service goroutines each waiting on its own context as five forgotten
	 * requests: no verdict without more evidence */
	g = blocked("chan receive", 5);
	g.objects = 5;
	g.max_sharing = 1;
	g.min_goid = 20;
	g.max_goid = 24;
	g.goids_issued = 100000;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);

	/* the same, their creator gone: forgotten per request */
	g.orphans = 5;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);

	/* one goroutine whose creator returned: a constructor that started its loop */
	g = blocked("select", 1);
	g.objects = 1;
	g.max_sharing = 1;
	g.creator_returned = 1;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);
	/* three of them, each from a call that is over: forgotten per call */
	g = blocked("chan send", 3);
	g.objects = 3;
	g.max_sharing = 1;
	g.creator_returned = 3;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);
	ASSERT_TRUE(g.nevidence >= 3 && strstr(g.evidence[2], "channel of its own"));

	/* created all along the process's life: they accumulate */
	g = blocked("chan send", 50);
	g.unknown_objects = 50;
	g.min_goid = 1200;
	g.max_goid = 98000;
	g.goids_issued = 100000;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);
	ASSERT_TRUE(strstr(g.evidence[1], "all along") != NULL);

	/* ... but a start-up set of a young process is not spread over its life */
	g.min_goid = 10;
	g.max_goid = 90;
	g.goids_issued = 100;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);

	/* thousands of identical never-woken waits are a leak by their number */
	g = blocked("chan receive", 5000);
	g.unknown_objects = 5000;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);

	/* four on one channel, flat, spawner alive: a pool between bursts */
	g = blocked("chan receive", 4);
	g.objects = 1;
	g.max_sharing = 4;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_IDLE);
	ASSERT_TRUE(strstr(g.evidence[0], "pool") != NULL);

	/* the same pool shape, its constructor returned: still a pool */
	g = blocked("chan receive", 4);
	g.objects = 1;
	g.max_sharing = 4;
	g.creator_returned = 4;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_IDLE);
	/* ... but one that grows is no pool */
	g.first = 2;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);

	/* one goroutine on its own channel, spawner alive, flat: main waiting for a signal */
	g = blocked("chan receive", 1);
	g.objects = 1;
	g.max_sharing = 1;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);

	/* ... but growing it is a leak */
	g = blocked("chan send", 3);
	g.first = 1;
	g.unknown_objects = 3;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);

	/* a mutex waited on for 40 s */
	g = blocked("sync.Mutex.Lock", 1);
	g.unknown_objects = 1;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);

	/* WaitGroup waiters (Go 1.19 calls it semacquire): a waiter per request, growing */
	g = blocked("semacquire", 3);
	g.unknown_objects = 3;
	g.first = 1;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_STRANDED);
	g.first = 3; /* flat: a batch waiting for long work, maybe */
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);

	/* an idle connection and a sleeper are healthy */
	g = blocked("IO wait", 10);
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_IDLE);
	g = blocked("sleep", 10);
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_IDLE);

	/* others on the same channel were woken since: served */
	g = blocked("chan receive", 4);
	g.served = 4;
	g.blocked_long = 0;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_IDLE);

	/* not blocked long: nothing to say */
	g = blocked("chan receive", 5);
	g.blocked_long = 0;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);

	/* the runtime's own goroutines are never judged */
	g = blocked("chan receive", 5);
	g.runtime = true;
	go_group__judge(&g, THRESHOLD, MASS);
	ASSERT_EQ(g.verdict, GO_VERDICT_NONE);
}

static void test_timeline(void)
{
	struct timeline t;
	uint32_t from, to;
	char spark[256];

	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < 1000; i++)
		timeline__add(&t, i * 1000000000ULL, i);
	ASSERT_TRUE(t.n <= TIMELINE_CAP && t.n > TIMELINE_CAP / 2);
	ASSERT_EQ(t.v[t.n - 1], 999); /* merged samples keep the larger */
	ASSERT_TRUE(timeline__only_grew(&t, 5, 8, &from, &to));
	ASSERT_EQ(to, 999);
	timeline__sparkline(&t, 8, spark, sizeof(spark));
	ASSERT_STREQ(spark, "▁▂▃▄▅▆▇█");

	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < 20; i++) /* a spike that came back down */
		timeline__add(&t, i * 1000000000ULL, i < 10 ? 10 + i * 10 : 10);
	ASSERT_TRUE(!timeline__only_grew(&t, 5, 8, &from, &to));

	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < 3; i++) /* too short to say */
		timeline__add(&t, i * 1000000000ULL, i * 100);
	ASSERT_TRUE(!timeline__only_grew(&t, 5, 8, &from, &to));
	timeline__sparkline(&t, 8, spark, 4); /* too small a buffer: cut, terminated */
	ASSERT_STREQ(spark, "▁");
}

static void test_runaway(void)
{
	struct runaway_input in = {
		.threshold = 1000,
		.live = 20000,
		.peak = 20000,
		.max_children = 20000,
		.max_parent = 1,
		.unit = "goroutines",
		.parent_unit = "goroutine",
	};
	struct runaway_verdict v;

	ASSERT_TRUE(runaway__judge(&in, &v));
	ASSERT_TRUE(v.n == 2 && strstr(v.evidence[0], "created 20000 goroutines"));
	in.live = in.peak = 40;
	in.max_children = 40;
	ASSERT_TRUE(!runaway__judge(&in, &v));
	in.threshold = 0; /* off */
	in.peak = 1u << 30;
	ASSERT_TRUE(!runaway__judge(&in, &v));
}

static void put(uint8_t *mem, uint64_t lo, uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - lo), &v, sizeof(v));
}

static void test_frame_pointer_walk(void)
{
	uint8_t mem[512] = {0};
	const uint64_t lo = 0xc000100000;
	struct go_stack s;

	/* three frames: bp chain lo+0x40 -> lo+0x80 -> lo+0xc0 (saved bp 0: the first frame) */
	put(mem, lo, lo + 0x40, lo + 0x80);
	put(mem, lo, lo + 0x48, 0x401111);
	put(mem, lo, lo + 0x80, lo + 0xc0);
	put(mem, lo, lo + 0x88, 0x402222);
	put(mem, lo, lo + 0xc0, 0);
	put(mem, lo, lo + 0xc8, 0x403333);
	go_stack__walk_mem(mem, lo, sizeof(mem), 0x400000, lo + 0x40, &s);
	ASSERT_EQ(s.depth, 4);
	ASSERT_EQ(s.pcs[0], 0x400000);
	ASSERT_EQ(s.pcs[3], 0x403333);
	ASSERT_TRUE(!s.truncated);

	/* a chain pointing down (garbage) stops, marked truncated */
	put(mem, lo, lo + 0x80, lo + 0x10);
	go_stack__walk_mem(mem, lo, sizeof(mem), 0x400000, lo + 0x40, &s);
	ASSERT_EQ(s.depth, 3);
	ASSERT_TRUE(s.truncated);

	/* a frame pointer outside the memory read, or hostile values, never read out of it */
	go_stack__walk_mem(mem, lo, sizeof(mem), 0x400000, lo + sizeof(mem) - 8, &s);
	ASSERT_EQ(s.depth, 1);
	go_stack__walk_mem(mem, lo, sizeof(mem), 0x400000, UINT64_MAX - 4, &s);
	ASSERT_EQ(s.depth, 1);
	go_stack__walk_mem(mem, lo, 8, 0x400000, lo, &s);
	ASSERT_EQ(s.depth, 1);

	/* a cycle cannot loop: each frame must lie above the last */
	put(mem, lo, lo + 0x80, lo + 0x40);
	go_stack__walk_mem(mem, lo, sizeof(mem), 0x400000, lo + 0x40, &s);
	ASSERT_TRUE(s.depth <= GO_STACK_MAX && s.truncated);
}

/* One scan of the table over n goroutines, then the objects of those gone. */
static void observe(struct go_chan_table *t, uint64_t now, const uint64_t *objs,
		    const uint64_t *parks, const uint64_t *prev_objs, const uint64_t *prev_parks,
		    size_t n, const uint64_t *gone, size_t ngone)
{
	go_chan_table__begin(t);
	for (size_t i = 0; i < n; i++)
		go_chan_table__saw(t, now, objs[i], parks[i], prev_objs[i], prev_parks[i]);
	for (size_t i = 0; i < ngone; i++)
		go_chan_table__gone(t, now, gone[i]);
	go_chan_table__end(t);
}

static void test_chan_table(void)
{
	struct go_chan_table t;
	uint64_t objs[] = {0xa0, 0xa0, 0xb0}, parks[] = {100, 100, 100};
	uint64_t prev_objs[3] = {0}, prev_parks[3] = {0}, gone[] = {0xb0};

	go_chan_table__init(&t);
	observe(&t, 1000, objs, parks, prev_objs, prev_parks, 3, NULL, 0);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xa0), 0);
	ASSERT_EQ(go_chan_table__waiters(&t, 0xa0), 2);
	/* goroutine 1 parked again on the same channel: a wait on it ended */
	memcpy(prev_objs, objs, sizeof(objs));
	memcpy(prev_parks, parks, sizeof(parks));
	parks[0] = 1500;
	observe(&t, 2000, objs, parks, prev_objs, prev_parks, 3, NULL, 0);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xa0), 2000);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xb0), 0);
	/* goroutine 3 is gone: its channel was served, but nobody waits on it any more */
	memcpy(prev_parks, parks, sizeof(parks));
	observe(&t, 3000, objs, parks, prev_objs, prev_parks, 2, gone, 1);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xb0), 0);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xa0), 2000);
	/* goroutine 2 no longer waits: a wait on 0xa0 ended, 1 still waits there */
	objs[1] = 0;
	observe(&t, 4000, objs, parks, prev_objs, prev_parks, 2, NULL, 0);
	ASSERT_EQ(go_chan_table__last_wake(&t, 0xa0), 4000);
	ASSERT_EQ(go_chan_table__waiters(&t, 0xa0), 1);
	go_chan_table__free(&t);
}

/* A test binary's exit: from inside a test still running (os.Exit in a test, a helper
 * process) or at its end, where a test's goroutine may linger a moment (CI saw it). */
static void test_exit_mid_test(void)
{
	struct go_group gs[4];

	gs[0] = blocked("running", 1); /* the main goroutine, calling exit */
	gs[0].main_goroutine = true;
	gs[1] = blocked("runnable", 1); /* the test's, between its result and its end */
	gs[1].test_goroutine = true;
	gs[2] = blocked("chan send", 5);    /* a leak */
	gs[3] = blocked("chan receive", 1); /* another process's */
	gs[3].pid = 7;
	ASSERT_TRUE(!go_groups__exited_mid_test(gs, 4, 0, 0));
	/* os.Exit in a test: the main goroutine waits for it in testing.(*T).Run */
	snprintf(gs[0].state, sizeof(gs[0].state), "chan receive");
	snprintf(gs[1].state, sizeof(gs[1].state), "running");
	ASSERT_TRUE(go_groups__exited_mid_test(gs, 4, 0, 0));
	ASSERT_TRUE(!go_groups__exited_mid_test(gs, 4, 0, 1)); /* a failed test run */
	ASSERT_TRUE(!go_groups__exited_mid_test(gs, 4, 0, 2)); /* a timeout, a panic */
	/* no test's goroutine: a program, or a test binary between its tests */
	gs[1].test_goroutine = false;
	ASSERT_TRUE(!go_groups__exited_mid_test(gs, 4, 0, 0));
	/* the main goroutine's group unread: nothing says the exit is main's */
	gs[1].test_goroutine = true;
	ASSERT_TRUE(go_groups__exited_mid_test(gs + 1, 3, 0, 0));
	ASSERT_TRUE(!go_groups__exited_mid_test(gs, 4, 7, 0)); /* pid 7 ran no test */
}

int main(void)
{
	test_std_packages();
	test_verdicts();
	test_timeline();
	test_runaway();
	test_frame_pointer_walk();
	test_chan_table();
	test_exit_mid_test();
	return unit_summary();
}
