// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * floor -- CMD [ARGS...]: runs CMD with empty BPF programs on the hooks strand uses (the
 * scheduler's fork, exit, exec and switch tracepoints, a task iterator read once a second,
 * a uprobe on pthread_create where strand needs one, and for a Go program the runtime's create,
 * exit, park and ready sites strand itself would choose, found by strand's own code). What a
 * workload loses under it is the cost of the hooks alone: the floor strand's overhead is measured
 * against. Exits with CMD's status.
 */
#include <bpf/bpf.h>
#include <dlfcn.h>
#include <pthread.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sym/elfsym.h"
#include "floor.skel.h"
#include "go/gocode.h"
#include "sym/gopclntab.h"
#include "go/gosnap.h"

#define MAX_LINKS 16

static struct bpf_link *links[MAX_LINKS];
static int nlinks;

static void keep(struct bpf_link *l, const char *what)
{
	if (!l) {
		fprintf(stderr, "floor: cannot attach %s: %s\n", what, strerror(errno));
		exit(1);
	}
	links[nlinks++] = l;
}

/* The Go runtime's sites in pid, as strand finds them; none for a program that is not Go. */
static void attach_go(struct floor_bpf *skel, pid_t pid)
{
	struct go_probe_sites sites;
	struct go_process gp = {0};
	struct gopclntab *pcln;
	char exe[64];
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	pcln = gopclntab__open(exe, &err);
	if (!pcln)
		return;
	/* -ENODATA (no layout) still gives the load bias the sites need */
	err = go_process__open(pid, pcln, &gp);
	if ((!err || err == -ENODATA) && !gocode__probe_sites(pid, gp.bias, pcln, &sites)) {
		uint64_t vaddr[] = {sites.create, sites.exit, sites.park, sites.ready}, off;

		for (size_t i = 0; i < sizeof(vaddr) / sizeof(vaddr[0]); i++)
			if (vaddr[i] && !elfsym__file_offset(exe, vaddr[i], &off))
				keep(bpf_program__attach_uprobe(skel->progs.floor_uprobe, false,
								pid, exe, off),
				     "a Go runtime uprobe");
	}
	gopclntab__close(pcln);
}

static void scan(struct floor_bpf *skel, struct bpf_link *iter)
{
	char buf[4096];
	int fd = bpf_iter_create(bpf_link__fd(iter));

	(void)skel;
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

int main(int argc, char **argv)
{
	uint64_t pthread_off;
	uint32_t start_off;
	Dl_info libc;
	struct floor_bpf *skel;
	struct bpf_link *iter;
	int status = 0, go[2];
	pid_t child;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: floor -- CMD [ARGS...]\n");
		return 2;
	}
	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "floor: cannot load: %s\n", strerror(errno));
		return 1;
	}
	keep(bpf_program__attach(skel->progs.floor_fork), "sched_process_fork");
	keep(bpf_program__attach(skel->progs.floor_exit), "sched_process_exit");
	keep(bpf_program__attach(skel->progs.floor_exec), "sched_process_exec");
	keep(bpf_program__attach(skel->progs.floor_switch), "sched_switch");
	iter = bpf_program__attach_iter(skel->progs.floor_tasks, NULL);
	keep(iter, "the task iterator");
	/* pthread_create where strand probes it, in the C library this program runs: only
	 * where the library does not say where its threads keep their start routine */
	if (!dladdr((void *)pthread_create, &libc))
		return 1;
	if (elfsym__thread_db_field(libc.dli_fname, "pthread_start_routine", &start_off)) {
		if (elfsym__probe_offset(libc.dli_fname, "pthread_create", &pthread_off))
			return 1;
		keep(bpf_program__attach_uprobe(skel->progs.floor_uprobe, false, -1, libc.dli_fname,
						pthread_off),
		     "pthread_create");
	}
	/* the command waits on a pipe until its probes are in, as under strand */
	if (pipe2(go, O_CLOEXEC))
		return 1;
	child = fork();
	if (child == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(127);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(go[0]);
	close(go[1]);
	/* a Go program's runtime sites, once it runs (strand's first scan is as early) */
	for (int tick = 0;; tick++) {
		struct timespec ts = {0, 250 * 1000 * 1000};
		pid_t done = waitpid(child, &status, WNOHANG);

		if (done == child)
			break;
		if (tick == 1)
			attach_go(skel, child);
		if (tick % 4 == 0)
			scan(skel, iter);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
