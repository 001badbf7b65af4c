// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Thread spawn storm: create and join threads in batches of 64, the cost every spawn hook
 * adds to. Prints its own elapsed time and spawns per second.
 *
 *   spawn_storm [THREADS]     (default 200000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 64

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 200000;
	pthread_t t[BATCH];
	struct timespec a, b;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long done = 0; done < total; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if (pthread_create(&t[i], NULL, nothing, NULL))
				return perror("pthread_create"), 1;
		for (int i = 0; i < BATCH; i++)
			pthread_join(t[i], NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("spawn_storm: %ld threads in %.3f s, %.0f spawns/s\n", total, s, total / s);
	return 0;
}
