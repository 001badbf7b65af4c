// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/goslots.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_BUCKETS 65536 /* 262144 goroutines, 10 MiB */

#define PID_MASK ((1u << STRAND_GO_PID_BITS) - 1)

uint32_t go_slots__buckets_for(uint32_t states)
{
	uint32_t want = states ? (states + STRAND_GO_WAYS - 1) / STRAND_GO_WAYS : DEFAULT_BUCKETS;
	uint32_t n = 1;

	while (n < want && n < (1u << 30))
		n <<= 1;
	return n;
}

int go_slots__map(struct go_slots *s, int fd, uint32_t nbuckets)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)nbuckets * sizeof(struct strand_go_bucket);
	void *p;

	len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->buckets = p;
	s->mask = nbuckets - 1;
	s->len = len;
	return 0;
}

void go_slots__unmap(struct go_slots *s)
{
	if (s->buckets)
		munmap(s->buckets, s->len);
	s->buckets = NULL;
}

bool go_slots__find(const struct go_slots *s, pid_t pid, uint64_t goid, struct strand_go_state *out)
{
	uint64_t tag = strand_go_tag((uint32_t)pid, goid);
	const struct strand_go_bucket *b;

	if (!s->buckets || !goid)
		return false;
	b = &s->buckets[strand_go_bucket_of(tag, s->mask)];
	for (int w = 0; w < STRAND_GO_WAYS; w++) {
		/* the probes write while this reads: a copy, its tag checked after */
		struct strand_go_state st = b->ways[w];

		if (__atomic_load_n(&b->ways[w].tag, __ATOMIC_ACQUIRE) == tag && st.tag == tag) {
			*out = st;
			return true;
		}
	}
	return false;
}

void go_slots__clear_pid(struct go_slots *s, pid_t pid)
{
	if (!s->buckets)
		return;
	for (uint64_t i = 0; i <= s->mask; i++)
		for (int w = 0; w < STRAND_GO_WAYS; w++) {
			struct strand_go_state *st = &s->buckets[i].ways[w];

			if (st->tag && (st->tag & PID_MASK) == ((uint32_t)pid & PID_MASK))
				__atomic_store_n(&st->tag, 0, __ATOMIC_RELEASE);
		}
}

uint64_t go_slots__used(const struct go_slots *s)
{
	uint64_t n = 0;

	if (!s->buckets)
		return 0;
	for (uint64_t i = 0; i <= s->mask; i++)
		for (int w = 0; w < STRAND_GO_WAYS; w++)
			n += s->buckets[i].ways[w].tag != 0;
	return n;
}
