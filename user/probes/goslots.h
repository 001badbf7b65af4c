/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The goroutine probes' state table (go_slots), read by user space mapped in memory. */
#ifndef STRAND_GOSLOTS_H
#define STRAND_GOSLOTS_H

#include "strand.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct go_slots {
	struct strand_go_bucket *buckets; /* NULL: not mapped */
	uint32_t mask;			  /* buckets - 1 */
	size_t len;			  /* bytes mapped */
};

/* Buckets for a table holding about states goroutines (0: the default), a power of two. */
uint32_t go_slots__buckets_for(uint32_t states);
/* Maps the table of the BPF array map fd (nbuckets buckets); -errno. */
int go_slots__map(struct go_slots *s, int fd, uint32_t nbuckets);
void go_slots__unmap(struct go_slots *s);
/* What the probes keep of goroutine goid of pid; false when nothing. */
bool go_slots__find(const struct go_slots *s, pid_t pid, uint64_t goid,
		    struct strand_go_state *out);
/* Frees the ways of pid: a later process with its pid must not inherit them. Only while its
 * probes are detached, as the probes write without locks. */
void go_slots__clear_pid(struct go_slots *s, pid_t pid);
/* Ways in use. */
uint64_t go_slots__used(const struct go_slots *s);

#endif
