// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "engine/guardian.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ROOTS 1024

struct guardian {
	pid_t pid;
	int fd; /* strand's end: its closing is what the guardian waits for */
};

size_t guardian__stopped_below(const struct proc_entry *procs, size_t n, const pid_t *roots,
			       size_t nroots, pid_t *out, size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i < n && found < max; i++) {
		pid_t at = procs[i].pid;
		bool below = false;

		if (procs[i].state != 'T')
			continue;
		/* up the parents until a root, init or a loop */
		for (size_t hops = 0; at > 1 && hops < n + 1 && !below; hops++) {
			size_t k;

			for (size_t r = 0; r < nroots && !below; r++)
				below = roots[r] == at;
			for (k = 0; k < n && procs[k].pid != at; k++)
				;
			at = k < n ? procs[k].ppid : 0;
		}
		if (below)
			out[found++] = procs[i].pid;
	}
	return found;
}

/* Every process of the machine, with its parent and state. */
static struct proc_entry *list_processes(size_t *n)
{
	struct proc_entry *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		char path[64], buf[512], *close;
		uint32_t pid;
		int ppid;

		if (!parse_u32(de->d_name, &pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%u/stat", pid);
		if (read_small_file(path, buf, sizeof(buf)) <= 0 || !(close = strrchr(buf, ')')) ||
		    sscanf(close + 1, " %*c %d", &ppid) != 1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = (struct proc_entry){(pid_t)pid, ppid, close[2]};
	}
	closedir(d);
	return v;
}

/* The guardian's life: learn the roots, wait for strand's end, release what it held. */
static void guard(int fd)
{
	pid_t roots[MAX_ROOTS], held[4096];
	size_t nroots = 0, n, nheld;
	struct proc_entry *procs;
	pid_t pid;

	for (;;) {
		ssize_t got = read(fd, &pid, sizeof(pid));

		if (got < 0 && errno == EINTR)
			continue;
		if (got != sizeof(pid))
			break; /* strand is gone: whatever it held is held for nothing now */
		if (pid == 0)
			_exit(0); /* a clean end: nothing held */
		if (nroots < MAX_ROOTS)
			roots[nroots++] = pid;
	}
	procs = list_processes(&n);
	nheld = guardian__stopped_below(procs, n, roots, nroots, held, ARRAY_SIZE(held));
	for (size_t i = 0; i < nheld; i++)
		kill(held[i], SIGCONT);
	_exit(0);
}

struct guardian *guardian__start(void)
{
	struct guardian *g;
	int fds[2], null;
	pid_t pid;

	/* a socket rather than a pipe: strand's writes to a guardian that died fail with
	 * EPIPE, not a SIGPIPE that would end strand */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
		say("no guardian for held processes (%s): none is held", strerror(errno));
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		say("no guardian for held processes (%s): none is held", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		/* the read end out of the way of the standard fds it is about to replace (strand
		 * may have been started with them closed, and the socket given one) */
		int rd = fcntl(fds[0], F_DUPFD, 10);

		/* its own session: signals for strand's group (Ctrl-C, a test harness killing
		 * it) are not for the guardian, which must outlive strand */
		setsid();
		prctl(PR_SET_NAME, "strand-guard", 0, 0, 0);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD)
				signal(s, SIG_IGN);
		/* the pipes a reader of strand's output waits on are not held open */
		null = open("/dev/null", O_RDWR);
		for (int i = 0; null >= 0 && i < 3; i++)
			dup2(null, i);
		if (null > 2)
			close(null);
		if (rd < 0 || dup2(rd, 3) != 3)
			_exit(1);
		close_range(4, ~0U, 0); /* strand's end among them: its close is the news */
		guard(3);
	}
	close(fds[0]);
	g = xcalloc(1, sizeof(*g));
	g->pid = pid;
	g->fd = fds[1];
	return g;
}

int guardian__watch(struct guardian *g, pid_t pid)
{
	if (!g)
		return -ENOTCONN;
	return send(g->fd, &pid, sizeof(pid), MSG_NOSIGNAL) == sizeof(pid) ? 0 : -EIO;
}

void guardian__stop(struct guardian *g)
{
	pid_t none = 0;

	if (!g)
		return;
	if (send(g->fd, &none, sizeof(none), MSG_NOSIGNAL) != sizeof(none))
		note("the guardian was not told of the clean end: it releases what it finds held");
	close(g->fd);
	waitpid(g->pid, NULL, 0);
	free(g);
}
