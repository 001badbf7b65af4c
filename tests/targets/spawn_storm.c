/* spawn_storm: one thread per item, no pool (scenario 8, C).
 *
 *   spawn_storm [--now] [--exit] [COUNT_A [COUNT_B [COUNT_C [top]]]]   (defaults 30, 20, 0)
 *
 * After SIGUSR1, main calls process_batch_a (COUNT_A items) then process_batch_b (COUNT_B
 * items); both call the same helper spawn_item(), whose pthread_create starts handle_item.
 * Every item thread blocks on a condition variable that is never signalled, so all stay live.
 * Expected from strand: two spawn sites sharing the pthread_create line (SITE: spawn_item) but
 * with different callers (SITE: storm_a, SITE: storm_b), live COUNT_A and COUNT_B, start
 * routine handle_item, the stack going on through main (SITE: main_a / main_b). Then
 * process_batch_c makes COUNT_C more with a pthread_create call of its own (SITE: storm_c):
 * a third site, with a caller of its own. With "top", batch c runs on a stack of its own (a
 * fiber's, made with makecontext) whose top borders unmapped memory, a few hundred bytes
 * above the spawns' stack pointer: as a shallow thread's or a main thread's can be.
 *
 * Output: "ready", then "batch a N", "batch b N", "started N", "spawned N".
 *
 * The named functions are noipa: never inlined, cloned (.constprop/.isra) or folded together
 * by identical-code folding, so their names and frames are exactly what the tests expect. */
#include "target.h"

#include <sys/mman.h>
#include <ucontext.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER; /* never signalled */
static int started;
static int spawned;

/* Start routine of every item: report in, then block forever. */
__attribute__((noipa)) static void *handle_item(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	started++;
	pthread_cond_broadcast(&started_cv);
	for (;;)
		pthread_cond_wait(&never_cv, &lock);
	return NULL;
}

/* The spawn site proper. The work after pthread_create keeps it from being a tail call, so
 * this frame is always on the stack. */
__attribute__((noipa)) static void spawn_item(long item)
{
	pthread_t tid;
	int rc;

	rc = pthread_create(&tid, NULL, handle_item, (void *)item); /* SITE: spawn_item */
	if (rc != 0)
		target_die("pthread_create: %s", strerror(rc));
	rc = pthread_detach(tid);
	if (rc != 0)
		target_die("pthread_detach: %s", strerror(rc));
	spawned++;
}

__attribute__((noipa)) static int process_batch_a(int n)
{
	int i;

	for (i = 0; i < n; i++)
		spawn_item(1000 + i); /* SITE: storm_a */
	return n;
}

__attribute__((noipa)) static int process_batch_b(int n)
{
	int i;

	for (i = 0; i < n; i++)
		spawn_item(2000 + i); /* SITE: storm_b */
	return n;
}

__attribute__((noipa)) static int process_batch_c(int n)
{
	pthread_t tid;
	int i, rc;

	for (i = 0; i < n; i++) {
		rc = pthread_create(&tid, NULL, handle_item, NULL); /* SITE: storm_c */
		if (rc != 0)
			target_die("pthread_create: %s", strerror(rc));
		pthread_detach(tid);
		spawned++;
	}
	return n;
}

static ucontext_t main_ctx, fiber_ctx;
static int fiber_n, fiber_done;

static void fiber_main(void)
{
	fiber_done = process_batch_c(fiber_n); /* SITE: fiber_c */
}

/* process_batch_c(n) on a 64 KiB stack whose top is the end of its mapping. */
static int process_batch_c_at_stack_top(int n)
{
	size_t size = 64 << 10, page = 4096;
	char *stack =
		mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (stack == MAP_FAILED)
		target_die("mmap: %s", strerror(errno));
	if (munmap(stack + size, page)) /* nothing above the top */
		target_die("munmap: %s", strerror(errno));
	if (getcontext(&fiber_ctx))
		target_die("getcontext: %s", strerror(errno));
	fiber_ctx.uc_stack.ss_sp = stack;
	fiber_ctx.uc_stack.ss_size = size;
	fiber_ctx.uc_link = &main_ctx;
	fiber_n = n;
	makecontext(&fiber_ctx, fiber_main, 0);
	if (swapcontext(&main_ctx, &fiber_ctx))
		target_die("swapcontext: %s", strerror(errno));
	return fiber_done;
}

int main(int argc, char **argv)
{
	int n_a, n_b, n_c, done_a, done_b;

	target_init(argc, argv);
	n_a = target_count(0, 30);
	n_b = target_count(1, 20);
	n_c = target_count(2, 0);
	target_ready();
	target_wait_go();

	done_a = process_batch_a(n_a); /* SITE: main_a */
	target_say("batch a %d", done_a);
	done_b = process_batch_b(n_b); /* SITE: main_b */
	target_say("batch b %d", done_b);
	if (n_c && target.nargs > 3 && !strcmp(target.args[3], "top"))
		target_say("batch c %d", process_batch_c_at_stack_top(n_c));
	else if (n_c)
		target_say("batch c %d", process_batch_c(n_c));

	/* Wait until every item thread runs, so "spawned" means all are live and blocked. */
	pthread_mutex_lock(&lock);
	while (started < n_a + n_b + n_c)
		pthread_cond_wait(&started_cv, &lock);
	target_say("started %d", started);
	pthread_mutex_unlock(&lock);

	target_say("spawned %d", spawned);
	target_hold();
}
