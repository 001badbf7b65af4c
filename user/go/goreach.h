/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The garbage collector's criterion for a leaked goroutine, checked from outside: a
 * goroutine parked on channels (or on the semaphore of a sync.Mutex, RWMutex or WaitGroup, or
 * on a sync.Cond) none of which any goroutine able to run can reach is blocked for good (Go 1.26's
 * goroutineleak profile; "Dynamic Partial Deadlock Detection and Recovery via Garbage Collection",
 * ASPLOS 2025).
 *
 * With the process held still (freeze.h), a mark from the roots (the executable's writable
 * sections, and the stack and g of every goroutine not parked on a channel) through the heap
 * (gomem.h: where each object starts and ends). Conservative: every word that points into
 * an object in use counts as a pointer, so an object is called unreachable only when no
 * word, pointer or not, leads to it. The links the runtime keeps to a parked goroutine (its
 * g, listed in allgs; its sudogs, queued on the channel) are not followed: they are how the
 * runtime finds it, not how the program could wake it. A parked goroutine whose channel is
 * reached joins the roots (it may be woken, and go on), until nothing changes. A Cond keeps
 * its waiters in a list of its own, not in the goroutine: a Cond waiter waits on every
 * object its waiting frames point to (the Cond among them, which Wait keeps to relock on
 * waking), and is a candidate only while none of them is reached.
 */
#ifndef STRAND_GOREACH_H
#define STRAND_GOREACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct go_layout;
struct go_snapshot;
struct go_heap;

struct go_reach_in {
	pid_t pid;
	const struct go_layout *l;
	uint64_t bias;
	const char *exe; /* the executable, for its writable sections */
	struct go_heap *heap;
	const struct go_snapshot *snap; /* read while the process is held */
	/* the runtime's Ms (runtime.m, m_size bytes each): not followed (m.waitlock keeps the
	 * channel an M last parked a goroutine on, m.curg its goroutine) */
	const uint64_t *ms;
	size_t nms;
	/* per goroutine of snap, 1 for the garbage collector's own (mark workers, sweeper,
	 * scavenger, forcegc helper): their stacks hold words of whatever they last scanned,
	 * and they never wake the program's goroutines; not roots */
	const uint8_t *collector;
	uint64_t budget_ns; /* the walk stops here, proving nothing */
	/* per goroutine of snap, 1 when it sleeps in sync.Cond.Wait: what it waits on is the
	 * Cond, whose pointer the frame of sync.(*Cond).Wait keeps (the method uses it when it
	 * wakes), found by cond_frame on its pcs; NULL: no Cond waiter is a candidate */
	const uint8_t *cond_waiter;
	bool (*cond_frame)(void *ctx, uint64_t pc, bool is_return);
	void *cond_ctx;
};

struct go_reach_out {
	/* per goroutine of snap: 1 when it is parked on channels and none is reachable */
	uint8_t *unreachable;
	uint64_t candidates, proven;
	uint64_t objects, bytes; /* heap objects marked, bytes read */
	uint64_t ns;		 /* the walk's time */
	bool cut_short;		 /* out of budget: nothing proven */
	char why[96];		 /* why nothing could be proven, "" when the walk ran */
};

/* Walks; out->unreachable has snap->n entries, allocated by the caller. 0, or -errno. */
int go_reach__walk(const struct go_reach_in *in, struct go_reach_out *out);

#endif /* STRAND_GOREACH_H */
