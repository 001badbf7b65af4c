/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory about to be filled, faulted in ahead by a thread of its own. A page's first touch
 * costs a virtual machine several microseconds (the host backs it then: here 2 ms a MiB
 * for huge pages), and the first scan of a million goroutines writes 200 MiB of tables: a
 * third of its time. The faults of a range are taken by the helper from its end while the
 * caller fills it from its start (as HotSpot's AlwaysPreTouch spreads a heap's faults over
 * threads); on one CPU nothing is gained, and nothing is done. Only a hint: faulting in
 * what is written anyway changes nothing else.
 */
#ifndef STRAND_PREFAULT_H
#define STRAND_PREFAULT_H

#include <stdbool.h>
#include <stddef.h>

/* Asks for [addr, addr + len) to be faulted in, writable, by the helper: memory that will be
 * written (a sparse table's untouched pages would become memory). false: nothing asked (one
 * usable CPU). */
bool prefault(void *addr, size_t len);
/* Lets the whole pages of [addr, addr + len) go again: faulted in ahead, not written. */
void unfault(void *addr, size_t len);
/* Forgets what is still asked for in [addr, addr + len): about to be unmapped. */
void prefault__forget(void *addr, size_t len);

/*
 * A reserve: memory a caller knows will be written soon, mapped and faulted in by the calling
 * thread (one of its own, made for it) from its start, until all of it is or the reserve is
 * released. Large tables (map_zeroed's huge ones) are carved from it in order while it lasts,
 * so what was faulted in ahead is theirs. Made while the CPUs have little else to do (the
 * BPF objects load on one), it takes the first scan's faults off its path. One reserve a
 * process; nothing is reserved on one usable CPU.
 */
void prefault__reserve(size_t len);
/* len bytes (a multiple of BIG_PAGE, asked for huge pages) of the reserve, zeroed; NULL when
 * it has no such room (none made, released, or used up). */
void *prefault__carve(size_t len);
/* Bytes of the reserve carved so far: tables whose faults were taken ahead. */
size_t prefault__carved(void);
/* What is left of the reserve past keep more bytes is let go (no more faulted in). */
void prefault__trim(size_t keep);
/* What is left of the reserve is let go (and no more of it faulted in); what was carved stays
 * its owners'. */
void prefault__release(void);

#endif /* STRAND_PREFAULT_H */
