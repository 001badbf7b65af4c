/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a goroutine parked on channels waits on, and whether anything was ever delivered
 * there. A goroutine in a channel operation or a select lists its sudogs from g.waiting
 * (linked by sudog.waitlink), each naming its channel (sudog.c): N goroutines each on a
 * channel of its own are N forgotten requests; N goroutines on one channel are a pool.
 * A channel is "served" once a wait on it is seen to end: waits on a served channel are
 * not forgotten, however long they are.
 */
#ifndef STRAND_GOWAIT_H
#define STRAND_GOWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/hashmap.h"

struct go_layout;
struct go_g;

#define GO_SELECT_MAX_CASES 16 /* sudogs followed per select */

/* Goroutines whose wait objects are read together: a few batched reads a round. */
#define GO_WAIT_OBJECTS_CHUNK 4096

/*
 * The wait object of each of the n goroutines at gs: objs[i] is the channel gs[i] waits on,
 * a hash standing for the set of channels of a select (its low bit set, so it is never a
 * channel's address), or 0 when it is not in a channel wait or the layout does not say.
 * Read a chunk at a time by the caller, so that a million goroutines need no array of them.
 */
void go_wait__objects(pid_t pid, const struct go_layout *l, const struct go_g *gs, size_t n,
		      uint64_t *objs);

/*
 * Finds the offsets of g.waiting, sudog.waitlink and sudog.c missing from l, proved against
 * the goroutines of pid now in channel waits (a sudog names its goroutine; the channel it
 * names queues it). Fields without enough evidence yet stay -1: call again at a later scan.
 * Returns how many offsets are known after the call (0 to 3). Each attempt (0, 1, ...) looks
 * at a different sample of a large process's goroutines.
 */
int go_wait__infer(pid_t pid, uint64_t bias, struct go_layout *l, unsigned attempt);

/* Checks offsets that came from DWARF the same way; clears those that do not hold. Returns
 * 1 when all held against goroutines in channel waits and selects, 0 when there was not
 * enough to check them on yet, -1 when one did not hold (cleared). */
int go_wait__check(pid_t pid, uint64_t bias, struct go_layout *l, unsigned attempt);

/* The channels goroutine g (of a snapshot of pid) waits on, and their sudogs, at most max:
 * one for a send or receive, one per case of a select. How many, -ENOENT when it is in
 * no channel wait or the layout does not say, -ESTALE when its sudogs changed under the read
 * (it woke) or it has more than max. */
int go_wait__channels(pid_t pid, const struct go_layout *l, const struct go_g *g, uint64_t *chans,
		      uint64_t *sudogs, int max);

/* The element type of the channel at hchan in pid ("os.Signal", "*main.result"), from the
 * module's types (moduledata.types and .etypes, load bias added): 0, or -errno. */
int go_chan__elem_type(pid_t pid, uint64_t hchan, uint64_t types, uint64_t etypes, char *out,
		       size_t len);

/* When a wait on each channel last ended, as the scans saw it. */
struct go_chan_table {
	struct hashmap last_wake;  /* object -> ns (as pointer) */
	struct hashmap waiters_of; /* object -> goroutines waiting on it now (as pointer) */
};

void go_chan_table__init(struct go_chan_table *t);
void go_chan_table__free(struct go_chan_table *t);
/* One scan: begin; then for every goroutine, the object it waits on (0: none) and its
 * park's identity (the park time, exact or first seen), now and at the last scan (0 when it
 * did not wait there or was not there); the objects of the last scan's waiters that are
 * gone, any time before end (before begin too); end. A goroutine no longer waiting on the object it
 * waited on (or parked there anew), or gone, ended a wait: the object is served as of now_ns. The
 * goroutines' own history is the caller's (a record per goroutine), not a table here. */
void go_chan_table__begin(struct go_chan_table *t);
void go_chan_table__saw(struct go_chan_table *t, uint64_t now_ns, uint64_t obj, uint64_t park,
			uint64_t prev_obj, uint64_t prev_park);
void go_chan_table__gone(struct go_chan_table *t, uint64_t now_ns, uint64_t prev_obj);
void go_chan_table__end(struct go_chan_table *t);
/* When a wait on obj last ended; 0: never seen to. */
uint64_t go_chan_table__last_wake(const struct go_chan_table *t, uint64_t obj);
/* How many goroutines wait on obj now. */
uint64_t go_chan_table__waiters(const struct go_chan_table *t, uint64_t obj);

#endif /* STRAND_GOWAIT_H */
