/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reports of a trace: everything a format needs, gathered once, rendered by each format. */
#ifndef STRAND_REPORT_H
#define STRAND_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "collect/collector.h"
#include "verdicts/detect.h"
#include "go/goroutines.h"
#include "collect/model.h"
#include "verdicts/runaway.h"
#include "strand.h"

#define REPORT_MAX_WARNINGS 16

struct report {
	struct model *model;
	uint64_t now_ns;   /* monotonic time the report describes (ages are measured to it) */
	double duration_s; /* traced so far */
	bool final;
	bool all_processes;
	uint64_t counters[STRAND_CNT__MAX];
	struct collector_stats stats;
	const struct detection *detection; /* NULL when waits were not scanned */
	double detection_age_s;		   /* > 0: from the last scan before the target exited */
	uint64_t threshold_ns;
	uint64_t runaway;      /* the runaway-spawn threshold */
	double started_unix_s; /* wall clock at the trace's start */
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

void report__json(FILE *f, const struct report *r);
/* The same, parsed: the document every other format is rendered from. 0 or -errno. */
struct report_doc;
int report__doc(const struct report *r, struct report_doc *doc);

/* Shared by the formats. */
/* Index of the first frame outside the C library's thread-creation code: the spawn site. */
int site__spawn_frame(const struct site *s);
/* "function (file.c:41)", "function [libfoo.so]", or "0x7f... [?]". */
void frame__format(const struct sym_frame *f, char *buf, size_t size);
double site__rate(const struct site *s, const struct report *r);
/* Whether a thread site is a runaway (runaway.h), with its evidence. */
bool site__runaway(const struct site *s, const struct report *r, struct runaway_verdict *v);
struct json;
/* A frame as a JSON object (docs/json-schema.md, "frame"); key NULL inside an array. */
void frame__json(struct json *j, const char *key, const struct sym_frame *fr);
void stack__json(struct json *j, const char *key, const struct sym_frame *frames, int n);
void timeline__json(struct json *j, const char *key, const struct timeline *t);
void runaway__json(struct json *j, const struct runaway_verdict *v);

#endif /* STRAND_REPORT_H */
