// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Futex ping-pong: two threads hand a token back and forth through a futex, each hand-off a
 * block and a wake-up: the worst case for wait tracking (every round trip is two context
 * switches of a traced thread). Prints its own elapsed time and round trips per second.
 *
 *   futex_pingpong [ROUND_TRIPS]     (default 1000000; run it pinned: taskset -c 0)
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int turn; /* 0: ping's turn, 1: pong's */
static long rounds;

static void wait_for(int want)
{
	int cur;

	while ((cur = atomic_load(&turn)) != want)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, cur, NULL, NULL, 0);
}

static void hand_to(int who)
{
	atomic_store(&turn, who);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *pong(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		wait_for(1);
		hand_to(0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	pthread_t t;
	double s;

	rounds = argc > 1 ? atol(argv[1]) : 1000000;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_create(&t, NULL, pong, NULL);
	for (long i = 0; i < rounds; i++) {
		hand_to(1);
		wait_for(0);
	}
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("futex_pingpong: %ld round trips in %.3f s, %.0f round trips/s\n", rounds, s,
	       rounds / s);
	return 0;
}
