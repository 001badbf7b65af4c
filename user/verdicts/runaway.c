// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "verdicts/runaway.h"
#include "lib/timeline.h"
#include "lib/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A rising count is judged on this many scans at least, and must rise by this much: a
 * handful of tasks growing over two seconds is noise, not a shape. */
#define GROWTH_MIN_SAMPLES 5
#define GROWTH_MIN_RISE	   8

/* a line of v's evidence */
#define add(v, ...) EVIDENCE_ADD((v)->evidence, (v)->n, __VA_ARGS__)

bool runaway__judge(const struct runaway_input *in, struct runaway_verdict *out)
{
	uint32_t from, to;

	memset(out, 0, sizeof(*out));
	if (!in->threshold)
		return false;
	if (in->max_children >= in->threshold) {
		const char *did = in->children_alive ? "had" : "created";
		const char *when = in->children_alive ? " alive at once" : "";

		out->runaway = true;
		if (in->max_parent)
			add(out,
			    "one %s (%" PRIu64 ") %s %" PRIu64 " %s here%s: a fan-out sized by "
			    "its input, not bounded by design",
			    in->parent_unit, in->max_parent, did, in->max_children, in->unit, when);
		else
			add(out, "one %s %s %" PRIu64 " %s here%s: a fan-out sized by its input",
			    in->parent_unit, did, in->max_children, in->unit, when);
	}
	if (in->peak >= in->threshold) {
		out->runaway = true;
		add(out, "%" PRIu64 " %s from this site alive at once (threshold %" PRIu64 ")",
		    in->peak, in->unit, in->threshold);
	}
	/* a count that grows with stranded tasks is the leak they already are, said there */
	if (in->live_over_time && in->stranded * 2 < in->live &&
	    timeline__only_grew(in->live_over_time, GROWTH_MIN_SAMPLES, GROWTH_MIN_RISE, &from,
				&to)) {
		const struct timeline *t = in->live_over_time;

		out->runaway = true;
		add(out, "the live count only grew: %u -> %u %s over %.0f s, never coming down",
		    from, to, in->unit, (double)(t->last_ns - t->first_ns) / 1e9);
	}
	/* every one of them outlived the task that made it, and none ended: not bounded by
	 * the work that started them (a heartbeat left behind by each connection) */
	if (!out->runaway && in->orphans >= 2 && in->orphans == in->live && !in->stranded &&
	    in->spawned > 0 && in->exited == 0) {
		out->runaway = true;
		add(out,
		    "all %" PRIu64 " live %s outlived the %s that created them, and none of those "
		    "created while traced has ended",
		    in->live, in->unit, in->parent_unit);
		return true;
	}
	if (out->runaway && in->orphans)
		add(out,
		    "%" PRIu64 " of the %" PRIu64 " live ones outlived the %s that created them",
		    in->orphans, in->live, in->parent_unit);
	return out->runaway;
}
