// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The overhead budget of the goroutine probes. A uprobe's trap costs the traced program
 * 0.5 us a hit on one machine here and 5.5 on another (a VM whose traps go to its host),
 * where the runtime makes a goroutine in 0.2: a program that makes and ends
 * goroutines by the hundred thousand a second would run several times slower with the
 * create and exit probes on. So each process gets a budget (--overhead, a share of one CPU):
 * the probes count their hits per window in the kernel, and at the window's limit (the
 * budget over the cost of a trap, timed at start) strand is told and detaches them. They
 * are armed again for a moment later, to learn spawn sites that are new, then less often
 * each time the budget is spent again. Meanwhile the scans still count the live goroutines
 * of each go statement, the spawn counts are lower bounds, and the report says when and
 * why the probes were shed. Exact waits (park and ready probes, asked for or needed where
 * g.trackingSeq is unknown) have no budget: their cost is the one asked for.
 */
#include "go/gotrack.h"
#include "lib/util.h"
#include "probes/loader.h"

#include <stdio.h>

#define WINDOW_NS    (100ULL * 1000000ULL)
#define REARM_MIN_NS (1ULL * NSEC_PER_SEC)
#define REARM_MAX_NS (64ULL * NSEC_PER_SEC)
#define DEFAULT_TRAP 2000.0 /* ns, when the trap could not be timed */

void go_tracker__overhead(struct go_tracker *t, double percent, double trap_ns)
{
	double budget_ns = percent / 100.0 * (double)WINDOW_NS;

	t->trap_ns = trap_ns > 0 ? trap_ns : DEFAULT_TRAP;
	t->overhead_pct = percent;
	t->budget_hits = budget_ns / t->trap_ns < 1 ? 1 : (uint32_t)(budget_ns / t->trap_ns);
}

void go_budget__arm(struct go_tracker *t, struct go_proc_state *st)
{
	/* exact waits were asked for at their stated cost: no budget */
	if (!t->ld || !st->create_probes || st->probes || !t->budget_hits)
		return;
	if (loader__set_go_budget(t->ld, st->pid, t->budget_hits, WINDOW_NS))
		note("pid %d: the goroutine probes' budget could not be set: they stay attached",
		     st->pid);
}

/* Detaches st's create and exit probes: hits in the last window_ns spent the budget. */
static void shed(struct go_tracker *t, struct go_proc_state *st, uint32_t hits, uint64_t window_ns)
{
	double seconds = window_ns ? (double)window_ns / 1e9 : (double)WINDOW_NS / 1e9;
	double rate = (double)hits / seconds;

	if (st->shed || !st->create_probes || !t->ld)
		return;
	loader__unlink_go(t->ld, st->pid);
	st->shed = true;
	st->sheds++;
	t->sheds_total++;
	st->shed_ns = now_mono_ns();
	st->rearm_every_ns = st->rearm_every_ns ? st->rearm_every_ns * 2 : REARM_MIN_NS;
	if (st->rearm_every_ns > REARM_MAX_NS)
		st->rearm_every_ns = REARM_MAX_NS;
	st->rearm_ns = st->shed_ns + st->rearm_every_ns;
	snprintf(st->shed_why, sizeof(st->shed_why),
		 "the create and exit probes were detached %u time%s: %.0f hits/s x %.2f us "
		 "a trap is %.1f%% of a CPU, over the %.2g%% budget (--overhead); armed again "
		 "for moments to learn new spawn sites, counts since from the scans",
		 st->sheds, st->sheds == 1 ? "" : "s", rate, t->trap_ns / 1e3,
		 rate * t->trap_ns / 1e7, t->overhead_pct);
}

void go_tracker__on_over_budget(void *tracker, const struct strand_go_budget_event *ev)
{
	struct go_tracker *t = tracker;
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)ev->hdr.tgid);

	if (st)
		shed(t, st, ev->hits, ev->window_ns);
}

void go_budget__check(struct go_tracker *t, struct go_proc_state *st)
{
	struct strand_go_budget b;

	/* the kernel's word that the budget was spent is a ring-buffer record, which a full
	 * buffer loses (counted): the probes would stay attached, doing nothing, costing traps */
	if (t->ld && !st->shed && st->create_probes && !st->probes &&
	    !loader__go_budget(t->ld, st->pid, &b) && b.tripped)
		shed(t, st, b.hits, b.window_ns);
}

bool go_budget__rearm_due(struct go_tracker *t, struct go_proc_state *st)
{
	if (!st->shed || st->exited || t->now_ns < st->rearm_ns)
		return false;
	st->shed = false;
	return true;
}

void go_tracker__sheds(struct go_tracker *t, uint64_t *total, uint64_t *now)
{
	uint64_t pid;
	void *val;

	*total = t->sheds_total;
	*now = 0;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);)
		*now += ((const struct go_proc_state *)val)->shed;
}
