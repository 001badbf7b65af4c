/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The runtime's goroutine list (runtime.allgs, a []*g) read raw from a live process: each
 * g's address and its first bytes, a few hundred goroutines per system call. What the
 * snapshots decode, and what the layout inference proves its offsets against.
 */
#ifndef STRAND_GOLIST_H
#define STRAND_GOLIST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The raw goroutine list: each g's address and its first `window` bytes. */
#define GS_CHUNK 4096 /* rows read together by those that walk the whole list */

struct go_gs {
	uint64_t *ptrs; /* the g addresses of rows [base, base + rows) */
	uint8_t *bytes; /* rows [base, base + rows) of window bytes; an unreadable g reads as
			 * zeroes */
	size_t n, listed, window, base, rows;
	uint64_t list_at; /* where the runtime's array of g pointers is */
};

/* The list's length, at the runtime addresses of allgs and allglen: go_gs__read_rows() then
 * reads a chunk of rows at a time, their pointers with them, so that a million goroutines'
 * pointers (8 MB) and g structs (hundreds of MB) are never held at once. 0 or -errno. */
int go_gs__open_list(pid_t pid, uint64_t allgs, uint64_t allglen, size_t window, struct go_gs *gs);
/* Rows [from, from + count): their g pointers and first window bytes. */
void go_gs__read_rows(pid_t pid, struct go_gs *gs, size_t from, size_t count);
/* Row i's g address: 0 when outside the chunk read last, or unreadable. */
uint64_t go_gs__ptr(const struct go_gs *gs, size_t i);
/* A little-endian field of row i (0 when outside the window, or a row not read). */
uint64_t go_gs__word(const struct go_gs *gs, size_t i, int32_t off, size_t width);
void go_gs__free(struct go_gs *gs);

#endif /* STRAND_GOLIST_H */
