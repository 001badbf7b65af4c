// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gosnap.h"
#include "go/gocode.h"
#include "go/goinfer.h"
#include "go/gominfer.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "sym/elfsym.h"
#include "sym/procmaps.h"
#include "sys/procfs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct exe_search {
	const char *exe;
	uint64_t start;
	bool found;
};

static int note_exe(void *ctx, const struct map_line *ml)
{
	struct exe_search *s = ctx;

	s->found = ml->path && !ml->offset && !strcmp(ml->path, s->exe);
	s->start = ml->start;
	return s->found;
}

/* Where the executable is mapped: the mapping of /proc/PID/exe's file at offset 0. */
static int exe_map_start(pid_t pid, uint64_t *start)
{
	char path[64], exe[PATH_MAX];
	struct exe_search s = {exe, 0, false};
	ssize_t n;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if ((err = procmaps__each_file(pid, note_exe, &s)))
		return err;
	*start = s.start;
	return s.found ? 0 : -ENOENT;
}

/* Where pid's executable is loaded relative to its link-time addresses. */
static int exe_bias(pid_t pid, uint64_t *bias)
{
	char exe[64];
	uint64_t vaddr = 0, start = 0;
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	err = elfsym__load_vaddr(exe, &vaddr);
	if (!err)
		err = exe_map_start(pid, &start);
	if (!err)
		*bias = start - vaddr;
	return err;
}

int go_process__listed(pid_t pid, uint64_t *n)
{
	char exe[64];
	uint64_t allglen = 0, bias = 0;
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	err = elfsym__variable_address(exe, "runtime.allglen", &allglen);
	if (!err)
		err = exe_bias(pid, &bias);
	if (!err)
		err = procfs__read_mem(pid, allglen + bias, n, sizeof(*n));
	return err;
}

/* Without DWARF, or with DWARF that does not fit the process: the runtime's variables from
 * its code, the g offsets proved against the goroutines it holds. */
static int infer_layout(struct go_process *gp, struct gopclntab *pcln)
{
	struct go_layout *l = &gp->layout;
	char why[64] = "";
	int err = 0;

	if (!l->allgs)
		err = gocode__find_runtime(gp->pid, gp->bias, pcln, l);
	if (!err)
		err = goinfer__layout(gp->pid, gp->bias, pcln, l, why, sizeof(why));
	if (err == -ENODATA)
		snprintf(gp->problem, sizeof(gp->problem), "%s%s",
			 l->allgs ? "no field of runtime.g holds what it should: "
				  : "runtime.allgs not found in the code",
			 why);
	return err;
}

int go_process__open(pid_t pid, struct gopclntab *pcln, struct go_process *gp)
{
	char exe[64], why[64] = "";
	int err;

	memset(gp, 0, sizeof(*gp));
	gp->pid = pid;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	err = exe_bias(pid, &gp->bias);
	if (err)
		return err;
	err = golayout__from_dwarf(exe, &gp->layout);
	if (err && err != -ENODATA)
		return err;
	if (!err && pcln) {
		int bad = goinfer__check(pid, gp->bias, pcln, &gp->layout, why, sizeof(why));

		/* nothing to check it on yet (the runtime has not started its goroutines): a
		 * later scan tries again */
		if (bad && bad != -EBADMSG) {
			snprintf(gp->problem, sizeof(gp->problem), "%s",
				 bad == -ENODATA ? "the runtime has no goroutines yet"
						 : strerror(-bad));
			return bad == -ESRCH ? bad : -ENODATA;
		}
		if (bad) {
			snprintf(gp->problem, sizeof(gp->problem),
				 "runtime.g.%s from DWARF does not hold what it should", why);
			err = -ENODATA;
		}
	}
	if (err && pcln) {
		struct go_layout dwarf = gp->layout;

		golayout__init(&gp->layout);
		gp->layout.allgs = dwarf.allgs;
		gp->layout.allglen = dwarf.allglen;
		gp->layout.nwait_reasons = dwarf.nwait_reasons;
		memcpy(gp->layout.wait_reasons, dwarf.wait_reasons, sizeof(dwarf.wait_reasons));
		err = infer_layout(gp, pcln);
	}
	/* no build info (esbuild's binaries have none): the runtime's own string */
	if (gocode__version(exe, gp->layout.version, sizeof(gp->layout.version)) && pcln)
		gocode__runtime_version(pid, gp->bias, pcln, gp->layout.version,
					sizeof(gp->layout.version));
	return err;
}

#define SNAPSHOT_CHUNK 4096 /* goroutines read together: 1-2 MiB of their g structs */

/* The bytes of a g the snapshot reads: up to the last field it keeps, not the whole g. */
static size_t snapshot_window(const struct go_layout *l)
{
	const struct {
		int32_t off;
		size_t width;
	} used[] = {{l->atomicstatus, 4}, {l->goid, 8},		{l->waitreason, 1},
		    {l->waitsince, 8},	  {l->tracking_seq, 1}, {l->gopc, 8},
		    {l->startpc, 8},	  {l->parent_goid, 8},	{l->sched_sp, 8},
		    {l->sched_pc, 8},	  {l->sched_bp, 8},	{l->stack_lo, 8},
		    {l->stack_hi, 8},	  {l->g_waiting, 8},	{l->g_m, 8}};
	size_t end = 8;

	for (size_t i = 0; i < ARRAY_SIZE(used); i++)
		if (used[i].off >= 0 && (size_t)used[i].off + used[i].width > end)
			end = (size_t)used[i].off + used[i].width;
	return end < l->g_size ? end : l->g_size;
}

/* A part of allgs read: the live goroutines of rows [from, to), written to out. */
struct snap_part {
	const struct go_process *gp;
	struct go_gs gs; /* its own chunk of rows */
	size_t from, to;
	struct go_g *out;
	size_t n; /* written */
	uint64_t invalid;
	struct gom_gs *all; /* every g, for the M layer (NULL: not asked) */
	/* past keep live goroutines (the process's limit), counted by site only */
	size_t keep;
	struct hashmap *untracked_gopc;
	uint64_t untracked;
};

static void *read_part(void *arg)
{
	struct snap_part *p = arg;
	const struct go_layout *l = &p->gp->layout;
	struct go_gs *gs = &p->gs;

	for (size_t i = p->from; i < p->to; i++) {
		struct go_g *out;
		uint32_t status;

		if ((i - p->from) % SNAPSHOT_CHUNK == 0) /* the gs' bytes a chunk at a time */
			go_gs__read_rows(p->gp->pid, gs, i,
					 p->to - i < SNAPSHOT_CHUNK ? p->to - i : SNAPSHOT_CHUNK);
		status = (uint32_t)go_gs__word(gs, i, l->atomicstatus, 4);
		if (p->all)
			gom_gs__add(p->all, go_gs__ptr(gs, i), go_gs__word(gs, i, l->g_m, 8),
				    status);

		if ((status & ~(uint32_t)GO_SCAN) > GO_DEAD_EXTRA || !go_gs__ptr(gs, i) ||
		    !go_gs__word(gs, i, l->goid, 8)) {
			p->invalid++;
			continue;
		}
		/* a cgo extra M's goroutine (Go >= 1.26) is as dead as a free one until a C
		 * thread calls into Go */
		if ((status & ~(uint32_t)GO_SCAN) == GO_DEAD ||
		    (status & ~(uint32_t)GO_SCAN) == GO_DEAD_EXTRA)
			continue;
		if (p->n == p->keep) { /* the limit: its site counts it, nothing else is kept */
			uint64_t gopc = go_gs__word(gs, i, l->gopc, 8);
			uintptr_t c = (uintptr_t)hashmap__get(p->untracked_gopc, gopc);

			hashmap__set(p->untracked_gopc, gopc, (void *)(c + 1));
			p->untracked++;
			continue;
		}
		out = &p->out[p->n];
		out->g = go_gs__ptr(gs, i);
		out->slot = (uint32_t)i;
		out->goid = go_gs__word(gs, i, l->goid, 8);
		out->status = (uint16_t)status;
		out->waitreason = (uint8_t)go_gs__word(gs, i, l->waitreason, 1);
		out->waitsince = (int64_t)go_gs__word(gs, i, l->waitsince, 8);
		out->tracking_seq = (uint8_t)go_gs__word(gs, i, l->tracking_seq, 1);
		out->gopc = go_gs__word(gs, i, l->gopc, 8);
		out->startpc = go_gs__word(gs, i, l->startpc, 8);
		out->parent_goid = go_gs__word(gs, i, l->parent_goid, 8);
		out->sched_sp = go_gs__word(gs, i, l->sched_sp, 8);
		out->sched_pc = go_gs__word(gs, i, l->sched_pc, 8);
		out->sched_bp = go_gs__word(gs, i, l->sched_bp, 8);
		out->stack_lo = go_gs__word(gs, i, l->stack_lo, 8);
		out->stack_hi = go_gs__word(gs, i, l->stack_hi, 8);
		out->waiting = go_gs__word(gs, i, l->g_waiting, 8);
		p->n++;
	}
	return NULL;
}

/* Reads allgs in two halves side by side (rows [half, n) into the room their own rows have
 * in snap->g), then closes the gap between the two. */
static void read_halves(struct snap_part *a)
{
	struct snap_part parts[2] = {*a, *a};
	struct snap_part *b = &parts[1];
	size_t half = a->to / 2;

	memset(&b->gs, 0, sizeof(b->gs)); /* the list's place and length, its own chunk */
	b->gs.list_at = a->gs.list_at;
	b->gs.n = a->gs.n;
	b->gs.listed = a->gs.listed;
	b->gs.window = a->gs.window;
	b->from = half;
	b->out = a->out + half;
	if (a->all) { /* the second half's gs go straight into their room of the index */
		b->all = xcalloc(1, sizeof(*b->all));
		b->all->all = key_index__view(&a->all->all, half, a->to - half);
	}
	parts[0].to = half;
	side_by_side(read_part, parts, sizeof(parts[0]), 2);
	*a = parts[0];
	/* the slots' order kept: the first half's goroutines, then the second's */
	if (a->n < half)
		memmove(a->out + a->n, b->out, b->n * sizeof(*b->out));
	a->n += b->n;
	a->invalid += b->invalid;
	if (b->all) {
		gom_gs__join(a->all, b->all);
		gom_gs__free(b->all);
	}
	go_gs__free(&b->gs);
}

int go_process__snapshot(struct go_process *gp, struct go_snapshot *snap)
{
	const struct go_layout *l = &gp->layout;
	struct go_gs gs;
	int err = go_gs__open_list(gp->pid, l->allgs + gp->bias, l->allglen + gp->bias,
				   snapshot_window(l), &gs);

	size_t keep = gp->max_goroutines && gp->max_goroutines < gs.n ? gp->max_goroutines : gs.n;
	bool prefaulted = false;
	struct snap_part part;

	/* a process gone (or unreadable for now) leaves its last snapshot as it was */
	if (err) {
		go_gs__free(&gs);
		return err;
	}
	snap->n = 0;
	snap->listed = gs.listed;
	/* one the caller has not taken is not written past its end */
	gom_gs__free(snap->all);
	snap->all = NULL;
	if (snap->want_all) {
		snap->all = xcalloc(1, sizeof(*snap->all));
		key_index__reset(&snap->all->all, gs.n);
	}
	hashmap__free(&snap->untracked_gopc);
	hashmap__init(&snap->untracked_gopc);
	/* room for every g listed, at once: no copy as it grows (a large block is a mapping
	 * of its own, and only the pages written to are memory) */
	if (keep > snap->cap) {
		snap->g =
			big_realloc(snap->g, snap->cap * sizeof(*snap->g), keep * sizeof(*snap->g));
		if (keep >= GO_LARGE_SNAPSHOT)
			prefaulted = prefault(snap->g + snap->cap,
					      (keep - snap->cap) * sizeof(*snap->g));
		snap->cap = keep;
	}
	part = (struct snap_part){.gp = gp,
				  .gs = gs,
				  .from = 0,
				  .to = gs.n,
				  .out = snap->g,
				  .all = snap->all,
				  .keep = keep,
				  .untracked_gopc = &snap->untracked_gopc};
	if (keep == gs.n && gs.n >= GO_LARGE_SNAPSHOT && cpus_usable() > 1)
		read_halves(&part);
	else
		read_part(&part);
	snap->n = part.n;
	snap->invalid = part.invalid + gs.listed - gs.n;
	snap->untracked = part.untracked;
	go_gs__free(&part.gs);
	/* allgs holds dead goroutines too (it never shrinks): the room they did not take is
	 * not kept as memory */
	if (prefaulted)
		unfault((uint8_t *)(snap->g + snap->n), (snap->cap - snap->n) * sizeof(*snap->g));
	return err;
}

void go_snapshot__free(struct go_snapshot *snap)
{
	big_free(snap->g, snap->cap * sizeof(*snap->g));
	gom_gs__free(snap->all);
	hashmap__free(&snap->untracked_gopc);
	memset(snap, 0, sizeof(*snap));
}
