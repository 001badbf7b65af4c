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
	uint64_t *ptrs;
	uint8_t *bytes; /* rows [base, base + rows) of window bytes; an unreadable g reads as
			 * zeroes */
	size_t n, listed, window, base, rows;
};

/* Reads the list at the runtime addresses of allgs and allglen, every row. 0 or -errno. */
int go_gs__read(pid_t pid, uint64_t allgs, uint64_t allglen, size_t window, struct go_gs *gs);
/* The same, the pointers only: go_gs__read_rows() then reads the rows a chunk at a time,
 * so that a million goroutines are not hundreds of megabytes at once. */
int go_gs__read_list(pid_t pid, uint64_t allgs, uint64_t allglen, size_t window, struct go_gs *gs);
void go_gs__read_rows(pid_t pid, struct go_gs *gs, size_t from, size_t count);
/* A little-endian field of row i (0 when outside the window, or a row not read). */
uint64_t go_gs__word(const struct go_gs *gs, size_t i, int32_t off, size_t width);
void go_gs__free(struct go_gs *gs);

#endif /* STRAND_GOLIST_H */
