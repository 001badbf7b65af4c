/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The frames of the language runtimes a process may run, in the program's words: a JVM's
 * interpreted and compiled Java frames (sym/jvm.h), CPython's frames in place of its
 * evaluation loop (sym/python.h), any JIT's code named by the perf map it writes
 * (sym/perfmap.h). Looked for per process, forgotten with it; owned by stacks, which
 * unwinds and symbolizes through it.
 */
#ifndef STRAND_RUNTIMES_H
#define STRAND_RUNTIMES_H

#include <stdbool.h>
#include <sys/types.h>

#include "sym/symbolize.h"
#include "sym/unwind.h"

struct runtimes;
struct python;

/* uw: the stacks' unwinder, lent (a JVM stack's native part is unwound again by it). */
struct runtimes *runtimes__new(struct unwinder *uw);
void runtimes__free(struct runtimes *r);
void runtimes__forget(struct runtimes *r, pid_t pid);

/* A JVM's stack unwound again from its first Java frame, as HotSpot walks it. */
void runtimes__unwind(struct runtimes *r, const struct stack_sample *sample,
		      struct unwound_stack *st);
/* Frame i of an unwound sample, which the symbolizer resolved into inl[0..n): where no
 * module holds it, named by its runtime (a compiled Java method's call may stand for more
 * frames: its inlined ones, SYM_MAX_INLINE at most). Returns how many frames inl holds. */
int runtimes__name(struct runtimes *r, const struct stack_sample *sample,
		   const struct unwound_stack *st, int i, struct sym_frame *inl, int n);
/* A Python thread's frames: each call of CPython's evaluation loop replaced by the Python
 * frames it ran. Returns the new depth of *frames. */
int runtimes__python_frames(struct runtimes *r, const struct stack_sample *sample,
			    struct sym_frame **frames, int depth);
/* pid's CPython, looked for once (again: where it was not found). */
struct python *runtimes__python(struct runtimes *r, pid_t pid, bool again);

/* A runtime's frame with no line is known by its function (its method, wherever in its
 * code it returns). */
bool runtimes__known_by_function(const struct sym_frame *f);
/* A frame of an interpreter: its return address is the same for every function it runs,
 * so a stack with one cannot be known again by its return addresses. */
bool runtimes__interpreted(const struct sym_frame *f);

#endif /* STRAND_RUNTIMES_H */
