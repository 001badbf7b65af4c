/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Goroutines of traced Go processes. Two levels, combined when both are there:
 * - snapshots: at every scan the runtime's goroutine list is read from the target's memory
 *   (id, creation pc, start function, status, wait reason), grouped by (creation site,
 *   start function, state); no cost to the target;
 * - probes on the runtime (create, exit, park, ready): exact park times (a goroutine never
 *   woken since it parked), the spawner's full stack once per site, the parent goroutine,
 *   spawned/exited counts per site.
 * Verdicts follow product.md: waits the runtime says can never end are stranded; leak-prone
 * waits (channels, select, sync) past the threshold and never woken are stranded when the
 * evidence supports it (several from one `go` statement, an exited spawner, a growing
 * group); network and timer waits are idle.
 */
#ifndef STRAND_GOROUTINES_H
#define STRAND_GOROUTINES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "symbolize.h"

struct json;
struct loader;
struct go_layout;
struct strand_go_site_event;

enum go_verdict {
	GO_VERDICT_NONE,
	GO_VERDICT_IDLE,     /* blocked long on a wait that is healthy when long (I/O, timers) */
	GO_VERDICT_STRANDED, /* blocked for good, with the evidence below */
};

#define GO_MAX_EVIDENCE	    4
#define GO_MAX_SPAWN_FRAMES 12

struct go_group {
	pid_t pid;
	bool runtime; /* the runtime's own goroutines (GC workers, finalizers, ...) */
	enum go_verdict verdict;
	char state[40];
	struct sym_frame created_at; /* the `go` statement */
	struct sym_frame start;	     /* the goroutine's function */
	/* the spawner's stack from the create probe, `go` statement first (0: not seen) */
	struct sym_frame spawn_stack[GO_MAX_SPAWN_FRAMES];
	int spawn_depth;
	uint64_t count;
	uint64_t blocked_long; /* members blocked past the threshold, never woken since */
	uint64_t orphans;      /* of those, how many were created by a goroutine now gone */
	double oldest_wait_s;  /* seen by the scans in this state */
	/* exact, from the park probe; "since before attach" counts from the attach */
	double blocked_oldest_s, blocked_newest_s;
	bool blocked_before_attach;
	/* the creation site's totals while traced (create/exit probes); -1: no probes */
	int64_t site_spawned, site_exited;
	uint64_t peak; /* largest count seen for this group */
	char evidence[GO_MAX_EVIDENCE][160];
	int nevidence;
	uint64_t goids[8];
	int ngoids;
};

struct go_tracker;

/* ld may be NULL (no probes); threshold_ns is what "blocked long" means. */
struct go_tracker *go_tracker__new(struct symbolizer *sym, struct loader *ld,
				   uint64_t threshold_ns);
void go_tracker__free(struct go_tracker *t);

enum go_scan_result {
	GO_NOT_GO,	/* not a Go program */
	GO_TRACKED,	/* goroutines read */
	GO_UNSUPPORTED, /* a Go program whose runtime layout strand cannot read */
};

/* Reads pid's goroutines if it is a Go program; attaches the probes at the first scan. */
enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now_ns);
/* The process exec'd or exited: its probes are detached. */
void go_tracker__forget(struct go_tracker *t, pid_t pid);
/* The create probe's record of a new spawn site (collector callback). */
void go_tracker__on_site(void *tracker, const struct strand_go_site_event *ev);

/* Why pid's goroutines cannot be read (GO_UNSUPPORTED), or what was distrusted; NULL if
 * nothing. Valid until the process is forgotten. */
const char *go_tracker__problem(struct go_tracker *t, pid_t pid);

/* Groups of the last scan, stranded first, most goroutines first; valid until the next. */
const struct go_group *go_tracker__groups(struct go_tracker *t, size_t *n);
uint64_t go_tracker__stranded(struct go_tracker *t);
/* Goroutines of all traced Go processes, and how many list entries failed validation. */
void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid, int *processes);

/* What strand knows of one Go process's runtime. */
struct go_runtime_info {
	pid_t pid;
	const struct go_layout *layout; /* NULL when not readable */
	const char *problem;
	bool probes; /* the runtime probes are attached */
};
size_t go_tracker__runtimes(struct go_tracker *t, struct go_runtime_info *out, size_t max);

void go_tracker__text(struct go_tracker *t, FILE *f);
void go_tracker__json(struct go_tracker *t, struct json *j);

#endif /* STRAND_GOROUTINES_H */
