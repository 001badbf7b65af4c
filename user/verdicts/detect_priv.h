/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What detect.c (each thread, chains, groups and their history) and detect_groups.c (the
 * verdict of groups by their evidence) share; nothing outside them includes this.
 */
#ifndef STRAND_DETECT_PRIV_H
#define STRAND_DETECT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/model.h"
#include "lib/hashmap.h"
#include "verdicts/detect.h"

struct history {
	uint64_t first, last, peak;
	uint32_t rises; /* scans at which the count went up */
	bool shrank;
	pid_t pid;
};

struct detector {
	struct model *model;
	struct wait_table *wt;
	uint64_t threshold_ns, runaway;
	bool exit_leaks;	/* detector__judge_exits */
	struct hashmap history; /* group key -> struct history */
	struct detection last;
	bool have_last;
};

/* What one thread's judgement came to, before its group is formed. */
/* The evidence lines of one observation's notes, kept together and freed at its end: a
 * hundred thousand blocked threads' lines cost their length, not 8 x 192 bytes each. */
struct note_arena {
	char **chunks;
	size_t nchunks, used; /* used: of the last chunk */
};

struct note {
	struct note_arena *arena;
	enum verdict verdict;
	bool unsettled; /* only its group can say: leak-prone, untimed, never served */
	bool proven;
	const struct thread_role *role;
	uint64_t key;				  /* its group */
	uint64_t growth_key;			  /* where its group's growth is counted */
	const char *evidence[GROUP_MAX_EVIDENCE]; /* in the arena */
	int n;
};

void note__add(struct note *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool wait__is_futex(enum wait_kind k);
/* A read on a connection this process made whose peer never answered what was sent. */
bool wait__unanswered_call(const struct task_wait *w);
/* The owner of t's mutex, a thread of t's process; NULL when it no longer exists. */
const struct task *detect__mutex_owner(struct detector *d, const struct task *t);
/* Where the growth of t's group (key group) is counted: its wait site, or the group. */
uint64_t detect__growth_key(const struct task *t, uint64_t group);

/* Each unsettled thread takes its group's verdict (detect_groups.c). */
void detect__judge_groups(struct detector *d, struct task **tasks, size_t ntasks,
			  struct note *notes, uint64_t now);

#endif /* STRAND_DETECT_PRIV_H */
