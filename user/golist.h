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
struct go_gs {
	uint64_t *ptrs;
	uint8_t *bytes; /* n rows of window bytes; an unreadable g reads as zeroes */
	size_t n, listed, window;
};

/* Reads the list at the runtime addresses of allgs and allglen. 0 or -errno. */
int go_gs__read(pid_t pid, uint64_t allgs, uint64_t allglen, size_t window, struct go_gs *gs);
/* A little-endian field of row i (0 when outside the window). */
uint64_t go_gs__word(const struct go_gs *gs, size_t i, int32_t off, size_t width);
void go_gs__free(struct go_gs *gs);

#endif /* STRAND_GOLIST_H */
