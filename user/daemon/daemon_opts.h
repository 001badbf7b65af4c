/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `strand daemon`'s options, from its command line and its config file. */
#ifndef STRAND_DAEMON_OPTS_H
#define STRAND_DAEMON_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/metrics.h"
#include "lib/options.h"

/* Who may read /report (stacks, file names, every format): --report-access. */
enum report_access {
	REPORT_LOCAL, /* clients on this machine's loopback only (the default) */
	REPORT_AUTH,  /* clients the web configuration let in (a password, a verified cert) */
	REPORT_OFF,   /* nobody: /metrics alone is served */
};

struct daemon_opts {
	const char *listen;
	bool allow_remote;
	const char *web_config; /* the exporters' web configuration file (TLS, users) */
	enum report_access report_access;
	int64_t threshold_ns;
	uint32_t max_tasks, runaway, max_goroutines;
	bool go_probes, verbose;
	bool exact_waits;    /* Go waits timed by park/ready probes, not by the scans */
	double overhead_pct; /* the Go create/exit probes' budget per process */
	struct metrics_opts metrics;
	struct opt_strings owned; /* the config file's values the options point at */
};

void daemon__usage(FILE *f);
void daemon_opts__defaults(struct daemon_opts *o);
/* The config file (if -c/--config names one), then the command line over it; 0 or an exit
 * code (said). --help prints the usage and exits. */
int daemon_opts__parse(int argc, char **argv, struct daemon_opts *o);
/* Options from a file: "name value" per line, name a long option's ('#' a comment); 0 or
 * an exit code (said, with the file's line). */
int daemon_opts__read_config(struct daemon_opts *o, const char *path);
/* Refuses an address that does not parse, and a non-loopback one without --allow-remote;
 * says loudly what a non-loopback one serves to anyone when no web configuration guards
 * it. */
int daemon_opts__check_listen(const struct daemon_opts *o);
void daemon_opts__free(struct daemon_opts *o);

#endif /* STRAND_DAEMON_OPTS_H */
