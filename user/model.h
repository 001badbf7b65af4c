/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The state model: traced processes, their live tasks, and the spawn sites that created
 * them. Fed by the collector, read by the reports. One spawn site is one (process, start
 * routine, symbolized call path); kernel-side keys are aliases that point at it.
 */
#ifndef STRAND_MODEL_H
#define STRAND_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hashmap.h"
#include "symbolize.h"

enum task_kind {
	TASK_THREAD,
	TASK_PROCESS, /* a followed child process */
};

const char *task_kind__name(enum task_kind kind);

struct site {
	uint32_t id; /* stable within one trace, printed as "s<id>" */
	pid_t pid;
	enum task_kind kind;
	bool before_attach; /* the pseudo-site of tasks that predate the trace */
	bool unresolved;    /* spawns whose stack could not be had */
	uint64_t start_routine;
	struct sym_frame start_frame; /* valid when start_routine != 0 */
	struct sym_frame *stack;      /* symbolized spawn stack, innermost first */
	int depth;
	bool truncated;
	uint64_t spawned, exited, live, peak_live;
	uint64_t first_ns, last_ns; /* first and last spawn, monotonic */
	struct hashmap children;    /* parent tid -> children spawned here (as pointer) */
	uint64_t max_children;
	uint32_t parents;
};

struct task {
	pid_t tid, pid, parent_tid;
	enum task_kind kind;
	struct site *site;
	uint64_t birth_ns; /* monotonic; for tasks before attach, derived from /proc */
	bool before_attach;
	char name[16];
};

struct process {
	pid_t pid;
	char comm[16];
	bool exited;
	int exit_code; /* as wait(2) encodes it */
	struct site *before_site;
};

struct model_drops {
	uint64_t unknown_exits;	    /* exits of tasks never seen alive */
	uint64_t coarse_attributed; /* spawns attributed by coarse key (no exact path) */
	uint64_t unwind_failures;   /* stack samples that could not be unwound */
	uint64_t unresolved_spawns; /* spawns with no stack at all */
	uint64_t task_limit;	    /* tasks not tracked: limit reached */
};

struct model {
	struct hashmap tasks;	     /* tid -> task */
	struct hashmap site_by_key;  /* hash(pid, kernel key) -> site */
	struct hashmap site_by_path; /* hash(pid, start routine, pcs) -> site */
	struct hashmap procs;	     /* pid -> process */
	struct site **sites;
	size_t nsites, sites_cap;
	uint64_t spawned, exited, before_attach;
	uint64_t start_ns, end_ns; /* monotonic bounds of the trace */
	size_t max_tasks;
	struct model_drops drops;
};

void model__init(struct model *m, size_t max_tasks);
void model__free(struct model *m);

struct process *model__process(struct model *m, pid_t pid, const char *comm);
struct process *model__find_process(struct model *m, pid_t pid);

/* A task alive when the trace began. */
void model__add_existing(struct model *m, pid_t pid, pid_t tid, const char *name,
			 uint64_t birth_ns);

struct site *model__site_by_key(struct model *m, pid_t pid, uint64_t key);
void model__alias_key(struct model *m, pid_t pid, uint64_t key, struct site *site);

/*
 * The site with this call path, created (taking ownership of stack) if it is new; *is_new
 * says which. The pcs identify the path; frames are its symbolized form.
 */
struct site *model__site_by_path(struct model *m, pid_t pid, enum task_kind kind,
				 uint64_t start_routine, const uint64_t *pcs, int npcs,
				 bool *is_new);
/* The site that collects spawns from pid whose stack is unknown. */
struct site *model__unresolved_site(struct model *m, pid_t pid, enum task_kind kind);

void model__spawn(struct model *m, struct site *site, pid_t pid, pid_t tid, pid_t parent_tid,
		  uint64_t ts_ns);
/* A task exited; exits of tasks never seen alive are counted in drops. */
void model__exit(struct model *m, pid_t tid, uint64_t ts_ns);
void model__process_exit(struct model *m, pid_t pid, int exit_code);

/* Sites sorted for reports: most live first, then most spawned. Caller frees the array. */
struct site **model__sorted_sites(struct model *m, size_t *n);
/* Live tasks sorted by pid, tid. Caller frees the array. */
struct task **model__sorted_tasks(struct model *m, size_t *n);

#endif /* STRAND_MODEL_H */
