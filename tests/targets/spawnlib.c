/* spawnlib: the library side of the libspawn target; see spawnlib.h.
 * The pthread_create call below (SITE: spawnlib) is the spawn frame strand must report, in
 * module libspawnlib.so / libspawnlib-fp.so, with start routine spawnlib_worker. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawnlib.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER; /* never signalled */
static int started;

void *spawnlib_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&started_cv);
	for (;;)
		pthread_cond_wait(&never_cv, &lock);
	return NULL;
}

int spawnlib_start_workers(int n)
{
	pthread_t tid;
	int i, rc, target;

	pthread_mutex_lock(&lock);
	target = started + n;
	pthread_mutex_unlock(&lock);
	for (i = 0; i < n; i++) {
		rc = pthread_create(&tid, NULL, spawnlib_worker, NULL); /* SITE: spawnlib */
		if (rc != 0) {
			fprintf(stderr, "spawnlib: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
		pthread_detach(tid);
	}
	pthread_mutex_lock(&lock);
	while (started < target)
		pthread_cond_wait(&started_cv, &lock);
	pthread_mutex_unlock(&lock);
	return n;
}
