// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Epoll wake-ups: a server thread waits in epoll_wait on an eventfd a client thread
 * writes, then answers on a second eventfd the client blocks reading: every wake-up is a
 * block and a wake-up of two traced threads, through epoll as event loops do. Prints its
 * own elapsed time and wake-ups per second.
 *
 *   epoll_wakeups [WAKEUPS]     (default 500000)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int request_fd, reply_fd;
static long wakeups;

static void *server(void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(0);
	uint64_t v;

	(void)arg;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, request_fd, &ev))
		abort();
	for (long i = 0; i < wakeups; i++) {
		if (epoll_wait(ep, &ev, 1, -1) != 1 || read(request_fd, &v, sizeof(v)) != sizeof(v))
			abort();
		if (write(reply_fd, &v, sizeof(v)) != sizeof(v))
			abort();
	}
	close(ep);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	uint64_t v = 1;
	pthread_t t;
	double s;

	wakeups = argc > 1 ? atol(argv[1]) : 500000;
	request_fd = eventfd(0, 0);
	reply_fd = eventfd(0, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_create(&t, NULL, server, NULL);
	for (long i = 0; i < wakeups; i++) {
		if (write(request_fd, &v, sizeof(v)) != sizeof(v) ||
		    read(reply_fd, &v, sizeof(v)) != sizeof(v))
			abort();
	}
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("epoll_wakeups: %ld wake-ups in %.3f s, %.0f wake-ups/s\n", wakeups, s, wakeups / s);
	return 0;
}
