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

#include "go/golayout.h"
#include "go/golist.h"
#include "lib/hashmap.h"

/* One a live goroutine, a million of them at times: the runtime's own widths, no wider. */
struct go_g {
	uint64_t g; /* the runtime.g's address in the target */
	uint64_t goid, gopc, startpc, parent_goid;
	int64_t waitsince; /* the runtime's nanotime when a GC first saw it blocked; 0: none */
	uint64_t sched_sp, sched_pc, sched_bp;
	uint64_t stack_lo, stack_hi; /* the goroutine's stack: [lo, hi) */
	uint64_t waiting;	     /* g.waiting: its first sudog while in a channel wait */
	/* its index in allgs, which only grows: the same g at every snapshot, and snapshots
	 * list theirs in this order */
	uint32_t slot;
	uint16_t status;      /* g.atomicstatus: GO_SCAN (0x1000) and a state */
	uint8_t waitreason;   /* g.waitReason */
	uint8_t tracking_seq; /* g.trackingSeq; 0 when the layout does not know it */
};

struct go_snapshot {
	struct go_g *g; /* live goroutines (dead ones, kept by the runtime for reuse, left out) */
	size_t n, cap;
	uint64_t listed;  /* entries in allgs */
	uint64_t invalid; /* entries that failed validation (unreadable, bad status, ...) */
	/* live goroutines past the process's max_goroutines: counted by spawn site only */
	uint64_t untracked;
	struct hashmap untracked_gopc; /* gopc -> how many of them */
	/* asked for (want_all) while the threads' layer is proved: every g listed, dead ones
	 * too, and the g.m of those running or in a system call, read with the rest rather
	 * than in a pass of its own; the caller takes it (NULL: not asked, or it failed) */
	bool want_all;
	struct gom_gs *all;
};

/* From this many goroutines listed a snapshot is large: its new room is faulted in ahead by
 * the helper (prefault.h; what the live ones did not fill is let go again after), and it is
 * read in two halves side by side where strand may use two CPUs (and no limit on the
 * goroutines kept makes one half wait on the other's count). */
#define GO_LARGE_SNAPSHOT 65536

struct go_process {
	pid_t pid;
	struct go_layout layout;
	uint64_t bias;	       /* load bias of the executable (PIE), 0 otherwise */
	char problem[128];     /* why the layout could not be had, or why DWARF was not trusted */
	size_t max_goroutines; /* snapshots keep at most this many; 0: no limit */
};

struct gopclntab;
struct gom_gs;

/*
 * Recognizes pid as a Go program and finds its runtime layout: from DWARF, checked against
 * the process, or inferred from the process with the binary's .gopclntab (pcln, may be
 * NULL) when there is no DWARF or it does not fit. Returns 0, -ENODATA (layout not found,
 * gp->problem says why; it may be found later, once the runtime has started), -ENOEXEC
 * when it is not Go, or -errno.
 */
int go_process__open(pid_t pid, struct gopclntab *pcln, struct go_process *gp);

/* How many gs pid's runtime lists (allglen, dead ones too), before any layout is read: from
 * the symbol table, so -ENOENT for a stripped binary; 0 or a negative errno. */
int go_process__listed(pid_t pid, uint64_t *n);

/* Reads the goroutine list now. Returns 0 or -errno (-ESRCH: the process is gone). */
int go_process__snapshot(struct go_process *gp, struct go_snapshot *snap);

void go_snapshot__free(struct go_snapshot *snap);

#endif /* STRAND_GOSNAP_H */
