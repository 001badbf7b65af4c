/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where goroutines wait: each goroutine's stack, walked through frame pointers in the
 * target's memory from the context the scheduler saved when it stopped running (g.sched:
 * pc, sp, bp). Go has kept frame pointers on amd64 since 1.7, so no unwind table is needed.
 * A parked goroutine's stack does not change until it runs again, so it is walked once per
 * park, not once per scan, and identical stacks are stored once.
 */
#ifndef STRAND_GOSTACK_H
#define STRAND_GOSTACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GO_STACK_MAX 32

struct go_stack {
	uint64_t pcs[GO_STACK_MAX]; /* pcs[0]: where it stopped; then return addresses */
	int depth;
	bool truncated; /* the walk stopped before the goroutine's first frame */
	/* for the caller: the frame where the goroutine's own code waits (-1: not set) */
	int wait_frame;
	uint64_t hash;	/* of pcs[0..depth) */
	uint64_t epoch; /* last update that used it */
};

struct go_snapshot;
struct go_g;
struct go_stack_cache;

struct go_stack_cache *go_stack_cache__new(void);
void go_stack_cache__free(struct go_stack_cache *c);

/* A goroutine's stack at a scan, and the saved context (a hash) it was walked from. */
struct go_stack_ref {
	uint64_t key;
	struct go_stack *stack; /* NULL: running, or no saved context */
};

/*
 * The stacks of the goroutines of snap that are not running: ref_of(ctx, g) is g's. On
 * entry it holds what the last update gave the same goroutine (zeroes for one not seen then),
 * kept when it has not run since, walked again otherwise (reads batched, a few hundred
 * goroutines per system call). Stacks no goroutine holds any more are dropped, so refs of
 * the last update not passed again must not be used. Returns how many were walked.
 */
size_t go_stack_cache__update(struct go_stack_cache *c, pid_t pid, const struct go_snapshot *snap,
			      struct go_stack_ref *(*ref_of)(void *ctx, const struct go_g *g),
			      void *ctx);

/* Where runtime.systemstack_switch is in the process: a goroutine in a C call (or on the
 * system stack) saved pc there and a frame pointer that holds; one in a plain system call
 * saved none. [0, 0): unknown. */
void go_stack_cache__set_switch(struct go_stack_cache *c, uint64_t lo, uint64_t hi);

/* Walks one stack whose words [lo, lo + len) are in mem (exposed for tests and fuzzing):
 * from pc and frame pointer bp, each frame's saved bp and return address above it. */
void go_stack__walk_mem(const uint8_t *mem, uint64_t lo, size_t len, uint64_t pc, uint64_t bp,
			struct go_stack *out);

#endif /* STRAND_GOSTACK_H */
