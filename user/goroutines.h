/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Goroutines of traced Go processes, snapshot level: at every scan the runtime's goroutine
 * list is read from the target's memory and grouped by (creation site, start function,
 * state, wait reason). How long a goroutine has waited is what strand saw: the runtime's
 * own g.waitsince is only set when a GC ran during the wait.
 */
#ifndef STRAND_GOROUTINES_H
#define STRAND_GOROUTINES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "symbolize.h"

struct json;

struct go_group {
	pid_t pid;
	bool runtime;  /* the runtime's own goroutines (GC workers, finalizers, ...) */
	bool stranded; /* provably forever: select (no cases), a nil channel */
	char state[40];
	struct sym_frame created_at; /* the `go` statement */
	struct sym_frame start;	     /* the goroutine's function */
	uint64_t count;
	double oldest_wait_s; /* seen by strand: since the first scan that saw it waiting so */
	uint64_t goids[8];
	int ngoids;
};

struct go_tracker;

struct go_tracker *go_tracker__new(struct symbolizer *sym);
void go_tracker__free(struct go_tracker *t);

enum go_scan_result {
	GO_NOT_GO,	/* not a Go program */
	GO_TRACKED,	/* goroutines read */
	GO_UNSUPPORTED, /* a Go program whose runtime layout strand cannot read */
};

/* Reads pid's goroutines if it is a Go program (tried once per exec). */
enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now_ns);
/* The process exec'd or exited. */
void go_tracker__forget(struct go_tracker *t, pid_t pid);

/* Why pid's goroutines cannot be read (GO_UNSUPPORTED), or what was distrusted; NULL if
 * nothing. Valid until the process is forgotten. */
const char *go_tracker__problem(struct go_tracker *t, pid_t pid);

/* Groups of the last scans, most goroutines first; valid until the next scan. */
const struct go_group *go_tracker__groups(struct go_tracker *t, size_t *n);
uint64_t go_tracker__stranded(struct go_tracker *t);
/* Goroutines of all traced Go processes, and how many list entries failed validation. */
void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid, int *processes);

void go_tracker__text(struct go_tracker *t, FILE *f);
void go_tracker__json(struct go_tracker *t, struct json *j);

#endif /* STRAND_GOROUTINES_H */
