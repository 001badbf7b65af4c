/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The wait table in user space: each scan of the task iterator updates every traced
 * thread's state, decodes what the blocked ones wait on (syscall, futex, fd, lock owner),
 * symbolizes the stack of long waits, and remembers wake-ups per wait object: the evidence
 * that separates a pool waiting for work from a thread nobody will wake.
 */
#ifndef STRAND_WAITS_H
#define STRAND_WAITS_H

#include <stdint.h>
#include <sys/types.h>

#include "collect/model.h"

struct loader;
struct stacks;
struct wait_table;

struct wait_table *wait_table__new(struct loader *ld, struct stacks *sym, struct model *m,
				   uint64_t detail_after_ns);
void wait_table__free(struct wait_table *wt);
/* Drops what is known of pid's futexes (its wake-ups): the daemon, once pid is gone. */
void wait_table__forget(struct wait_table *wt, pid_t pid);

/* Runs one scan; returns the number of threads seen or a negative errno. */
int wait_table__scan(struct wait_table *wt);
/* The user stacks of blocked threads the scans copied, in all: once a wait, not once a scan. */
uint64_t wait_table__stacks_copied(const struct wait_table *wt);

/* Wake-ups of waits at one wait site (pid, spawn site, wait stack) since the given time, and
 * when the last one was; 0 when the stack is not known (stack_hash 0). */
uint64_t wait_table__site_wakes_since(struct wait_table *wt, pid_t pid, uint32_t site,
				      uint64_t stack_hash, uint64_t since_ns, uint64_t *last_ns);
/* Wake-ups seen on (pid, object) since the given time, and when the last one was. */
uint64_t wait_table__wakes_since(struct wait_table *wt, pid_t pid, uint64_t object,
				 uint64_t since_ns, uint64_t *last_ns);

/* Threads traced from which a scan is worth two CPUs (loader__scan_tasks): the kernel's
 * work for each thread is split between two iterators, at the cost of both stepping through
 * them all. */
#define WAIT_SCAN_HALVES_FROM 20000

#endif /* STRAND_WAITS_H */
