/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A trace as a profile: tasks (threads and goroutines) as samples over their stacks, the
 * form every flame-style output takes (folded stacks, the SVG flame graph, pprof,
 * speedscope). Built from a report document (report_doc.h), live or read back from a
 * recording, so every format of one trace says the same thing.
 */
#ifndef STRAND_PROFILE_H
#define STRAND_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One frame. Strings are owned by whoever built the profile and outlive it. */
struct prof_frame {
	const char *function; /* NULL: unknown (then module and address say where) */
	const char *file;     /* NULL: unknown */
	int line;	      /* 0: unknown */
	const char *module;   /* the ELF file, NULL when unknown */
	uint64_t address;     /* in the process, 0 when not known */
	bool inlined;	      /* inlined into the next frame towards the root */
};

/* Why the tasks of a sample are where they are: the flame graph's colours. */
enum prof_class {
	PROF_RUNNING,  /* running or runnable, or blocked for less than the threshold */
	PROF_BLOCKED,  /* blocked past the threshold, no verdict */
	PROF_IDLE,     /* blocked long, healthy */
	PROF_STRANDED, /* stranded or deadlocked */
	PROF_RUNAWAY,  /* at a runaway spawn site, and not stranded */
	PROF_CLASSES,
};

const char *prof_class__name(enum prof_class c);

/* Which stack a sample's frames are. */
enum prof_view {
	PROF_VIEW_SPAWN,    /* the spawner's stack: where the tasks came from */
	PROF_VIEW_WAIT,	    /* where they wait (or run) now */
	PROF_VIEW_COMBINED, /* the spawn stack, then the task's start, then its wait stack on
			     * top: like Go's "created by" under a goroutine's stack */
};

/* "spawn", "wait" or "combined" to its view; -EINVAL for another name. */
int prof_view__parse(const char *name, enum prof_view *out);

/* Some tasks with the same stack, kind and state. */
struct prof_sample {
	const struct prof_frame *const *frames; /* root (outermost) first */
	int depth;
	uint64_t tasks;	     /* how many */
	uint64_t blocked_ns; /* the sum of their waits (0 when not blocked) */
	enum prof_class class;
	/* labels (NULL: none) */
	const char *kind;	 /* "thread", "goroutine" */
	const char *verdict;	 /* "stranded", "deadlock", "idle", NULL */
	const char *wait_reason; /* "chan send", "pthread_mutex_lock", ... */
	const char *site;	 /* the spawn site's id ("s3", "g7") */
	int pid;
};

/* A live count over time, for the timeline (one per top site). */
struct prof_series {
	const char *name;  /* "g9 main.(*server).handleWebhook (leaky_api.go:41)" */
	double seconds;	   /* the span of the samples */
	const uint32_t *v; /* live tasks, oldest first */
	uint32_t n;
};

struct profile {
	const char *title;	 /* "strand: pid 4242 (leaky_api), 5.0 s" */
	const char *subtitle;	 /* what was traced, when: free text */
	const char *main_module; /* the traced program's file (pprof's main mapping), or NULL */
	enum prof_view view;
	struct prof_sample *samples;
	size_t n;
	struct prof_series *series;
	size_t nseries;
	double duration_s;	       /* of the trace */
	uint64_t start_unix_ns;	       /* when it began (wall clock), 0: unknown */
	uint64_t threshold_ns;	       /* what blocked long meant */
	uint64_t totals[PROF_CLASSES]; /* tasks per class, for the legend */
	/* what the builder allocated (frames, names), freed with the profile */
	void **owned;
	size_t nowned;
};

/* folded stacks: "frame;frame;frame count" per line (flamegraph.pl, speedscope), root first;
 * frames as "function (file:line)" or "module+0xoff"; the count is tasks. */
int profile__folded(const struct profile *p, FILE *f);
/* The self-contained interactive SVG flame graph (flamegraph.c). */
int profile__svg(const struct profile *p, FILE *f);
/* gzipped pprof protobuf (pprof.c): sample types tasks/count and blocked/nanoseconds,
 * labels kind, verdict, wait_reason, site, pid. */
int profile__pprof(const struct profile *p, FILE *f);
/* speedscope's JSON file format (a "sampled" profile per view, weights = tasks). */
int profile__speedscope(const struct profile *p, FILE *f);

/* A frame as one line of text: "function (file.c:41)", "function [module]", "0x... [?]". */
void prof_frame__format(const struct prof_frame *fr, char *buf, size_t size);

#endif /* STRAND_PROFILE_H */
