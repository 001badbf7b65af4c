/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's Prometheus metrics (text exposition format 0.0.4): per process identity
 * (identity.h), processes sharing one summed, the pid only in strand_process_info; the top
 * spawn sites per identity; strand's own costs. docs/metrics.md lists every series and the
 * worst-case count.
 */
#ifndef STRAND_METRICS_H
#define STRAND_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sys/identity.h"

struct engine;

/* Which processes are exported (all the criteria given must hold). */
struct proc_filter {
	const char *comms[16]; /* comm equal to one of them */
	int ncomms;
	const char *cgroups[16]; /* cgroup path starting with one of them */
	int ncgroups;
	bool containers_only; /* in a container (its cgroup carries a container ID) */
	bool go_only;	      /* Go programs */
};

struct metrics_opts {
	int top_sites; /* spawn sites per identity (strand_site_tasks) */
	int label_max; /* longest label value, in bytes */
	struct proc_filter filter;
};

/* What the daemon measures of itself. */
struct metrics_self {
	double last_scrape_s; /* how long the previous /metrics took */
	uint64_t scrapes, http_errors;
};

struct metrics;

struct metrics *metrics__new(const struct metrics_opts *opts);
void metrics__free(struct metrics *m);

/* Whether the filter exports pid (its identity read and kept on first sight). */
bool metrics__exports(struct metrics *m, struct engine *e, pid_t pid);
/* The exposition of the report model r (engine__report): the same verdicts every report
 * gives; e for strand's own series (its BPF maps and programs, caches, scans). */
struct report;
void metrics__write(struct metrics *m, struct engine *e, const struct report *r,
		    const struct metrics_self *self, FILE *f);
/* pid is about to be forgotten: its counts stay with its identity, so that the identity's
 * counters go on when it restarts; an identity with no process left is dropped at the next
 * write but one. */
void metrics__retire(struct metrics *m, struct engine *e, pid_t pid);

#endif /* STRAND_METRICS_H */
