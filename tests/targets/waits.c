/* waits: blocked threads, one scenario per mode (scenarios 14, 16, 19 and the healthy
 * controls of ../shared/scenarios.md). A leak needs a proof or evidence of forgetting, never
 * just quiet (docs/verdicts.md): the leaks here are the shapes real ones take, the healthy
 * controls the shapes of idle real servers.
 *
 *   waits MODE [--now] [--exit [LINGER_MS]]
 *
 * Leaks (strand must call them stranded, or deadlock):
 *   mutex       a thread took a mutex and exited on an error path without unlocking it; 3
 *               workers block on it: the lock died with its holder (proof)  WAIT: mutex
 *   lockpile    main left a mutex locked on an error path; a worker per request (8, one
 *               every 100 ms) piles up on it                              WAIT: lockpile
 *   deadlock    two threads take two mutexes in opposite orders            WAIT: ab, WAIT: ba
 *   cond        a thread per request (8, one every 100 ms), each waiting on a condition
 *               variable of its own that nobody signals                    WAIT: cond
 *   pipe        a reader per request, each on a pipe of its own whose writer returned early,
 *               the write end leaked                                       WAIT: pipe
 *   epoll       a thread per request, each in epoll_wait on a set of its own whose only fd
 *               was closed                                                 WAIT: epoll
 *   recv        a call per request to a local peer that accepts, reads the request and never
 *               answers                                                    WAIT: recv
 *   preblocked  like mutex, but blocked 2 s before "ready" (before attach) WAIT: mutex
 * Healthy controls (never stranded):
 *   pool        4 workers on a condition variable signalled every 300 ms   WAIT: pool
 *   idlepool    4 workers made before "ready" on one condition variable nobody signals
 *               yet: a pool with no traffic, flat (looks like a leak)      WAIT: idlepool
 *   lockdesign  2 io threads park on a mutex main holds on purpose while it waits for work
 *               in epoll_wait with a timeout (redis's io threads)          WAIT: lockdesign
 *   accept      a server thread blocked in accept                          WAIT: accept
 *   timer       3 threads sleeping 200 ms in a loop                        WAIT: timer
 * Stranded by its size (--runaway), and more threads than strand scans on one CPU:
 *   crowd       the idle pool 20500 workers strong, made before "ready"    WAIT: idlepool
 * Neither:
 *   vfork       a thread in vfork() while its child sleeps: an uninterruptible (D) wait
 * (recv's server, blocked in accept for the next client, is a healthy control too.)
 *
 * "leader-exits" after MODE: once the threads are in place the main thread leaves with
 * pthread_exit, as some daemons' do, and prints "leader gone" first; the process lives on
 * (a zombie leader with live threads) until SIGTERM, taken by a thread of its own.
 *
 * Every thread is created by spawn() (SITE: spawn), called from start_MODE (SITE: MODE).
 * After the spawn phase it prints "blocked N" once the N threads are in place. */
#include "target.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUESTS	 8
#define REQUEST_EVERY_US (100 * 1000)

static pthread_mutex_t orphaned = PTHREAD_MUTEX_INITIALIZER, piled = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER, lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_ready = PTHREAD_COND_INITIALIZER;
static int jobs, listen_fd;

__attribute__((noipa)) static void spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, fn, arg); /* SITE: spawn */

	if (rc)
		target_die("pthread_create: %s", strerror(rc));
	pthread_detach(t);
}

static void settle(void)
{
	usleep(200 * 1000); /* the threads reach their waits */
}

/* One request every REQUEST_EVERY_US: a thread each, as a server without a pool makes. */
__attribute__((noipa)) static void serve_requests(void *(*handler)(void *), void *(*arg_of)(int))
{
	for (int i = 0; i < REQUESTS; i++) {
		spawn(handler, arg_of ? arg_of(i) : NULL);
		usleep(REQUEST_EVERY_US);
	}
}

/* ---- leaks ------------------------------------------------------------------------------ */

/* Takes the lock and "fails" without giving it back: the bug. */
__attribute__((noipa)) static int load_config_or_fail(pthread_mutex_t *lock)
{
	pthread_mutex_lock(lock);
	return -1;
}

/* A request thread that hits the error path and ends, the lock still taken. */
static void *failing_request(void *arg)
{
	(void)arg;
	load_config_or_fail(&orphaned);
	return NULL;
}

__attribute__((noipa)) static void *mutex_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&orphaned); /* WAIT: mutex */
	pthread_mutex_unlock(&orphaned);
	return NULL;
}

__attribute__((noipa)) static int start_mutex(void)
{
	spawn(failing_request, NULL);
	/* the failing request is over (its thread gone) before the workers come */
	for (int i = 0; i < 100 && !pthread_mutex_trylock(&orphaned); i++) {
		pthread_mutex_unlock(&orphaned);
		usleep(10 * 1000);
	}
	usleep(50 * 1000);
	for (int i = 0; i < 3; i++)
		spawn(mutex_worker, NULL); /* SITE: mutex */
	return 3;
}

__attribute__((noipa)) static void *lockpile_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&piled); /* WAIT: lockpile */
	pthread_mutex_unlock(&piled);
	return NULL;
}

__attribute__((noipa)) static int start_lockpile(void)
{
	if (load_config_or_fail(&piled) < 0)
		serve_requests(lockpile_worker, NULL); /* SITE: lockpile */
	return REQUESTS;
}

__attribute__((noipa)) static void *deadlock_ab(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	pthread_barrier_wait(&both_hold_one);
	pthread_mutex_lock(&lock_b); /* WAIT: ab */
	return NULL;
}

__attribute__((noipa)) static void *deadlock_ba(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_b);
	pthread_barrier_wait(&both_hold_one);
	pthread_mutex_lock(&lock_a); /* WAIT: ba */
	return NULL;
}

__attribute__((noipa)) static int start_deadlock(void)
{
	pthread_barrier_init(&both_hold_one, NULL, 2);
	spawn(deadlock_ab, NULL); /* SITE: deadlock */
	spawn(deadlock_ba, NULL);
	return 2;
}

/* A request waits for its reply on a condition variable of its own; the reply never comes
 * (whoever was to signal it was never told of it). */
struct reply {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	int done;
};

static struct reply replies[REQUESTS];

static void *reply_of(int i)
{
	pthread_mutex_init(&replies[i].lock, NULL);
	pthread_cond_init(&replies[i].ready, NULL);
	return &replies[i];
}

__attribute__((noipa)) static void *cond_waiter(void *arg)
{
	struct reply *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->done)
		pthread_cond_wait(&r->ready, &r->lock); /* WAIT: cond */
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

__attribute__((noipa)) static int start_cond(void)
{
	serve_requests(cond_waiter, reply_of); /* SITE: cond */
	return REQUESTS;
}

__attribute__((noipa)) static void *pipe_reader(void *arg)
{
	char buf[64];

	if (read((int)(long)arg, buf, sizeof(buf)) < 0) /* WAIT: pipe */
		target_die("read: %s", strerror(errno));
	return NULL;
}

/* The writer was meant to send a result and close; it returned early and its end leaked. */
static void *result_pipe(int i)
{
	int fds[2];

	(void)i;
	if (pipe(fds))
		target_die("pipe: %s", strerror(errno));
	return (void *)(long)fds[0];
}

__attribute__((noipa)) static int start_pipe(void)
{
	serve_requests(pipe_reader, result_pipe); /* SITE: pipe */
	return REQUESTS;
}

__attribute__((noipa)) static void *epoll_waiter(void *arg)
{
	struct epoll_event ev;

	epoll_wait((int)(long)arg, &ev, 1, -1); /* WAIT: epoll */
	return NULL;
}

/* A connection's event loop: its set's only fd closed under it, nothing can wake it now. */
static void *emptied_set(int i)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int epfd = epoll_create1(0), efd = eventfd(0, 0);

	(void)i;
	if (epfd < 0 || efd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev))
		target_die("epoll set-up: %s", strerror(errno));
	close(efd);
	return (void *)(long)epfd;
}

__attribute__((noipa)) static int start_epoll(void)
{
	serve_requests(epoll_waiter, emptied_set); /* SITE: epoll */
	return REQUESTS;
}

static int listen_local(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)addr, &len))
		target_die("listen: %s", strerror(errno));
	return fd;
}

/* Accepts, reads each request and never answers; waits for the next client (healthy in
 * itself). */
__attribute__((noipa)) static void *silent_server(void *arg)
{
	char buf[64];

	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL); /* WAIT: accept_again */

		if (fd < 0)
			target_die("accept: %s", strerror(errno));
		if (read(fd, buf, sizeof(buf)) < 0)
			target_die("read: %s", strerror(errno));
	}
	return NULL;
}

static struct sockaddr_in silent_addr;

__attribute__((noipa)) static void *client(void *arg)
{
	char buf[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)arg;
	if (fd < 0 || connect(fd, (struct sockaddr *)&silent_addr, sizeof(silent_addr)) ||
	    write(fd, "GET\n", 4) != 4)
		target_die("connect: %s", strerror(errno));
	recv(fd, buf, sizeof(buf), 0); /* WAIT: recv */
	return NULL;
}

__attribute__((noipa)) static int start_recv(void)
{
	listen_fd = listen_local(&silent_addr);
	spawn(silent_server, NULL);
	serve_requests(client, NULL); /* SITE: recv */
	return REQUESTS + 1;
}

/* ---- healthy controls ------------------------------------------------------------------- */

__attribute__((noipa)) static void *pool_worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&cond_lock);
		while (!jobs)
			pthread_cond_wait(&jobs_ready, &cond_lock); /* WAIT: pool */
		jobs--;
		pthread_mutex_unlock(&cond_lock);
	}
	return NULL;
}

__attribute__((noipa)) static void *feeder(void *arg)
{
	(void)arg;
	for (;;) {
		usleep(300 * 1000);
		pthread_mutex_lock(&cond_lock);
		jobs++;
		pthread_cond_signal(&jobs_ready);
		pthread_mutex_unlock(&cond_lock);
	}
	return NULL;
}

__attribute__((noipa)) static int start_pool(void)
{
	for (int i = 0; i < 4; i++)
		spawn(pool_worker, NULL); /* SITE: pool */
	spawn(feeder, NULL);
	return 5;
}

/* The same pool before any traffic: nobody signals its condition variable yet. */
__attribute__((noipa)) static void *idle_worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&cond_lock);
		while (!jobs)
			pthread_cond_wait(&jobs_ready, &cond_lock); /* WAIT: idlepool */
		jobs--;
		pthread_mutex_unlock(&cond_lock);
	}
	return NULL;
}

__attribute__((noipa)) static int start_idlepool(void)
{
	for (int i = 0; i < 4; i++)
		spawn(idle_worker, NULL); /* SITE: idlepool */
	return 4;
}

/* The idle pool, CROWD workers strong: more threads than strand scans on one CPU. Small
 * stacks: 20k threads of glibc's 8 MiB would be 160 GiB of address space. */
#define CROWD 20500

__attribute__((noipa)) static int start_crowd(void)
{
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, 64 * 1024) ||
	    pthread_setattr_default_np(&attr))
		target_die("cannot make threads' stacks smaller");
	for (int i = 0; i < CROWD; i++)
		spawn(idle_worker, NULL); /* SITE: crowd */
	return CROWD;
}

/* redis's io threads: parked on a mutex the main thread holds while there is no work for
 * them, main itself waiting for work in epoll_wait with a timeout. */
static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noipa)) static void *io_thread(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&io_lock); /* WAIT: lockdesign */
		pthread_mutex_unlock(&io_lock);
	}
	return NULL;
}

static void *event_loop(void *arg)
{
	struct epoll_event ev;
	int epfd = epoll_create1(0);

	(void)arg;
	pthread_mutex_lock(&io_lock); /* no io work: the io threads wait */
	for (;;)
		epoll_wait(epfd, &ev, 1, 100);
	return NULL;
}

__attribute__((noipa)) static int start_lockdesign(void)
{
	spawn(event_loop, NULL);
	for (int i = 0; i < 100 && !pthread_mutex_trylock(&io_lock); i++) {
		pthread_mutex_unlock(&io_lock);
		usleep(10 * 1000);
	}
	for (int i = 0; i < 2; i++)
		spawn(io_thread, NULL); /* SITE: lockdesign */
	return 3;
}

__attribute__((noipa)) static void *acceptor(void *arg)
{
	(void)arg;
	accept(listen_fd, NULL, NULL); /* WAIT: accept */
	return NULL;
}

__attribute__((noipa)) static int start_accept(void)
{
	struct sockaddr_in addr;

	listen_fd = listen_local(&addr);
	spawn(acceptor, NULL); /* SITE: accept */
	return 1;
}

__attribute__((noipa)) static void *sleeper(void *arg)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	(void)arg;
	for (;;)
		nanosleep(&ts, NULL); /* WAIT: timer */
	return NULL;
}

__attribute__((noipa)) static int start_timer(void)
{
	for (int i = 0; i < 3; i++)
		spawn(sleeper, NULL); /* SITE: timer */
	return 3;
}

/* The parent of vfork() waits, uninterruptibly, until the child execs or exits. */
__attribute__((noipa)) static void *vforker(void *arg)
{
	(void)arg;
	if (vfork() == 0) { /* SITE: vfork_child */
		sleep(60);
		_exit(0);
	}
	return NULL;
}

__attribute__((noipa)) static int start_vfork(void)
{
	spawn(vforker, NULL); /* SITE: vfork */
	return 1;
}

static const struct {
	const char *mode;
	int (*start)(void);
} modes[] = {
	{"mutex", start_mutex},	      {"lockpile", start_lockpile},
	{"deadlock", start_deadlock}, {"cond", start_cond},
	{"pipe", start_pipe},	      {"epoll", start_epoll},
	{"recv", start_recv},	      {"pool", start_pool},
	{"idlepool", start_idlepool}, {"lockdesign", start_lockdesign},
	{"accept", start_accept},     {"timer", start_timer},
	{"preblocked", start_mutex},  {"vfork", start_vfork},
	{"crowd", start_crowd},
};

static void *hold_signals(void *arg)
{
	(void)arg;
	target_hold();
	return NULL;
}

int main(int argc, char **argv)
{
	int (*start)(void) = NULL;
	bool before_ready;
	int n = 0;

	target_init(argc, argv);
	if (target.nargs < 1)
		target_die("usage: waits MODE [--now] [--exit]");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(target.args[0], modes[i].mode))
			start = modes[i].start;
	if (!start)
		target_die("unknown mode '%s'", target.args[0]);
	before_ready = !strcmp(target.args[0], "preblocked") ||
		       !strcmp(target.args[0], "idlepool") || !strcmp(target.args[0], "crowd");
	if (before_ready) { /* in place long before anyone attaches */
		n = start();
		sleep(2);
	}
	target_ready();
	target_wait_go();
	if (!before_ready)
		n = start();
	settle();
	target_say("blocked %d", n);
	if (target.nargs > 1 && !strcmp(target.args[1], "leader-exits")) {
		pthread_t holder;

		if (pthread_create(&holder, NULL, hold_signals, NULL))
			target_die("pthread_create failed");
		target_say("leader gone");
		pthread_exit(NULL);
	}
	if (target.exit_after) /* leave with the threads still stuck, a while later */
		usleep((useconds_t)target_count(1, 0) * 1000);
	target_hold();
}
