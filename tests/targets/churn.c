/* churn: many short-lived threads, all joined (healthy: spawned == exited, nothing left).
 *
 *   churn [--now] [--exit] [COUNT [BATCH]]     (defaults 100 and 10)
 *
 * After SIGUSR1 (at once with "--now"), run_batch() creates BATCH threads running short_task,
 * all alive at once (a barrier), and joins them, until COUNT threads have run. "--now" implies
 * "--exit": the target then exits 0 by itself, which is what `strand trace -- churn --now` needs.
 * Expected from strand: one site (SITE: churn, start routine short_task) with spawned COUNT,
 * exited COUNT, live 0.
 *
 * Output: "ready", then "spawned N", "exited N", "sum S" (S = sum of 0..N-1). */
#include "target.h"

#define MAX_BATCH 64

/* A batch's threads are all alive at once: each waits here until the last is created. */
static pthread_barrier_t batch_alive;

/* Start routine: a tiny bit of work whose result main checks. */
__attribute__((noipa)) static void *short_task(void *arg)
{
	pthread_barrier_wait(&batch_alive);
	return (void *)((long)arg * 2);
}

/* Create n threads for items first..first+n-1 and join them all; returns the sum of items. */
__attribute__((noipa)) static long run_batch(int first, int n)
{
	pthread_t tids[MAX_BATCH];
	void *ret;
	long sum = 0;
	int i, rc;

	if ((rc = pthread_barrier_init(&batch_alive, NULL, (unsigned)n + 1)))
		target_die("pthread_barrier_init: %s", strerror(rc));
	for (i = 0; i < n; i++) {
		void *item = (void *)(long)(first + i);

		rc = pthread_create(&tids[i], NULL, short_task, item); /* SITE: churn */
		if (rc != 0)
			target_die("pthread_create: %s", strerror(rc));
	}
	pthread_barrier_wait(&batch_alive);
	for (i = 0; i < n; i++) {
		rc = pthread_join(tids[i], &ret);
		if (rc != 0)
			target_die("pthread_join: %s", strerror(rc));
		sum += (long)ret / 2;
	}
	pthread_barrier_destroy(&batch_alive);
	return sum;
}

int main(int argc, char **argv)
{
	int count, batch, done = 0, n;
	long sum = 0;

	target_init(argc, argv);
	count = target_count(0, 100);
	batch = target_count(1, 10);
	if (batch < 1 || batch > MAX_BATCH)
		target_die("batch must be 1..%d", MAX_BATCH);
	if (target.now)
		target.exit_after = 1;
	target_ready();
	target_wait_go();

	while (done < count) {
		n = count - done < batch ? count - done : batch;
		sum += run_batch(done, n); /* SITE: churn_main */
		done += n;
	}
	target_say("spawned %d", done);
	target_say("exited %d", done);
	target_say("sum %ld", sum);
	target_hold();
}
