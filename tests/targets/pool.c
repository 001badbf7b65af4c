/* pool: a healthy, bounded thread pool (healthy control: a C pool on a signalled condvar).
 *
 *   pool [--now] [--exit] [WORKERS]     (default 8)
 *
 * WORKERS threads named "pool-w0", "pool-w1", ... are created at start-up, BEFORE "ready", so
 * they already exist when strand attaches. They wait on a condition variable that the main
 * thread broadcasts about once a second; each wake-up is counted. After SIGUSR1 the pool does
 * nothing new: no thread is created or exits.
 * Expected from strand: WORKERS pre-existing threads (before_attach, named pool-wN), no new
 * spawn site, nothing stranded.
 *
 * Output: "ready", then after SIGUSR1 "workers N" and "spawned 0". */
#include "target.h"

#define MAX_WORKERS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static unsigned long generation; /* bumped by every broadcast */
static unsigned long wakeups;
static int waiting;

__attribute__((noipa)) static void *pool_worker(void *arg)
{
	unsigned long seen;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		seen = generation;
		waiting++;
		pthread_cond_broadcast(&idle_cv);
		while (generation == seen)
			pthread_cond_wait(&work_cv, &lock); /* WAIT: pool_worker */
		waiting--;
		wakeups++;
	}
	return NULL;
}

/* Wake every worker: the "work" of this pool is only to be woken regularly. */
static void pool_tick(void)
{
	pthread_mutex_lock(&lock);
	generation++;
	pthread_cond_broadcast(&work_cv);
	pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
	pthread_t tids[MAX_WORKERS];
	char name[16];
	int n, i, rc;

	target_init(argc, argv);
	n = target_count(0, 8);
	if (n > MAX_WORKERS)
		target_die("at most %d workers", MAX_WORKERS);
	for (i = 0; i < n; i++) {
		rc = pthread_create(&tids[i], NULL, pool_worker, NULL); /* SITE: pool */
		if (rc != 0)
			target_die("pthread_create: %s", strerror(rc));
		snprintf(name, sizeof(name), "pool-w%d", i);
		rc = pthread_setname_np(tids[i], name);
		if (rc != 0)
			target_die("pthread_setname_np: %s", strerror(rc));
	}
	/* "ready" only once every worker is parked on the condition variable. */
	pthread_mutex_lock(&lock);
	while (waiting < n)
		pthread_cond_wait(&idle_cv, &lock);
	pthread_mutex_unlock(&lock);
	target_ready();

	/* Before and after SIGUSR1 alike: tick about once a second until SIGTERM. */
	if (!target.now) {
		while (target_wait_signal(1000) == 0)
			pool_tick();
	}
	target_say("workers %d", n);
	target_say("spawned 0");
	if (target.exit_after)
		target_hold();
	for (;;) {
		target_wait_signal(1000);
		pool_tick();
	}
}
