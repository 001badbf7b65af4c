// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The judge step: every verdict strand prints is made here, before anything is reported,
 * and in this order:
 *   1. threads' waits (verdicts/detect.c): blocked threads grouped by what they wait on, each
 *      group idle, slow, stranded or deadlocked, with its evidence;
 *   2. goroutines' waits (go/godetect.c and its neighbours): grouped and judged, a goroutine
 *      locked to a thread taking that thread's group (so 1 comes first), each goroutine
 *      site judged for runaway spawn with its groups;
 *   3. thread spawn sites, runaway or not (verdicts/runaway.c), at each report: their counts
 *      are the events', which arrive between scans, and a report shows the verdict of the
 *      counts it shows.
 * 1 and 2 run at every scan (engine__scan), 3 when the report model is built
 * (engine__report). Renderers (report/, daemon/metrics.c) only read what was judged.
 */
#include "engine/engine.h"
#include "engine/report_model.h"
#include "go/goroutines.h"
#include "lib/phases.h"
#include "lib/util.h"
#include "verdicts/detect.h"
#include "verdicts/runaway.h"

#include <stdlib.h>

void engine__judge(struct engine *e)
{
	detector__observe(e->detector, now_mono_ns());
	phase__done("threads judged");
	go_tracker__regroup(e->go, detector__last(e->detector));
	phase__done("goroutines grouped");
}

/* A thread site: a runaway by the tasks it has alive at once, from one parent or in all
 * (a thread-per-request server makes thousands one after the other: that is its spawn rate,
 * not a runaway). The tasks from before the attach have no site to blame. */
static void judge_thread_site(const struct site *s, uint32_t threshold, struct runaway_verdict *v)
{
	struct runaway_input in = {
		.threshold = s->before_attach ? 0 : threshold,
		.live = s->live,
		.peak = s->peak_live,
		.max_children = s->max_live_children,
		.max_parent = (uint64_t)s->max_live_parent,
		.children_alive = true,
		.spawned = -1,
		.exited = -1,
		.live_over_time = &s->live_over_time,
		.unit = s->kind == TASK_PROCESS ? "processes" : "threads",
		.parent_unit = "thread",
	};

	runaway__judge(&in, v);
}

void engine__judge_sites(struct engine *e, struct report *r)
{
	struct site **sites = model__sorted_sites(&e->model, &r->nsites);

	r->sites = xcalloc(r->nsites ? r->nsites : 1, sizeof(*r->sites));
	for (size_t i = 0; i < r->nsites; i++) {
		const struct site *s = sites[i];
		struct reported_site *rs = &r->sites[i];

		rs->site = s;
		rs->rate = s->before_attach || r->duration_s <= 0
				   ? 0
				   : (double)s->spawned / r->duration_s;
		judge_thread_site(s, e->opts.runaway, &rs->runaway);
	}
	free(sites);
}
