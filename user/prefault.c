// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "prefault.h"
#include "util.h"

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
