/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DWARF CFI unwinding of user stacks copied by BPF, with libdw (as perf --call-graph dwarf
 * does): the registers at the sample and a copy of the stack above sp are the thread's
 * state; code and unwind tables come from the process's mapped ELF files.
 */
#ifndef STRAND_UNWIND_H
#define STRAND_UNWIND_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include "strand.h"

#define UNWIND_MAX_FRAMES 64

/* Registers of a sample, by their DWARF numbers (x86-64) */
#define DWARF_RBP 6
#define DWARF_RSP 7
#define DWARF_RIP 16

struct stack_sample {
	pid_t pid;	      /* process the stack belongs to */
	const uint64_t *regs; /* STRAND_NREGS registers, DWARF order */
	const uint8_t *stack; /* copy of user memory starting at regs[DWARF_RSP] */
	uint32_t stack_len;
	/* The interpreter's frames of a thread that runs Python, when the sample brings them
	 * (a spawn's, read by the kernel at the clone)... */
	const struct strand_lang_frame *lang;
	uint32_t nlang;
	/* ... or else the thread, whose frames are read from its memory now (a wait's: the
	 * thread is still blocked where the stack was taken); 0: not known */
	pid_t tid;
};

/* The word at addr, when the sample's stack copy holds it. */
static inline bool stack_sample__word(const struct stack_sample *s, uint64_t addr, uint64_t *out)
{
	uint64_t sp = s->regs[DWARF_RSP];

	if (addr < sp || s->stack_len < sizeof(*out) || addr - sp > s->stack_len - sizeof(*out))
		return false;
	memcpy(out, s->stack + (addr - sp), sizeof(*out));
	return true;
}

struct unwound_stack {
	int depth;
	uint64_t pc[UNWIND_MAX_FRAMES]; /* innermost first; [0] is the sampled pc */
	/* For frame i >= 1: byte offset from the sample's sp of the stack slot that held pc[i]
	 * (the return address), or -1 when it was not read from the stack copy. */
	int32_t slot[UNWIND_MAX_FRAMES];
	int truncated; /* stopped early: stack copy too short, missing CFI, or max depth */
};

struct proc_maps;
struct unwinder;

struct unwinder *unwinder__new(struct proc_maps *maps);
void unwinder__free(struct unwinder *uw);

/* Unwinds one sample; returns 0 (even when truncated) or a negative errno. */
int unwinder__unwind(struct unwinder *uw, const struct stack_sample *sample,
		     struct unwound_stack *out);

/* The process exec'd or exited: drop what is cached for it. */
void unwinder__forget(struct unwinder *uw, pid_t pid);

#endif /* STRAND_UNWIND_H */
