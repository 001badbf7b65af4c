// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/link_reaper.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* How many grace periods may run at once: strand's stop hands over every link it has, a few
 * hundred with many Go processes, and waits that overlap share their grace periods. The
 * daemon with 25 Go processes stopped in 0.55 s with 8, 0.22 s with 32. */
#define REAPERS 32

/* A libbpf link, or the fd of a link made without libbpf (fd >= 0). */
struct doomed {
	struct bpf_link *link;
	int fd;
};

struct link_reaper {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct doomed *queue;
	size_t len, cap;
	bool stopping;
	pthread_t threads[REAPERS];
	int nthreads;
};

static void destroy(struct doomed d)
{
	if (d.link)
		bpf_link__destroy(d.link);
	else
		close(d.fd);
}

static void *reap(void *arg)
{
	struct link_reaper *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->len && !r->stopping)
			pthread_cond_wait(&r->work, &r->lock);
		if (!r->len)
			break;
		struct doomed d = r->queue[--r->len];

		pthread_mutex_unlock(&r->lock);
		destroy(d);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct link_reaper *link_reaper__start(void)
{
	struct link_reaper *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	while (r->nthreads < REAPERS && !pthread_create(&r->threads[r->nthreads], NULL, reap, r))
		r->nthreads++;
	if (!r->nthreads) {
		link_reaper__stop(r);
		return NULL;
	}
	return r;
}

static void queue(struct link_reaper *r, struct doomed d)
{
	struct doomed *grown;

	if (!r) {
		destroy(d);
		return;
	}
	pthread_mutex_lock(&r->lock);
	if (r->len == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;

		if (!(grown = realloc(r->queue, cap * sizeof(*grown)))) {
			pthread_mutex_unlock(&r->lock);
			destroy(d); /* inline: slower, never lost */
			return;
		}
		r->queue = grown;
		r->cap = cap;
	}
	r->queue[r->len++] = d;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
}

void link_reaper__destroy(struct link_reaper *r, struct bpf_link *link)
{
	if (link)
		queue(r, (struct doomed){.link = link, .fd = -1});
}

void link_reaper__close(struct link_reaper *r, int fd)
{
	if (fd >= 0)
		queue(r, (struct doomed){.link = NULL, .fd = fd});
}

void link_reaper__stop(struct link_reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->work);
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->lock);
	free(r->queue);
	free(r);
}
