/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Snapshots of a Go process's goroutines, read from the runtime's own list (runtime.allgs)
 * in the target's memory: no probe, no cost to the target. Each goroutine's id, status,
 * wait reason, creation pc (the `go` statement) and start function.
 */
#ifndef STRAND_GOSNAP_H
#define STRAND_GOSNAP_H

#include <stdint.h>
#include <sys/types.h>

#include "golayout.h"

struct go_g {
	uint64_t goid, gopc, startpc, parent_goid;
	uint32_t status, waitreason;
	uint64_t sched_sp, sched_pc, sched_bp;
};

struct go_snapshot {
	struct go_g *g; /* live goroutines (dead ones, kept by the runtime for reuse, left out) */
	size_t n, cap;
	uint64_t listed;  /* entries in allgs */
	uint64_t invalid; /* entries that failed validation (unreadable, bad status, ...) */
};

struct go_process {
	pid_t pid;
	struct go_layout layout;
	uint64_t bias; /* load bias of the executable (PIE), 0 otherwise */
};

/* Recognizes pid as a Go program whose runtime layout is known; -ENODATA when its binary
 * has no DWARF (stripped), -ENOEXEC when it is not Go. */
int go_process__open(pid_t pid, struct go_process *gp);

/* Reads the goroutine list now. Returns 0 or -errno (-ESRCH: the process is gone). */
int go_process__snapshot(struct go_process *gp, struct go_snapshot *snap);

void go_snapshot__free(struct go_snapshot *snap);

#endif /* STRAND_GOSNAP_H */
