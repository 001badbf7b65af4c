/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Holding a process still for a moment, to read its memory as one consistent state: every
 * thread seized and interrupted with ptrace (PTRACE_SEIZE, PTRACE_INTERRUPT), then let go
 * (PTRACE_DETACH). Unlike SIGSTOP this is no job-control stop: the parent (a shell) is not
 * told, and should strand die meanwhile the kernel lets every thread go itself. A thread
 * in a system call is back in it afterwards (the call is restarted).
 */
#ifndef STRAND_FREEZE_H
#define STRAND_FREEZE_H

#include <sys/types.h>

struct frozen {
	pid_t pid;
	pid_t *tids;
	size_t n, cap;
};

/* Stops every thread of pid within timeout_ms. 0, or -errno with every thread let go
 * (-EBUSY: another tracer has it, -ETIMEDOUT: a thread did not stop in time). */
int freeze__process(pid_t pid, int timeout_ms, struct frozen *f);
/* Lets every thread go again; one whose stop has not come yet is let go when it does, by
 * freeze__settle, which the caller calls again and again (every scan). */
void freeze__thaw(struct frozen *f);
void freeze__settle(void);

#endif /* STRAND_FREEZE_H */
