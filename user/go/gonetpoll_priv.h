/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What gonetpoll.c (reading) and gonetprove.c (proving the layout) share: the candidate
 * pollDescs of an epoll set, read under one way of decoding epoll data. */
#ifndef STRAND_GONETPOLL_PRIV_H
#define STRAND_GONETPOLL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct epoll_entry;

/* netpoll.go: what rg and wg hold when no goroutine is parked there (besides 0) */
#define PD_READY    1
#define PD_WAIT	    2
#define PD_DECODERS 5 /* entries of enum go_pd_decoder */

/* The first size bytes at each entry's decoded address. */
struct pd_rows {
	size_t n, size;
	uint8_t *bytes; /* n rows of size bytes */
	uint64_t *addr; /* the decoded address, 0 when it is none */
	bool *ok;	/* the row was read whole */
};

/* The decoder bit of index i (0 past the end). */
unsigned int pd__decoder_bit(size_t i);

/* Reads the rows of n entries under decoder: 0 or -errno (-ESRCH: gone). */
int pd_rows__read(pid_t pid, const struct epoll_entry *e, size_t n, unsigned int decoder,
		  size_t size, struct pd_rows *rows);
/* The little-endian word at off of row i (0 outside it). */
uint64_t pd_rows__word(const struct pd_rows *rows, size_t i, int32_t off);
void pd_rows__free(struct pd_rows *rows);

/* Whether the entry is the runtime's wakeup fd: its data points at a word holding the fd. */
bool pd_rows__is_wakeup(pid_t pid, const struct epoll_entry *e);

#endif /* STRAND_GONETPOLL_PRIV_H */
