// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * When to walk a live program's heap for goroutines parked on channels nothing can reach
 * (goreach.h), and what the walks prove: one is taken only in trace mode, only while some
 * goroutine of the program's own has been parked on a channel for a while with no verdict,
 * at most every few seconds, the process held still for the walk (freeze.h) and never past
 * a budget. A goroutine is proven lost when two walks in a row, seconds apart, find its
 * channels unreachable with it parked on the same sudog: what a register of a running
 * thread alone held (invisible to a walk) cannot stay there that long.
 */
#include "freeze.h"
#include "gomem.h"
#include "goreach.h"
#include "procfs.h"
#include "gotrack.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_EVERY_NS  (2ULL * 1000000000ULL)
#define PARKED_FOR_NS  (1ULL * 1000000000ULL) /* parked this long before a walk is worth it */
#define FREEZE_MS      100
#define WALK_BUDGET_NS (250ULL * 1000000ULL)

/* Some goroutine of the program's own parked on a channel for a while, still unproven. */
static bool worth_a_walk(struct go_tracker *t, struct go_proc_state *st)
{
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct row *r = &st->rows[i];

		if (r->obj && r->park && t->now_ns - r->park >= PARKED_FOR_NS &&
		    !t->sites[r->site].runtime && !hashmap__get(&st->lost, st->snap.g[i].goid))
			return true;
	}
	return false;
}

static void walk_held(struct go_tracker *t, struct go_proc_state *st, struct go_reach_out *out)
{
	struct go_snapshot snap = {0};
	struct frozen fz = {0};
	char exe[64];
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", st->pid);
	if ((err = freeze__process(st->pid, FREEZE_MS, &fz))) {
		snprintf(out->why, sizeof(out->why), "the process could not be held still (%s)",
			 strerror(-err));
		free(fz.tids);
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
		};

		out->unreachable = xcalloc(snap.n + 1, 1);
		out->reachable = xcalloc(snap.n + 1, 1);
		if (!go_reach__walk(&in, out)) {
			/* goroutine id -> its sudog then, for the next walk to agree with */
			struct hashmap now;

			hashmap__init(&now);
			hashmap__free(&st->reached);
			for (size_t i = 0; i < snap.n; i++) {
				const struct go_g *g = &snap.g[i];

				if (out->reachable[i])
					hashmap__set(&st->reached, g->goid, (void *)1);
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
		free(out->reachable);
		out->unreachable = out->reachable = NULL;
	}
	freeze__thaw(&fz);
	free(fz.tids);
	go_snapshot__free(&snap);
}

void go_prove_lost(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_reach_out out = {0};
	uint8_t cgo = 1;

	/* a goroutine proven lost that is gone or moved on is no longer */
	for (size_t i = 0; i < st->snap.n; i++)
		if (hashmap__get(&st->lost, st->snap.g[i].goid) &&
		    (uint64_t)(uintptr_t)hashmap__get(&st->unreached, st->snap.g[i].goid) !=
			    st->snap.g[i].waiting)
			hashmap__del(&st->lost, st->snap.g[i].goid);
	if (!t->hold_exits || st->deadlocked || !st->snap.n ||
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
}
