/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracing engine both commands run: the BPF programs loaded, the ring buffer read into
 * the model, the waits scanned and judged, the goroutines of Go processes tracked. `strand
 * trace` drives it for one trace and a report; `strand daemon` forever, forgetting the
 * processes that are gone.
 */
#ifndef STRAND_ENGINE_H
#define STRAND_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/model.h"
#include "lib/hashmap.h"

struct loader;

#define ENGINE_MAX_HELD 64 /* processes held on their way out at once; more go unread */
struct collector;
struct stacks;
struct wait_table;
struct detector;
struct go_tracker;
struct report;

/* The Go spawn probes' default budget, in % of one CPU per process. */
#define DEFAULT_OVERHEAD_PCT 1.0
/* strand's own scans of threads and goroutines: at most this much of one CPU, when one takes
 * more than SCAN_PACED_NS of it (a million goroutines: 0.8 s) */
#define SCAN_BUDGET_PCT 3
#define SCAN_PACED_NS	100000000ULL

struct engine_opts {
	bool all;	      /* every process on the machine (else: the targets added) */
	pid_t only_pid;	      /* -p: scans visit this process only */
	int64_t threshold_ns; /* blocked this long: a stranded candidate */
	uint32_t max_tasks, runaway;
	uint32_t max_goroutines; /* per process, kept in full; 0: no limit */
	bool go_probes, verbose;
	bool exact_waits;	/* Go waits timed by park/ready probes (else by the scans) */
	double overhead_pct;	/* the Go create/exit probes' budget per process, % of a CPU */
	uint32_t ringbuf_bytes; /* 0: the loader's default */
	uint32_t go_states;	/* goroutine state table's size; 0: the loader's default */
	bool scan_halves;	/* threads many enough to scan on two CPUs (loader_opts) */
	/* hold each traced process on its way out and read what it leaves (trace only: a
	 * guardian releases them should strand die); with exit_leaks, a goroutine left
	 * blocked then is a leak (goleak's semantics: the commands strand runs) */
	bool hold_at_exit, exit_leaks;
};

struct engine {
	struct engine_opts opts;
	struct loader *ld;
	struct stacks *stacks; /* unwinder and symbolizer, lent to the readers of stacks */
	struct collector *col;
	struct model model;
	struct wait_table *waits;
	struct detector *detector;
	struct go_tracker *go;
	struct guardian *guardian;  /* with hold_at_exit */
	struct hashmap exited_held; /* pids read on their way out (and let go) */
	struct {
		pid_t pid;
		int code;
	} held[ENGINE_MAX_HELD]; /* held on their way out, to read and let go */
	size_t nheld;
	bool is_go; /* some traced process is a Go program whose goroutines are read */
	/* scans every scan_every_ns, or further apart when one a second would cost more than
	 * SCAN_BUDGET_PCT of a CPU (a million goroutines): scan_gap_ns apart, the last one
	 * having taken scan_cpu_ns */
	uint64_t scan_every_ns, scan_gap_ns, scan_cpu_ns, next_scan_ns;
	uint64_t scans;
	char paced_note[192];
	uint64_t start_ns;
	double started_unix_s;
	/* told of each process that exits (after the engine forgot its runtime probes) */
	void (*on_exit)(void *ctx, pid_t pid, int exit_code);
	void *on_exit_ctx;
	/* told of the result of each Go scan of a process (enum go_scan_result) */
	void (*on_go_scan)(void *ctx, pid_t pid, int result);
	void *on_go_scan_ctx;
};

/* How far apart scans are: every_ns, or further apart when scans of cpu_ns each, more than
 * SCAN_PACED_NS, would cost more than SCAN_BUDGET_PCT of a CPU at one a second. */
uint64_t engine__scan_gap(uint64_t every_ns, uint64_t cpu_ns);

/* Loads and attaches everything; 0, or an exit code with the reason said. Nothing is traced
 * until targets are added. */
int engine__start(struct engine *e, const struct engine_opts *opts);
void engine__stop(struct engine *e);

/* The target flags a target is added with beyond STRAND_TARGET_TRACE (the exit hold), pid
 * made one of the trees the guardian releases should strand die holding them, and its exit
 * hold armed if it is a Go program. */
uint32_t engine__target_flags(struct engine *e, pid_t pid);

/* The threads alive in pid now (or in every process, pid 0), as tasks from before attach.
 * Negative when pid is gone. */
int engine__add_existing(struct engine *e, pid_t pid);

/* The processes descended from pid (a target following its forks) running now, traced with
 * flags, their threads added as tasks from before attach. Returns how many, or -errno. */
int engine__add_descendants(struct engine *e, pid_t pid, uint32_t flags);

/* Reads the processes held on their way out since the last call, and lets them go (the
 * loop's every poll, scan and drain calls it). */
void engine__release_held(struct engine *e);
/* The events waiting in the ring buffer, then the processes they held. 0 or -errno. */
int engine__drain(struct engine *e);

/* Reads the ring buffer for at most ms, then scans the waits when a scan is due. 0 or
 * -errno. */
int engine__poll(struct engine *e, int ms);
/* Events first, so every thread the scan sees is known, then the scan and the verdicts.
 * 0, or -errno when the ring buffer cannot be read. */
int engine__scan(struct engine *e);

/* The judge step (judge.c), the scan's last: every wait verdict, threads' then goroutines'. */
void engine__judge(struct engine *e);
/* The report model as of now (report_model.h; final: the one at the end), its spawn sites
 * judged; frozen: the targets are gone, so the wait verdicts are those of the last scan, as
 * old as they are. report__release frees it. */
void engine__report(struct engine *e, struct report *r, bool final, bool frozen);
/* The judge's step for spawn sites (judge.c), on the report being built. */
void engine__judge_sites(struct engine *e, struct report *r);
/* Stranded or deadlocked threads, or stranded goroutines, at the last scan. */
bool engine__leaks_remain(struct engine *e);

#endif /* STRAND_ENGINE_H */
