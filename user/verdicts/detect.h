/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Detection: which blocked threads are deadlocked or stranded (a proof, or evidence they were
 * forgotten), which are idle (blocked long, healthy by the evidence: a timed wait, a
 * runtime's own thread, a pool that is served or flat), and which are candidates (long and
 * never served, with nothing saying forgotten); grouped by (spawn site, wait site), each
 * verdict with its evidence. The model is in docs/verdicts.md.
 */
#ifndef STRAND_DETECT_H
#define STRAND_DETECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/model.h"

struct wait_table;

enum verdict {
	VERDICT_NONE,	   /* not blocked past the threshold */
	VERDICT_CANDIDATE, /* blocked past it, untimed, never served: nothing says forgotten */
	VERDICT_IDLE,
	VERDICT_STRANDED,
	VERDICT_DEADLOCK,
};

const char *verdict__name(enum verdict v);

#define GROUP_MAX_EVIDENCE 8
#define GROUP_MAX_TIDS	   8

struct thread_role;

/* A group outlives the tasks it describes (it may be reported after they exited). */
struct wait_group {
	enum verdict verdict;
	bool proven;			/* the verdict is a proof, not evidence */
	const struct thread_role *role; /* a runtime's own thread, judged apart */
	pid_t pid;
	struct site *site; /* spawn site; sites live as long as the model */
	uint32_t go_site;  /* Go: the site of the goroutines its threads are in syscalls for */
	enum wait_kind kind;
	char reason[192];
	struct sym_frame *wait_stack; /* copied; strings owned by the symbolizer */
	int wait_depth;
	uint64_t count;
	double oldest_s, newest_s; /* wait ages */
	bool estimated;		   /* some waits began before attach */
	pid_t tids[GROUP_MAX_TIDS];
	int ntids;
	char evidence[GROUP_MAX_EVIDENCE][192];
	int nevidence;
};

struct detection {
	struct wait_group *groups; /* deadlocks, then stranded, then idle; most tasks first */
	size_t n;
	struct hashmap group_of;				  /* tid -> index in groups + 1 */
	uint64_t blocked, idle, stranded, deadlocked, candidates; /* tasks */
	uint64_t at_ns;						  /* when it was computed */
};

struct detector;

/* runaway: this many identical untimed waits are more than any pool needs (--runaway). */
struct detector *detector__new(struct model *m, struct wait_table *wt, uint64_t threshold_ns,
			       uint64_t runaway);
void detector__free(struct detector *d);
/* A thread still blocked when its process is held on its way out (process.held_at_exit) is
 * left for good, with goleak's semantics: the commands strand runs, in CI. */
void detector__judge_exits(struct detector *d, bool leaks);
/* Drops the history of pid's groups: the daemon, once pid is gone. */
void detector__forget(struct detector *d, pid_t pid);

/* After every scan: records how each (spawn site, wait site) group evolves, and keeps the
 * detection as it stood, so that a target that exits is reported as it was. */
void detector__observe(struct detector *d, uint64_t now_ns);

/* The detection of the last observation, NULL before the first. */
const struct detection *detector__last(struct detector *d);
uint64_t detector__threshold(struct detector *d);

void detection__free(struct detection *det);
/* The group of thread tid in det, NULL when it has no verdict. */
const struct wait_group *detection__group_of(const struct detection *det, pid_t tid);

#endif /* STRAND_DETECT_H */
