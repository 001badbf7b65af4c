// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The demo that `make demo` traces: a small "service" with one healthy shape and two bad
 * ones, the way they look in production.
 *   - a pool of 4 workers started at boot, fed jobs through a condition variable: healthy;
 *   - one thread per request to fetch a result with a "timeout": the request returns, the
 *     fetcher waits forever for a reply nobody sends: a leak, one thread per request;
 *   - one short-lived thread per request to write an audit line: churn, no leak.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_ready = PTHREAD_COND_INITIALIZER;
static int jobs;

static void *pool_worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&jobs_lock);
		while (!jobs)
			pthread_cond_wait(&jobs_ready, &jobs_lock);
		jobs--;
		pthread_mutex_unlock(&jobs_lock);
	}
	return NULL;
}

struct reply {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int ready;
};

/* Waits for a reply that never comes: the request gave up and nobody signals. */
static void *fetch_reply(void *arg)
{
	struct reply *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->ready)
		pthread_cond_wait(&r->done, &r->lock);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void *write_audit_line(void *arg)
{
	(void)arg;
	usleep(1000);
	return NULL;
}

static void spawn_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&t, &attr, fn, arg))
		perror("pthread_create");
	pthread_attr_destroy(&attr);
}

static void handle_request(int id)
{
	struct reply *r = calloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->done, NULL);
	spawn_detached(fetch_reply, r); /* leaks: nothing ever sets r->ready */
	spawn_detached(write_audit_line, NULL);
	if (id % 4 == 0) {
		pthread_mutex_lock(&jobs_lock);
		jobs++;
		pthread_cond_signal(&jobs_ready);
		pthread_mutex_unlock(&jobs_lock);
	}
}

static void serve(int requests)
{
	for (int id = 0; requests == 0 || id < requests; id++) {
		handle_request(id);
		usleep(50 * 1000);
	}
}

int main(int argc, char **argv)
{
	int requests = argc > 1 ? atoi(argv[1]) : 0;
	pthread_t pool[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&pool[i], NULL, pool_worker, NULL);
	printf("leaky_service: pid %d serving\n", getpid());
	fflush(stdout);
	serve(requests);
	pause();
	return 0;
}
