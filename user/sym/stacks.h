/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stacks read into words: the processes' memory maps, the unwinder, the symbolizer and the
 * memo of wait stacks, kept together because they share one cache of every process's
 * mappings and forget a process together. The engine owns them and lends them to whoever
 * reads stacks: the collector (spawn stacks), the wait table (wait stacks), the Go tracker
 * (its symbolizer).
 */
#ifndef STRAND_STACKS_H
#define STRAND_STACKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sym/symbolize.h"
#include "sym/unwind.h"

struct stacks;

struct stacks_stats {
	uint64_t samples;	  /* stack samples unwound or found in the memo */
	uint64_t memo_hits;	  /* of them, a path known: the same as one unwound before */
	uint64_t unwind_failures; /* samples that could not be unwound */
	uint64_t unwind_ns;	  /* time spent unwinding and symbolizing */
};

struct stacks *stacks__new(void);
void stacks__free(struct stacks *s);

/* Unwinds one sample into st (the spawn path: it learns the slots of the return
 * addresses). 0, or -1 when nothing could be unwound (counted). */
int stacks__unwind(struct stacks *s, const struct stack_sample *sample, struct unwound_stack *st);
/* The stack sample unwound into st, in words: inlined frames expanded, cut where Go's own
 * traceback stops, a JVM's interpreted frames named by the Method* each keeps (sym/jvm.h),
 * CPython's evaluation loop replaced by the Python frames it ran (sym/python.h);
 * returns the depth, the caller owns *frames. */
int stacks__symbolize(struct stacks *s, const struct stack_sample *sample,
		      const struct unwound_stack *st, struct sym_frame **frames);
/* Both, remembered for the many threads blocked at one place (a wait's stack): the depth
 * (0: failed, counted) and a hash of the call path in *path_hash; the caller owns *frames. */
int stacks__resolve(struct stacks *s, const struct stack_sample *sample, struct sym_frame **frames,
		    uint64_t *path_hash);

/* What makes two frames the same for people: the same function at the same line (two calls
 * on one source line are one site); a frame without symbols is its address. */
uint64_t sym_frame__identity(const struct sym_frame *f);

/* Reads pid's memory map now, so its stacks can be read even after it exits. */
void stacks__prefetch(struct stacks *s, pid_t pid);
/* pid exec'd or exited: what is cached of it means nothing now. */
void stacks__forget(struct stacks *s, pid_t pid);

/* pid's CPython (sym/python.h), looked for once; again: look again where it was not found
 * (a libpython.so loaded after the process was first looked at). */
struct python *stacks__python(struct stacks *s, pid_t pid, bool again);

struct symbolizer *stacks__symbolizer(struct stacks *s);
void stacks__stats(const struct stacks *s, struct stacks_stats *out);

#endif /* STRAND_STACKS_H */
