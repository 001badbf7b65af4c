/* Common protocol of the strand test targets (tests/harness.py drives it).
 *
 *   1. target_init() blocks SIGUSR1 and SIGTERM before any thread exists, so every thread
 *      inherits the mask and the signals are only ever taken by the main thread's sigwait.
 *   2. setup (some targets create threads here, before "ready": they pre-exist the attach)
 *   3. target_ready() prints "ready"
 *   4. target_wait_go() waits for SIGUSR1 (skipped with "--now"); SIGTERM here exits 0
 *   5. the spawn phase, which prints "spawned N" and other deterministic results
 *   6. target_hold() waits for SIGTERM and exits 0 (or returns at once with "--exit")
 *
 * Flags (anywhere in argv): "--now" skip the wait for SIGUSR1, "--exit" exit after the spawn
 * phase instead of holding. Every other argument is positional (counts) and is returned in
 * target.args. Output is line-buffered by hand (fflush) because stdout is a pipe. */
#ifndef STRAND_TEST_TARGET_H
#define STRAND_TEST_TARGET_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_MAX_ARGS 8

struct target {
	int now;	/* "--now": do not wait for SIGUSR1 */
	int exit_after; /* "--exit": exit after the spawn phase */
	int nargs;	/* positional arguments */
	const char *args[TARGET_MAX_ARGS];
	sigset_t sigs; /* SIGUSR1 + SIGTERM, blocked in every thread */
};

static struct target target;

__attribute__((format(printf, 1, 2), noreturn)) static inline void target_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "target: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

__attribute__((format(printf, 1, 2))) static inline void target_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void target_init(int argc, char **argv)
{
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--now") == 0)
			target.now = 1;
		else if (strcmp(argv[i], "--exit") == 0)
			target.exit_after = 1;
		else if (target.nargs < TARGET_MAX_ARGS)
			target.args[target.nargs++] = argv[i];
		else
			target_die("too many arguments");
	}
	sigemptyset(&target.sigs);
	sigaddset(&target.sigs, SIGUSR1);
	sigaddset(&target.sigs, SIGTERM);
	rc = pthread_sigmask(SIG_BLOCK, &target.sigs, NULL);
	if (rc != 0)
		target_die("pthread_sigmask: %s", strerror(rc));
}

/* Positional argument i as a count in [0, 100000], or def when absent. */
static inline int target_count(int i, int def)
{
	char *end;
	long v;

	if (i >= target.nargs)
		return def;
	errno = 0;
	v = strtol(target.args[i], &end, 10);
	if (errno || *end || end == target.args[i] || v < 0 || v > 100000)
		target_die("bad count '%s'", target.args[i]);
	return (int)v;
}

static inline void target_ready(void)
{
	target_say("ready");
}

/* Exit 0 on SIGTERM; return on SIGUSR1. With timeout_ms >= 0, also return 0 when the timeout
 * expires without a signal (used by the pool to pace its wake-ups); returns the signal taken. */
static inline int target_wait_signal(long timeout_ms)
{
	struct timespec ts;
	int sig;

	for (;;) {
		if (timeout_ms < 0) {
			if (sigwait(&target.sigs, &sig) != 0)
				target_die("sigwait failed");
		} else {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
			sig = sigtimedwait(&target.sigs, NULL, &ts);
			if (sig < 0 && errno == EAGAIN)
				return 0;
			if (sig < 0 && errno == EINTR)
				continue;
			if (sig < 0)
				target_die("sigtimedwait: %s", strerror(errno));
		}
		if (sig == SIGTERM) {
			fflush(stdout);
			exit(0);
		}
		return sig;
	}
}

static inline void target_wait_go(void)
{
	if (!target.now)
		target_wait_signal(-1);
}

/* Hold until SIGTERM (further SIGUSR1s are ignored); with "--exit", exit 0 at once. */
__attribute__((noreturn)) static inline void target_hold(void)
{
	fflush(stdout);
	if (target.exit_after)
		exit(0);
	for (;;)
		target_wait_signal(-1);
}

#endif /* STRAND_TEST_TARGET_H */
