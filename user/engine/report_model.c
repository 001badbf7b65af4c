// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report model (report_model.h), built from the engine's state after the judge step. */
#include "engine/report_model.h"
#include "collect/waits.h"
#include "engine/engine.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/stacks.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

void report__warn(struct report *r, const char *warning)
{
	if (r->nwarnings < REPORT_MAX_WARNINGS)
		r->warnings[r->nwarnings++] = warning;
}

void report__release(struct report *r)
{
	free(r->sites);
	r->sites = NULL;
	r->nsites = 0;
}

/* Where the trace runs, and what strand has used of the machine so far. */
static void where_and_what(struct report *r)
{
	struct utsname u;
	struct rusage ru;

	if (gethostname(r->host, sizeof(r->host) - 1))
		r->host[0] = 0;
	if (!uname(&u)) {
		snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
		snprintf(r->machine, sizeof(r->machine), "%s", u.machine);
	}
	if (!getrusage(RUSAGE_SELF, &ru)) {
		r->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		r->max_rss_kib = (uint64_t)ru.ru_maxrss;
	}
}

void engine__report(struct engine *e, struct report *r, bool final, bool frozen)
{
	memset(r, 0, sizeof(*r));
	r->model = &e->model;
	r->now_ns = now_mono_ns();
	r->duration_s = (double)(r->now_ns - e->start_ns) / 1e9;
	r->final = final;
	r->all_processes = e->opts.all;
	loader__read_counters(e->ld, r->counters);
	collector__stats(e->col, &r->stats);
	stacks__stats(e->stacks, &r->stacks);
	r->threshold_ns = (uint64_t)e->opts.threshold_ns;
	r->runaway = e->opts.runaway;
	r->started_unix_s = e->started_unix_s;
	where_and_what(r);
	r->detection = detector__last(e->detector);
	r->goroutines = e->is_go ? e->go : NULL;
	if (r->detection && frozen && r->detection->at_ns < r->now_ns)
		r->detection_age_s = (double)(r->now_ns - r->detection->at_ns) / 1e9;
	if (r->counters[STRAND_CNT_RINGBUF_DROPS])
		report__warn(r, "events were lost: the ring buffer was full; counts are low");
	r->scan_every_s = (double)e->scan_every_ns / 1e9;
	r->scan_gap_s = (double)e->scan_gap_ns / 1e9;
	r->scan_cpu_s = (double)e->scan_cpu_ns / 1e9;
	r->scans_in_halves = loader__scans_in_halves(e->ld);
	r->prefaulted_ahead = prefault__carved();
	r->task_stacks_copied = wait_table__stacks_copied(e->waits);
	engine__judge_sites(e, r);
	if (e->scan_gap_ns > e->scan_every_ns) {
		snprintf(
			e->paced_note, sizeof(e->paced_note),
			"scans %.1f s apart, not %.1f s: one takes %.2f s of CPU, and strand keeps "
			"its scans within %d%% of a CPU; waits are dated to a scan's precision",
			r->scan_gap_s, r->scan_every_s, r->scan_cpu_s, SCAN_BUDGET_PCT);
		report__warn(r, e->paced_note);
	}
}
