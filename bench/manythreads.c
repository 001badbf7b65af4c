// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * manythreads N: a process with N threads (small stacks), all blocked on one condition
 * variable, for strand's scale runs. Prints "ready N" once all are waiting, then waits for
 * a signal. N beyond kernel.pid_max or vm.max_map_count / 2 needs them raised.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER, all_in = PTHREAD_COND_INITIALIZER;
static long waiting;

static void *wait_forever(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_signal(&all_in);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	pthread_attr_t attr;
	sigset_t set;
	int sig;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (long i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, wait_forever, NULL)) {
			fprintf(stderr, "manythreads: thread %ld: cannot create\n", i);
			return 1;
		}
	}
	pthread_mutex_lock(&lock);
	while (waiting < n)
		pthread_cond_wait(&all_in, &lock);
	pthread_mutex_unlock(&lock);
	printf("ready %ld\n", n);
	fflush(stdout);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigwait(&set, &sig);
	return 0;
}
