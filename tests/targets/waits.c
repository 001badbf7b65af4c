/* waits: blocked threads, one scenario per mode (scenarios 14, 16, 19 and the healthy
 * controls of ../shared/scenarios.md).
 *
 *   waits MODE [--now] [--exit [LINGER_MS]]
 *
 * Leaks (strand must call them stranded, or deadlock):
 *   mutex       3 workers block on a mutex an error path left locked       WAIT: mutex
 *   deadlock    two threads take two mutexes in opposite orders            WAIT: ab, WAIT: ba
 *   cond        2 threads wait on a condition variable never signalled     WAIT: cond
 *   pipe        a reader of a pipe whose writer returned, write end leaked WAIT: pipe
 *   epoll       epoll_wait on a set whose only fd was closed               WAIT: epoll
 *   recv        recv from a local peer that accepts and never answers      WAIT: recv
 *   preblocked  like mutex, but blocked 2 s before "ready" (before attach) WAIT: mutex
 * Healthy controls (never stranded):
 *   pool        4 workers on a condition variable signalled every 300 ms   WAIT: pool
 *   accept      a server thread blocked in accept                          WAIT: accept
 *   timer       3 threads sleeping 200 ms in a loop                        WAIT: timer
 * Neither:
 *   vfork       a thread in vfork() while its child sleeps: an uninterruptible (D) wait
 * (recv's server, blocked in accept for a second client, is a healthy control too.)
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

static pthread_mutex_t orphaned = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER, lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_signalled = PTHREAD_COND_INITIALIZER;
static pthread_cond_t jobs_ready = PTHREAD_COND_INITIALIZER;
static int jobs, fds[2], listen_fd;

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

/* ---- leaks ------------------------------------------------------------------------------ */

/* Takes the lock and "fails" without giving it back: the bug. */
__attribute__((noipa)) static int load_config_or_fail(void)
{
	pthread_mutex_lock(&orphaned);
	return -1;
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
	if (load_config_or_fail() < 0) {
		for (int i = 0; i < 3; i++)
			spawn(mutex_worker, NULL); /* SITE: mutex */
	}
	return 3;
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

__attribute__((noipa)) static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cond_lock);
	for (;;)
		pthread_cond_wait(&never_signalled, &cond_lock); /* WAIT: cond */
	return NULL;
}

__attribute__((noipa)) static int start_cond(void)
{
	for (int i = 0; i < 2; i++)
		spawn(cond_waiter, NULL); /* SITE: cond */
	return 2;
}

__attribute__((noipa)) static void *pipe_reader(void *arg)
{
	char buf[64];

	(void)arg;
	if (read(fds[0], buf, sizeof(buf)) < 0) /* WAIT: pipe */
		target_die("read: %s", strerror(errno));
	return NULL;
}

/* The writer was meant to send a result and close; it returned early and its end leaked. */
__attribute__((noipa)) static int start_pipe(void)
{
	if (pipe(fds))
		target_die("pipe: %s", strerror(errno));
	spawn(pipe_reader, NULL); /* SITE: pipe */
	return 1;
}

__attribute__((noipa)) static void *epoll_waiter(void *arg)
{
	struct epoll_event ev;
	int epfd = (int)(long)arg;

	epoll_wait(epfd, &ev, 1, -1); /* WAIT: epoll */
	return NULL;
}

__attribute__((noipa)) static int start_epoll(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int epfd = epoll_create1(0), efd = eventfd(0, 0);

	if (epfd < 0 || efd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev))
		target_die("epoll set-up: %s", strerror(errno));
	close(efd); /* the last fd of the set: nothing can wake it now */
	spawn(epoll_waiter, (void *)(long)epfd); /* SITE: epoll */
	return 1;
}

static int listen_local(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)addr, &len))
		target_die("listen: %s", strerror(errno));
	return fd;
}

/* Accepts and never answers; then waits for the next client (healthy in itself). */
__attribute__((noipa)) static void *silent_server(void *arg)
{
	(void)arg;
	if (accept(listen_fd, NULL, NULL) < 0)
		target_die("accept: %s", strerror(errno));
	accept(listen_fd, NULL, NULL); /* WAIT: accept_again */
	return NULL;
}

__attribute__((noipa)) static void *client(void *arg)
{
	struct sockaddr_in *addr = arg;
	char buf[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)addr, sizeof(*addr)))
		target_die("connect: %s", strerror(errno));
	recv(fd, buf, sizeof(buf), 0); /* WAIT: recv */
	return NULL;
}

__attribute__((noipa)) static int start_recv(void)
{
	static struct sockaddr_in addr;

	listen_fd = listen_local(&addr);
	spawn(silent_server, NULL);
	spawn(client, &addr); /* SITE: recv */
	return 2;
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
	{"mutex", start_mutex},	     {"deadlock", start_deadlock}, {"cond", start_cond},
	{"pipe", start_pipe},	     {"epoll", start_epoll},	   {"recv", start_recv},
	{"pool", start_pool},	     {"accept", start_accept},	   {"timer", start_timer},
	{"preblocked", start_mutex}, {"vfork", start_vfork},
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
	before_ready = !strcmp(target.args[0], "preblocked");
	if (before_ready) { /* stuck long before anyone attaches */
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
