/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report model: what the engine knows and has judged at one moment, as every format
 * renders it (the JSON report and its document, the text, the flame-style files, the
 * recording, the daemon's metrics). Built by engine__report after the judge step, so no
 * renderer judges or asks the system anything of its own: one story in every format.
 */
#ifndef STRAND_REPORT_MODEL_H
#define STRAND_REPORT_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/collector.h"
#include "collect/model.h"
#include "go/goroutines.h"
#include "strand.h"
#include "sym/stacks.h"
#include "verdicts/detect.h"
#include "verdicts/runaway.h"

#define REPORT_MAX_WARNINGS 16

/* A spawn site of threads (or processes) as reported: its spawn rate over the trace and the
 * runaway verdict the judge step gave it. */
struct reported_site {
	const struct site *site;
	double rate; /* spawns a second while traced; 0 for the tasks from before the attach */
	struct runaway_verdict runaway;
};

struct report {
	struct model *model;
	struct reported_site *sites; /* the model's sites with tasks, most live first, judged */
	size_t nsites;
	uint64_t now_ns;   /* monotonic time the report describes (ages are measured to it) */
	double duration_s; /* traced so far */
	bool final;
	bool all_processes;
	uint64_t counters[STRAND_CNT__MAX];
	struct collector_stats stats;
	struct stacks_stats stacks;
	const struct detection *detection; /* NULL when waits were not scanned */
	double detection_age_s;		   /* > 0: from the last scan before the target exited */
	uint64_t threshold_ns;
	uint64_t runaway;      /* the runaway-spawn threshold */
	double started_unix_s; /* wall clock at the trace's start */
	/* where the trace ran (a report read back weeks later on another machine says), and
	 * what strand itself has used so far */
	char host[256], kernel[65], machine[65];
	double cpu_s;
	uint64_t max_rss_kib;
	/* scans: the period asked for, the one kept (longer when a scan costs more than its
	 * budget), and the CPU the last one took */
	double scan_every_s, scan_gap_s, scan_cpu_s;
	uint64_t scans_in_halves;    /* task scans read on two CPUs (loader__scan_tasks) */
	uint64_t prefaulted_ahead;   /* bytes of tables faulted in ahead (prefault__carved) */
	uint64_t task_stacks_copied; /* blocked threads' stacks the scans copied */
	/* when not 0, the lists (targets, tasks, sites, groups, goroutines) hold this process's
	 * only, written without going through the others' (report_doc__only_pid then makes
	 * the totals its own) */
	pid_t only_pid;
	/* when not 0, the tasks list holds at most this many of each spawn site: a document for
	 * the text report alone, which shows REPORT_TEXT_TASKS_PER_SITE of them (100k threads
	 * are not each written to show ten) */
	uint32_t tasks_per_site;
	struct go_tracker *goroutines; /* NULL when no target is a Go program */
	const char *warnings[REPORT_MAX_WARNINGS];
	int nwarnings;
};

void report__warn(struct report *r, const char *warning);
/* Frees what engine__report allocated (the model itself is the engine's). */
void report__release(struct report *r);

#endif /* STRAND_REPORT_MODEL_H */
