/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Loading strand's BPF programs: probing what the kernel offers, sizing maps, setting the
 * configuration, attaching tracepoints and uprobes, and the map operations user space does
 * while tracing. Every failure comes back as an exit code with its message already said.
 */
#ifndef STRAND_LOADER_H
#define STRAND_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "probes/taskiter.h"
#include "strand.h"

struct loader_opts {
	bool trace_all;
	pid_t only_pid;		 /* -p: the task iterator visits this process only */
	uint64_t stack_after_ns; /* waits this old get their user stack copied */
	uint32_t ringbuf_bytes;
	bool go_probes;	    /* load the goroutine probes (attached per Go process) */
	bool hold_at_exit;  /* load the exit hold (attached per process) */
	uint32_t go_states; /* goroutines whose park times are kept; 0: default */
	bool scan_halves;   /* load the task scan's two halves (loader__scan_tasks) */
	bool verbose;
};

struct loader;

/* Opens, loads and attaches; returns NULL with *exit_code set and the reason said. */
struct loader *loader__start(const struct loader_opts *opts, int *exit_code);
void loader__stop(struct loader *ld);

int loader__add_target(struct loader *ld, pid_t pid, uint32_t flags);
int loader__remove_target(struct loader *ld, pid_t pid);

/* pthread_create uprobe on the C library mapped in pid (pid -1: strand's own C library,
 * for every traced process), where that library does not publish where a thread keeps its
 * start routine (glibc does: nothing is attached then, the clone reads it). Failure is a
 * warning: start routines are then unknown. */
int loader__attach_pthread_probe(struct loader *ld, pid_t pid);

/* Runs the task iterator over the traced processes: every thread, its state, and for the
 * blocked ones the wait's syscall, age and (once per long wait) user stack. Returns the
 * number of records or a negative errno. With halves (many threads to read) and a second
 * CPU, the kernel's work is split between two iterators read side by side. */
int loader__scan_tasks(struct loader *ld, bool halves, task_record_fn fn, void *ctx);
/* The scans read in two halves so far. */
uint64_t loader__scans_in_halves(const struct loader *ld);

/* Lists the user threads running now, of pid (0: of every process but strand), in brief,
 * whether traced or not. Returns how many, -ESRCH for a pid with none, or a negative
 * errno. */
int loader__list_tasks(struct loader *ld, pid_t pid, task_brief_fn fn, void *ctx);

int loader__ringbuf_fd(struct loader *ld);
int loader__set_site_slots(struct loader *ld, uint64_t coarse_key,
			   const struct strand_site_slots *slots);
int loader__site_slots(struct loader *ld, uint64_t coarse_key, struct strand_site_slots *slots);
int loader__set_clone_site(struct loader *ld, uint64_t clone_key,
			   const struct strand_clone_site *site);
int loader__clone_site(struct loader *ld, uint64_t clone_key, struct strand_clone_site *site);
/* pid runs CPython: where its spawners' Python frames are read at the clone; NULL layout:
 * it runs no more (it exited or exec'd), the entry goes. */
int loader__set_python(struct loader *ld, pid_t pid, const struct strand_python_layout *layout);
void loader__read_counters(struct loader *ld, uint64_t out[STRAND_CNT__MAX]);

enum go_probe {
	GO_PROBE_CREATE,
	GO_PROBE_EXIT,
	GO_PROBE_PARK,
	GO_PROBE_READY,
	GO_PROBES,
};

/* Attaches the goroutine probes to pid at the given file offsets in exe (0: that probe is
 * left out), cfg telling them where runtime.g's fields are. -ENOTSUP: probes not loaded. */
/* Holds pid when it calls its exit function, at offset in the file path (targets with
 * STRAND_TARGET_HOLD_AT_EXIT only): 0, -ENOTSUP (no exit hold loaded) or -errno. Once per
 * process; detached with the process. */
int loader__attach_exit_hold(struct loader *ld, pid_t pid, const char *path, uint64_t offset,
			     enum strand_exit_abi abi);
void loader__detach_exit_hold(struct loader *ld, pid_t pid);
/* The exit hold on the _exit of the C library pid maps (0: strand's own), for all its
 * users: what a process of C leaves when it exits (targets with STRAND_TARGET_HOLD_AT_EXIT
 * and more than one thread only). Once per library file. 0, -ENOTSUP or -errno. */
int loader__attach_libc_exit_hold(struct loader *ld, pid_t pid);

int loader__attach_go(struct loader *ld, pid_t pid, const char *exe,
		      const struct strand_go_config *cfg, const uint64_t offsets[GO_PROBES]);
void loader__detach_go(struct loader *ld, pid_t pid);
/* Removes pid's goroutine probes only, keeping what they recorded (their budget was spent):
 * loader__attach_go arms them again. */
void loader__unlink_go(struct loader *ld, pid_t pid);
/* pid's create and exit probes may hit limit times per window_ns; past it the collector is
 * told (STRAND_EV_GO_OVER_BUDGET), once until this is called again. */
int loader__set_go_budget(struct loader *ld, pid_t pid, uint32_t limit, uint64_t window_ns);
/* The budget of pid as the kernel keeps it (tripped: spent, told once). */
int loader__go_budget(struct loader *ld, pid_t pid, struct strand_go_budget *out);
/* What one trap of a goroutine probe costs, in ns: a probe like them on a function of
 * strand's own, timed. -errno when it cannot be measured. */
int loader__uprobe_cost(struct loader *ld, double *ns);
/* The m.curg offset pid's create probe learned (strand.h), -ENOENT when none yet. */
int loader__go_learned_curg(struct loader *ld, pid_t pid, int32_t *off);
/* New offsets for pid's probes (a field proved after they attached). */
int loader__update_go_config(struct loader *ld, pid_t pid, const struct strand_go_config *cfg);
/* What the probes know of goroutine goid / spawn site gopc of pid; -ENOENT. */
int loader__go_state(struct loader *ld, pid_t pid, uint64_t goid, struct strand_go_state *st);
int loader__go_site(struct loader *ld, pid_t pid, uint64_t gopc, struct strand_go_site *site);
/* Goroutines spawned at gopc from caller; site (NULL: not read) holds the first caller's. */
int loader__go_caller(struct loader *ld, pid_t pid, const struct strand_go_site *site,
		      uint64_t gopc, uint64_t caller, uint64_t *spawned);

/* Self-observation (the daemon's metrics). */
/* Asks the kernel to count the BPF programs' run time (until loader__stop); 0 or -errno. */
int loader__enable_stats(struct loader *ld);
/* Each loaded program's name, run count and run time (zero unless stats are enabled). */
typedef void (*prog_stats_fn)(void *ctx, const char *prog, uint64_t runs, uint64_t run_ns);
void loader__prog_stats(struct loader *ld, prog_stats_fn fn, void *ctx);
/* Each map's name, entries in use (hash maps; -1 for arrays and the ring buffer) and size. */
typedef void (*map_stats_fn)(void *ctx, const char *map, int64_t entries, uint32_t max);
void loader__map_stats(struct loader *ld, map_stats_fn fn, void *ctx);

#endif /* STRAND_LOADER_H */
