// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * When to walk a live program's heap for goroutines parked on channels or locks nothing can
 * reach (goreach.h), and what the walks prove: one is taken only in trace mode, only while
 * some goroutine of the program's own has been parked so for a while with no verdict,
 * at most every few seconds, the process held still for the walk (freeze.h) and never past
 * a budget. A goroutine is proven lost when two walks in a row, seconds apart, find its
 * channels unreachable with it parked on the same sudog: what a register of a running
 * thread alone held (invisible to a walk) cannot stay there that long.
 */
#include "go/gomem.h"
#include "go/goreach.h"
#include "go/gotrack.h"
#include "lib/util.h"
#include "sys/freeze.h"
#include "sys/procfs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_EVERY_NS	(2ULL * NSEC_PER_SEC)
#define PARKED_FOR_NS	(1ULL * NSEC_PER_SEC) /* parked this long before a walk is worth it */
#define FREEZE_MS	100
#define WALK_BUDGET_NS	(250ULL * 1000000ULL)
#define WALK_MAX_PARKED 20000 /* goroutines parked on channels: their sudogs are read held */

#define COND_WAIT "sync.Cond.Wait"

/* Parked on a channel (its object known) or on a sync primitive. */
static bool walkable(struct go_proc_state *st, size_t i)
{
	return go_row(st, i)->obj || go_state_is_sync_wait(go_state_name(st, &st->snap.g[i]));
}

/* Some goroutine of the program's own parked on a channel or a lock for a while, still
 * unproven, and few enough parked so for a walk to read within its budget. */
static bool worth_a_walk(struct go_tracker *t, struct go_proc_state *st)
{
	uint64_t parked = 0;
	bool unproven = false;

	for (size_t i = 0; i < st->snap.n; i++) {
		const struct row *r = go_row(st, i);
		bool w = walkable(st, i);

		parked += w;
		if (w && r->park && t->now_ns - r->park >= PARKED_FOR_NS &&
		    !t->sites[r->site].runtime && !hashmap__get(&st->lost, st->snap.g[i].goid))
			unproven = true;
	}
	if (unproven && parked > WALK_MAX_PARKED) {
		snprintf(st->walk_why, sizeof(st->walk_why),
			 "%" PRIu64 " goroutines parked on channels or locks, too many to walk in "
			 "the budget",
			 parked);
		return false;
	}
	return unproven;
}

/* The garbage collector's goroutines in snap, by their start function (the last scan's
 * sites, by goroutine id). */
static uint8_t *collectors_of(struct go_tracker *t, struct go_proc_state *st,
			      const struct go_snapshot *snap)
{
	static const char *const gc[] = {"runtime.gcBgMarkWorker", "runtime.bgsweep",
					 "runtime.bgscavenge", "runtime.forcegchelper"};
	uint8_t *out = xcalloc(snap->n + 1, 1);

	for (size_t i = 0; i < snap->n; i++) {
		size_t row = go_row_of_goid(st, snap->g[i].goid);
		const char *fn = row ? t->sites[go_row(st, row - 1)->site].start.function : NULL;

		for (size_t k = 0; fn && k < ARRAY_SIZE(gc); k++)
			out[i] |= !strcmp(fn, gc[k]);
	}
	return out;
}

/* Whether pc is in the frame of sync.(*Cond).Wait (inlined into it or not). */
static bool is_cond_wait_frame(void *ctx, uint64_t pc, bool is_return)
{
	const char *names[GO_MAX_INLINE_DEPTH];
	int n = go_functions_at(ctx, pc, is_return, names, GO_MAX_INLINE_DEPTH);

	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], "sync.(*Cond).Wait"))
			return true;
	return false;
}

static uint8_t *cond_waiters_of(struct go_proc_state *st, const struct go_snapshot *snap)
{
	uint8_t *out = xcalloc(snap->n + 1, 1);

	for (size_t i = 0; i < snap->n; i++)
		out[i] = !strcmp(go_state_name(st, &snap->g[i]), COND_WAIT);
	return out;
}

static void walk_held(struct go_tracker *t, struct go_proc_state *st, struct go_reach_out *out)
{
	struct go_snapshot snap = {0};
	struct frozen fz = {0};
	uint64_t *ms = xcalloc(st->nthreads + 1, sizeof(*ms));
	uint8_t *collector = NULL, *cond_waiter = NULL;
	size_t nms = 0;
	char exe[64];
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", st->pid);
	for (size_t i = 0; st->threads_read && i < st->nthreads; i++)
		if (st->threads[i].m)
			ms[nms++] = st->threads[i].m;
	if ((err = freeze__process(st->pid, FREEZE_MS, &fz))) {
		snprintf(out->why, sizeof(out->why), "the process could not be held still (%s)",
			 strerror(-err));
		free(fz.tids);
		free(ms);
		return;
	}
	if (go_process__snapshot(&st->gp, &snap)) {
		snprintf(out->why, sizeof(out->why), "its goroutines could not be read held");
	} else {
		struct go_reach_in in = {
			.pid = st->pid,
			.l = &st->gp.layout,
			.bias = st->gp.bias,
			.exe = exe,
			.heap = st->heap,
			.snap = &snap,
			.budget_ns = WALK_BUDGET_NS,
			.ms = ms,
			.nms = nms,
			.cond_frame = is_cond_wait_frame,
			.cond_ctx = st,
		};

		in.collector = collector = collectors_of(t, st, &snap);
		in.cond_waiter = cond_waiter = cond_waiters_of(st, &snap);
		out->unreachable = xcalloc(snap.n + 1, 1);
		if (!go_reach__walk(&in, out)) {
			/* goroutine id -> its sudog then, for the next walk to agree with */
			struct hashmap now;

			hashmap__init(&now);
			for (size_t i = 0; i < snap.n; i++) {
				const struct go_g *g = &snap.g[i];

				if (!out->unreachable[i])
					continue;
				hashmap__set(&now, g->goid, (void *)(uintptr_t)g->waiting);
				if ((uint64_t)(uintptr_t)hashmap__get(&st->unreached, g->goid) ==
				    g->waiting)
					hashmap__set(&st->lost, g->goid, (void *)1);
			}
			hashmap__free(&st->unreached);
			st->unreached = now;
		}
		free(out->unreachable);
		out->unreachable = NULL;
	}
	freeze__thaw(&fz);
	free(fz.tids);
	free(ms);
	free(collector);
	free(cond_waiter);
	go_snapshot__free(&snap);
}

void go_prove_lost(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_reach_out out = {0};
	uint8_t cgo = 1;

	freeze__settle();
	/* a goroutine proven lost that is gone or moved on is no longer */
	for (size_t i = 0; i < st->snap.n; i++)
		if (hashmap__get(&st->lost, st->snap.g[i].goid) &&
		    (uint64_t)(uintptr_t)hashmap__get(&st->unreached, st->snap.g[i].goid) !=
			    st->snap.g[i].waiting)
			hashmap__del(&st->lost, st->snap.g[i].goid);
	if (!t->hold_exits || st->deadlocked || st->walks_given_up || !st->snap.n ||
	    t->now_ns - st->walked_ns < WALK_EVERY_NS || !worth_a_walk(t, st))
		return;
	st->walked_ns = t->now_ns;
	if (!st->heap_tried) {
		st->heap_tried = true;
		st->heap = go_heap__open(st->pid, st->gp.bias, &st->gp.layout, st->snap.g[0].g);
	}
	if (!st->heap || !st->gp.layout.iscgo ||
	    procfs__read_mem(st->pid, st->gp.layout.iscgo + st->gp.bias, &cgo, 1) || cgo) {
		snprintf(st->walk_why, sizeof(st->walk_why), "%s",
			 !st->heap ? "its heap's index is unknown (no DWARF)"
				   : "it uses cgo: C code may hold Go pointers");
		return;
	}
	walk_held(t, st, &out);
	st->walks++;
	st->walk_objects = out.objects;
	st->walk_bytes = out.bytes;
	st->walk_ns = out.ns;
	snprintf(st->walk_why, sizeof(st->walk_why), "%s", out.why);
	/* a heap too large for the budget stays so: no more holding it still for nothing */
	if (out.cut_short) {
		st->walks_given_up = true;
		snprintf(st->walk_why, sizeof(st->walk_why),
			 "the walk was cut short at %.0f ms (a heap too large): no more walks",
			 (double)WALK_BUDGET_NS / 1e6);
	}
}
