/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a stranded goroutine keeps alive: the heap objects its stack points at, and those
 * they point at, found the way Go's own garbage collector finds an object from a pointer
 * (mheap_.arenas -> heapArena.spans[page] -> mspan: where its objects start, how big they
 * are). Conservative: every word of the stack that points into an in-use span counts, as a
 * collector with no stack maps would count it, so what is reported is an upper bound on
 * what the goroutine alone keeps (a buffer shared with live code counts too).
 */
#ifndef STRAND_GOMEM_H
#define STRAND_GOMEM_H

#include <stdint.h>
#include <sys/types.h>

struct go_layout;
struct go_heap;

/* The heap of pid, whose executable is loaded at bias; NULL when the layout has no heap
 * index (no DWARF) or it does not hold (a goroutine's own g is not the object the index
 * names for its address). */
struct go_heap *go_heap__open(pid_t pid, uint64_t bias, const struct go_layout *l, uint64_t g);
void go_heap__free(struct go_heap *h);

/* The heap object holding address p: its start and size. 0, or -ENOENT (not in the heap,
 * or in a span not in use). */
int go_heap__object(struct go_heap *h, uint64_t p, uint64_t *base, uint64_t *size);

/* Bytes of distinct heap objects reachable from the words of [lo, hi) of the process in at
 * most depth steps (1: those the words point at); objects larger than a few KiB are counted
 * but not looked into. seen (objects already counted) may be shared between calls. */
struct hashmap;
uint64_t go_heap__reachable(struct go_heap *h, uint64_t lo, uint64_t hi, int depth,
			    struct hashmap *seen);

#endif /* STRAND_GOMEM_H */
