/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of runtime.g proved against the goroutines a process holds now. Every field
 * strand reads has a property only the real field has: the creation pc is a return address
 * after `CALL runtime.newproc`, the start pc a function entry, the main goroutine's id is 1,
 * the forced-GC helper waits for "force gc (idle)", a parked goroutine's saved context
 * points back at itself. Used to infer the layout of binaries without DWARF (any Go
 * version, newer ones included) and to check the one DWARF gives before trusting it.
 */
#ifndef STRAND_GOINFER_H
#define STRAND_GOINFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gopclntab;
struct go_layout;

/* Fills the g offsets of layout (its allgs/allglen and wait reasons already set) from the
 * process. 0, or -ENODATA with the field that could not be found in why. */
int goinfer__layout(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *layout,
		    char *why, size_t why_size);

/* Looks again for g.parentGoid (Go >= 1.21) when the first look found too few goroutines
 * with a creator to prove it by. 0 when known, -ENODATA otherwise. */
int goinfer__parent(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *layout);

/* Looks again for g.waitreason, g.waitsince and g.sched when the first look found no
 * goroutine parked to prove them by. 0 when known, -ENODATA otherwise. */
int goinfer__waits(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *layout);

/* Checks a layout against the process: 0, or -EBADMSG with the first field that does not
 * hold what it should in why. */
int goinfer__check(pid_t pid, uint64_t bias, struct gopclntab *pcln, const struct go_layout *layout,
		   char *why, size_t why_size);

#endif /* STRAND_GOINFER_H */
