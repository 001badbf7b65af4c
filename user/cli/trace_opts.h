/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `strand trace`'s command line: what it asks for, how it is read, and the help. */
#ifndef STRAND_TRACE_OPTS_H
#define STRAND_TRACE_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "report/report_out.h"

struct trace_opts {
	pid_t pid;	      /* -p */
	char **command;	      /* after -- */
	int64_t duration_ns;  /* --for, 0: until the target exits or Ctrl-C */
	int64_t interval_ns;  /* live refresh */
	int64_t threshold_ns; /* blocked this long: a stranded candidate */
	bool no_go_probes, exact_waits;
	double overhead_pct;
	bool json, live, verbose;
	bool full;   /* the final text report lists everything */
	bool follow; /* -p PID -f: its descendants too, those running and those to come */
	const char *output;
	const char *record;	 /* --record FILE */
	int64_t record_every_ns; /* a snapshot this often */
	struct report_outputs outs;
	int argc;
	char **argv;
	uint32_t max_tasks;
	uint32_t ringbuf_bytes; /* 0: the default */
	uint32_t max_goroutines;
	uint32_t go_states; /* 0: the default */
	uint32_t runaway;
};

/* Reads argv into o (defaults first); 0, or the exit status of a usage error (said). */
int trace_opts__parse(int argc, char **argv, struct trace_opts *o);

#endif /* STRAND_TRACE_OPTS_H */
