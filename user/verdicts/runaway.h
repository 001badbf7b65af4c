/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Runaway spawn: a spawn site whose tasks are bounded by the size of an input or by time
 * alone, never by design: one parent fanning out to thousands of children, thousands alive
 * at once, or a live count that only grows. Not a leak by itself (each task may finish),
 * so it is reported apart from stranded tasks and never fails a CI run; the same rules
 * judge thread and goroutine sites.
 */
#ifndef STRAND_RUNAWAY_H
#define STRAND_RUNAWAY_H

#include <stdbool.h>
#include <stdint.h>

struct timeline;

#define RUNAWAY_DEFAULT	     1000 /* tasks alive at once, or children of one parent */
#define RUNAWAY_MAX_EVIDENCE 4

struct runaway_input {
	uint64_t threshold;
	uint64_t live, peak;	 /* tasks of the site alive now, and at most */
	uint64_t max_children;	 /* most tasks one parent created here while traced */
	uint64_t max_parent;	 /* that parent (tid or goroutine id), 0: unknown */
	bool children_alive;	 /* max_children counts children alive at once, not created */
	uint64_t orphans;	 /* live tasks whose parent has exited, if known */
	int64_t spawned, exited; /* while traced; -1: not known */
	uint64_t stranded;	 /* live tasks already judged stranded: not a runaway for that */
	const struct timeline *live_over_time; /* may be NULL */
	const char *unit;		       /* "threads", "goroutines" */
	const char *parent_unit;	       /* "thread", "goroutine" */
};

struct runaway_verdict {
	bool runaway;
	char evidence[RUNAWAY_MAX_EVIDENCE][160];
	int n;
};

/* Judges a site; true when it is a runaway, its evidence in out. */
bool runaway__judge(const struct runaway_input *in, struct runaway_verdict *out);

#endif /* STRAND_RUNAWAY_H */
