/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Wait stacks unwound once for many threads. A hundred thousand threads blocked at one place
 * have one call path: unwinding and symbolizing each copy costs microseconds apiece. A copy
 * of the same process, pc and length whose return addresses sit at the offsets where the
 * remembered one had them, and are the same, is the same path: every frame's return address
 * is where the unwinder found it, so the unwinder would find the same ones.
 */
#ifndef STRAND_STACKMEMO_H
#define STRAND_STACKMEMO_H

#include <stdint.h>
#include <sys/types.h>

#include "sym/symbolize.h"
#include "sym/unwind.h"

struct stack_memo;

struct stack_memo *stack_memo__new(void);
void stack_memo__free(struct stack_memo *m);

/* The symbolized frames (a copy: the caller frees it) and path hash of a remembered stack
 * that sample's copy holds too; returns their number, or -1 when none is remembered. */
int stack_memo__find(struct stack_memo *m, const struct stack_sample *sample,
		     struct sym_frame **frames, uint64_t *path_hash);

/* Remembers sample's unwinding st and its symbolized frames[0..n), when every return
 * address came from the copy (nothing else could be checked later). */
void stack_memo__add(struct stack_memo *m, const struct stack_sample *sample,
		     const struct unwound_stack *st, const struct sym_frame *frames, int n,
		     uint64_t path_hash);

/* pid exec'd or exited: its stacks mean nothing now. */
void stack_memo__forget(struct stack_memo *m, pid_t pid);

#endif /* STRAND_STACKMEMO_H */
