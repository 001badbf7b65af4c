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

#endif /* STRAND_PREFAULT_H */
