// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/prefault.h"
#include "lib/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PIECE BIG_PAGE /* faulted in a piece at a time: a huge page */
#define QUEUE 1024     /* pieces waiting: 2 GiB */

struct piece {
	uintptr_t addr;
	size_t len;
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t asked;
	bool on;
	struct piece q[QUEUE]; /* a stack: the last piece asked for is faulted in first */
	size_t n;
} pf = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.asked = PTHREAD_COND_INITIALIZER,
};

static void *helper(void *arg)
{
	(void)arg;
	for (;;) {
		struct piece p;

		pthread_mutex_lock(&pf.lock);
		while (!pf.n)
			pthread_cond_wait(&pf.asked, &pf.lock);
		p = pf.q[--pf.n];
		pthread_mutex_unlock(&pf.lock);
		/* fails for memory unmapped since (forget races it): nothing to do then */
		madvise((void *)p.addr, p.len, MADV_POPULATE_WRITE);
	}
	return NULL;
}

static void start(void)
{
	pthread_attr_t attr;
	pthread_t t;

	if (cpus_usable() < 2 || pthread_attr_init(&attr))
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pf.on = !pthread_create(&t, &attr, helper, NULL);
	pthread_attr_destroy(&attr);
}

bool prefault(void *addr, size_t len)
{
	uintptr_t at = (uintptr_t)addr, end = at + len;

	if (!len || pthread_once(&pf.once, start) || !pf.on)
		return false;
	pthread_mutex_lock(&pf.lock);
	for (; at < end && pf.n < QUEUE; at += PIECE)
		pf.q[pf.n++] = (struct piece){at, end - at < PIECE ? end - at : PIECE};
	pthread_cond_signal(&pf.asked);
	pthread_mutex_unlock(&pf.lock);
	return true;
}

void unfault(void *addr, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)addr + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)addr + len) & ~(page - 1);

	prefault__forget(addr, len);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void prefault__forget(void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	size_t kept = 0;

	if (!pf.on)
		return;
	pthread_mutex_lock(&pf.lock);
	for (size_t i = 0; i < pf.n; i++)
		if (pf.q[i].addr + pf.q[i].len <= lo || pf.q[i].addr >= hi)
			pf.q[kept++] = pf.q[i];
	pf.n = kept;
	pthread_mutex_unlock(&pf.lock);
}

/* The reserve. Its pieces are faulted in by a store into each page (an atomic or of 0, into
 * memory nobody has yet): MADV_POPULATE_WRITE would hold the address space's lock across a
 * whole huge page, and every mmap of the loading BPF objects would wait on it. A store faults
 * under the mapping's own lock; but it needs the page still mapped, so a piece being filled is
 * never carved before it is done. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t filled; /* a piece is done */
	uintptr_t base, end;   /* [base, end): the reserve, BIG_PAGE-aligned */
	uintptr_t next;	       /* carved below this */
	uintptr_t fill;	       /* faulted in below this (and above next) */
	uintptr_t filling;     /* the piece being faulted in, 0: none */
	size_t carved;	       /* bytes, in all */
	bool made, released;
} rs = {.lock = PTHREAD_MUTEX_INITIALIZER, .filled = PTHREAD_COND_INITIALIZER};

static void fill_piece(uintptr_t at)
{
	for (uintptr_t page = at; page < at + BIG_PAGE; page += 4096)
		__atomic_fetch_or((uint8_t *)page, 0, __ATOMIC_RELAXED);
}

/* Maps len bytes (rounded down to whole huge pages) at a huge page's boundary: 0 on failure. */
static uintptr_t map_aligned(size_t len)
{
	size_t map = len + BIG_PAGE;
	uintptr_t p = (uintptr_t)mmap(NULL, map, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		  base;

	if (p == (uintptr_t)MAP_FAILED)
		return 0;
	base = (p + BIG_PAGE - 1) & ~(uintptr_t)(BIG_PAGE - 1);
	if (base > p)
		munmap((void *)p, base - p);
	munmap((void *)(base + len), p + map - (base + len));
	madvise((void *)base, len, MADV_HUGEPAGE);
	return base;
}

void prefault__reserve(size_t len)
{
	uintptr_t base;

	len = len / BIG_PAGE * BIG_PAGE;
	if (!len || cpus_usable() < 2 || !(base = map_aligned(len)))
		return;
	pthread_mutex_lock(&rs.lock);
	if (rs.made || rs.released) { /* one a process, and none once released */
		pthread_mutex_unlock(&rs.lock);
		munmap((void *)base, len);
		return;
	}
	rs.made = true;
	rs.base = rs.next = rs.fill = base;
	rs.end = base + len;
	for (;;) {
		uintptr_t at = rs.fill > rs.next ? rs.fill : rs.next;

		if (rs.released || at >= rs.end)
			break;
		rs.filling = at;
		rs.fill = at + BIG_PAGE;
		pthread_mutex_unlock(&rs.lock);
		fill_piece(at);
		pthread_mutex_lock(&rs.lock);
		rs.filling = 0;
		pthread_cond_broadcast(&rs.filled);
	}
	pthread_mutex_unlock(&rs.lock);
}

void *prefault__carve(size_t len)
{
	void *p = NULL;

	if (!len || len % BIG_PAGE)
		return NULL;
	pthread_mutex_lock(&rs.lock);
	if (rs.base && rs.end - rs.next >= len) {
		while (rs.filling >= rs.next && rs.filling < rs.next + len)
			pthread_cond_wait(&rs.filled, &rs.lock);
		p = (void *)rs.next;
		rs.next += len;
		rs.carved += len;
	}
	pthread_mutex_unlock(&rs.lock);
	return p;
}

/* Unmaps the reserve from cut to its end, once no piece there is being faulted in. */
static void cut_at(uintptr_t cut)
{
	if (!rs.base || cut >= rs.end)
		return;
	while (rs.filling >= cut)
		pthread_cond_wait(&rs.filled, &rs.lock);
	munmap((void *)cut, rs.end - cut);
	rs.end = cut;
}

void prefault__trim(size_t keep)
{
	pthread_mutex_lock(&rs.lock);
	if (rs.base && keep < rs.end - rs.next)
		cut_at(rs.next + (keep + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE);
	pthread_mutex_unlock(&rs.lock);
}

size_t prefault__carved(void)
{
	size_t n;

	pthread_mutex_lock(&rs.lock);
	n = rs.carved;
	pthread_mutex_unlock(&rs.lock);
	return n;
}

void prefault__release(void)
{
	pthread_mutex_lock(&rs.lock);
	rs.released = true;
	cut_at(rs.next);
	rs.base = rs.end = rs.next = rs.fill = 0;
	pthread_mutex_unlock(&rs.lock);
}
