/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What releases the processes strand holds should strand die holding them. The kernel stops
 * a traced process with SIGSTOP (at its first stack sample while its memory map is read, on
 * its way out while what it leaves is read) and strand sends the SIGCONT; killed between
 * the two, strand would leave it stopped for good. The guardian is a small child process
 * forked at start-up that waits for strand's end (the socket between them closing, however
 * strand ends) and then sends SIGCONT to every stopped process of the trees strand was
 * tracing, unless strand said it holds nothing.
 */
#ifndef STRAND_GUARDIAN_H
#define STRAND_GUARDIAN_H

#include <sys/types.h>

struct guardian;

/* Forks the guardian; NULL (said) when it cannot be had: holds are then not armed. */
struct guardian *guardian__start(void);
/* pid and its descendants are traced and may be held. 0 or -errno. */
int guardian__watch(struct guardian *g, pid_t pid);
/* A clean end: nothing is held any more, the guardian leaves without touching anything. */
void guardian__stop(struct guardian *g);

/* The guardian's own work, given its view of the machine: the processes among pids (count n)
 * that are stopped and are one of roots or below one, each once. Exposed for tests. */
struct proc_entry {
	pid_t pid, ppid;
	char state;
};
size_t guardian__stopped_below(const struct proc_entry *procs, size_t n, const pid_t *roots,
			       size_t nroots, pid_t *out, size_t max);

#endif /* STRAND_GUARDIAN_H */
