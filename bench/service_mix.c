// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A service-like mix: a producer hands jobs to 64 workers through a bounded queue (a mutex
 * and two condition variables); each job is a little work, every 64th a short sleep (a
 * call to a backend), every 256th a short-lived helper thread. Blocking, waking, spawning
 * and running all mixed, as in a server. Prints its own elapsed time and jobs per second.
 *
 *   service_mix [JOBS [WORKERS]]     (defaults 1000000 and 64)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define QUEUE 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long queue[QUEUE], head, tail, done_jobs;
static volatile uint64_t sink;

static void *helper(void *arg)
{
	sink += (uintptr_t)arg;
	return NULL;
}

static void work(long job)
{
	uint64_t h = (uint64_t)job;

	for (int i = 0; i < 200; i++)
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
	sink += h;
	if (job % 64 == 0)
		usleep(50);
	if (job % 256 == 0) {
		pthread_t t;

		pthread_create(&t, NULL, helper, (void *)(uintptr_t)job);
		pthread_join(t, NULL);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		long job;

		pthread_mutex_lock(&lock);
		while (head == tail)
			pthread_cond_wait(&not_empty, &lock);
		job = queue[head++ % QUEUE];
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
		if (job < 0)
			return NULL;
		work(job);
	}
}

static void push(long job)
{
	pthread_mutex_lock(&lock);
	while (tail - head == QUEUE)
		pthread_cond_wait(&not_full, &lock);
	queue[tail++ % QUEUE] = job;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
	long jobs = argc > 1 ? atol(argv[1]) : 1000000;
	int nworkers = argc > 2 ? atoi(argv[2]) : 64;
	pthread_t *workers = calloc((size_t)nworkers, sizeof(*workers));
	struct timespec a, b;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < nworkers; i++)
		pthread_create(&workers[i], NULL, worker, NULL);
	for (long j = 1; j <= jobs; j++)
		push(j);
	for (int i = 0; i < nworkers; i++)
		push(-1);
	for (int i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	done_jobs = jobs;
	printf("service_mix: %ld jobs in %.3f s, %.0f jobs/s\n", done_jobs, s, done_jobs / s);
	free(workers);
	return 0;
}
