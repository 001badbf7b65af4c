// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sys/freeze.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

static bool has(const struct frozen *f, pid_t tid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->tids[i] == tid)
			return true;
	return false;
}

static int seize(struct frozen *f, pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
		/* a thread that exited meanwhile is none to stop */
		return errno == ESRCH ? 0 : errno == EPERM ? -EBUSY : -errno;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->tids = xrealloc(f->tids, f->cap * sizeof(*f->tids));
	}
	f->tids[f->n++] = tid;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) && errno != ESRCH)
		return -errno;
	return 0;
}

/* Seizes the threads not yet seized; how many were new, or -errno. */
static int seize_new(struct frozen *f)
{
	char path[64];
	struct dirent *d;
	int added = 0, err = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", f->pid);
	if (!(dir = opendir(path)))
		return -errno;
	while (!err && (d = readdir(dir))) {
		pid_t tid = (pid_t)atoi(d->d_name);

		if (tid <= 0 || has(f, tid))
			continue;
		err = seize(f, tid);
		added++;
	}
	closedir(dir);
	return err ? err : added;
}

static int wait_stopped(pid_t tid, uint64_t deadline_ns)
{
	for (;;) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

		if (r == tid)
			return WIFSTOPPED(status) ? 0 : -ESRCH;
		if (r < 0)
			return errno == ECHILD ? -ESRCH : -errno;
		if (now_mono_ns() > deadline_ns)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
	}
}

int freeze__process(pid_t pid, int timeout_ms, struct frozen *f)
{
	uint64_t deadline = now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
	size_t waited = 0;
	int added, err = 0;

	f->pid = pid;
	f->n = 0;
	/* until a listing finds no thread not already stopped: one made meanwhile is caught */
	while (!err && (added = seize_new(f)) > 0)
		for (; waited < f->n && !err; waited++) {
			err = wait_stopped(f->tids[waited], deadline);
			if (err == -ESRCH)
				err = 0; /* it exited */
		}
	if (!err && added < 0)
		err = added;
	if (err)
		freeze__thaw(f);
	return err;
}

/* Threads seized whose stop had not come when they were let go (one in an uninterruptible
 * wait stops only when it leaves it): each is detached as soon as it stops, never left. */
static pid_t *late;
static size_t nlate, caplate;

static bool detach(pid_t tid)
{
	return !ptrace(PTRACE_DETACH, tid, NULL, NULL) || errno != ESRCH ||
	       (!wait_stopped(tid, now_mono_ns()) && !ptrace(PTRACE_DETACH, tid, NULL, NULL));
}

void freeze__settle(void)
{
	size_t kept = 0;

	for (size_t i = 0; i < nlate; i++) {
		int status;
		pid_t r = waitpid(late[i], &status, __WALL | WNOHANG);

		if (r < 0 || (r == late[i] && !WIFSTOPPED(status)))
			continue; /* gone */
		if (r == late[i] && !ptrace(PTRACE_DETACH, late[i], NULL, NULL))
			continue;
		late[kept++] = late[i];
	}
	nlate = kept;
}

void freeze__thaw(struct frozen *f)
{
	/* a thread seized but not yet in its stop cannot be detached: let it reach the stop,
	 * for a moment here, or later (freeze__settle) */
	for (size_t i = 0; i < f->n; i++) {
		if (detach(f->tids[i]))
			continue;
		if (!wait_stopped(f->tids[i], now_mono_ns() + 100000000ULL) &&
		    !ptrace(PTRACE_DETACH, f->tids[i], NULL, NULL))
			continue;
		if (nlate == caplate)
			late = xrealloc(late,
					(caplate = caplate ? caplate * 2 : 8) * sizeof(*late));
		late[nlate++] = f->tids[i];
	}
	f->n = 0;
}
