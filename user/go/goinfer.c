// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/goinfer.h"
#include "go/gocode.h"
#include "go/golayout.h"
#include "go/golist.h"
#include "lib/util.h"
#include "sym/gopclntab.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFER_ROWS   8192 /* goroutines the offsets are proved on: evidence enough, 6 MB */
#define WINDOW	     768  /* bytes of each g searched: runtime.g is ~400-600 bytes */
#define CALL_SAMPLES 12	  /* creation pcs whose CALL is decoded per candidate offset */
#define MAX_GOID     (1ULL << 40)

/* The goroutine list and the runtime functions that identify some of its goroutines. */
struct evidence {
	pid_t pid;
	uint64_t bias;
	struct gopclntab *pcln;
	struct go_gs gs;
	uint64_t main_fn, forcegc_fn, newproc_fn, newcoro_fn, gopark_lo, gopark_hi;
	size_t main_row, forcegc_row; /* SIZE_MAX: not found */
};

/* Runtime goroutines that always exist and what they wait for when parked. */
static const struct {
	const char *function, *reason;
} known_waits[] = {
	{"runtime.forcegchelper", "force gc (idle)"},
	{"runtime.bgsweep", "GC sweep wait"},
	{"runtime.bgscavenge", "GC scavenge wait"},
};

static uint64_t word(const struct evidence *e, size_t row, int32_t off)
{
	return go_gs__word(&e->gs, row, off, 8);
}

static size_t row_running(const struct evidence *e, int32_t startpc, uint64_t fn)
{
	for (size_t i = 0; i < e->gs.n; i++)
		if (go_gs__ptr(&e->gs, i) && word(e, i, startpc) == fn + e->bias)
			return i;
	return SIZE_MAX;
}

/* How many goroutines hold a function entry at off: the start pc. */
static size_t startpc_score(const struct evidence *e, int32_t off)
{
	size_t hits = 0;

	for (size_t i = 0; i < e->gs.n; i++) {
		uint64_t v = word(e, i, off);

		hits += v > e->bias && gopclntab__is_entry(e->pcln, v - e->bias);
	}
	return hits;
}

/* Whether every sampled non-zero value at off returns from a CALL runtime.newproc, or from
 * one of runtime.newcoro (Go 1.23 on: iter.Pull's coroutine is a goroutine whose gopc is
 * there). */
static bool gopc_holds(const struct evidence *e, int32_t off)
{
	size_t nonzero = 0, checked = 0, step;

	for (size_t i = 0; i < e->gs.n; i++)
		nonzero += word(e, i, off) != 0;
	if (nonzero < e->gs.n / 2 || !nonzero)
		return false;
	step = nonzero / CALL_SAMPLES + 1;
	for (size_t i = 0, seen = 0; i < e->gs.n; i++) {
		uint64_t v = word(e, i, off);

		if (!v || seen++ % step)
			continue;
		if (v <= e->bias ||
		    (!gocode__is_call_to(e->pid, e->bias, v - e->bias, e->newproc_fn) &&
		     !(e->newcoro_fn &&
		       gocode__is_call_to(e->pid, e->bias, v - e->bias, e->newcoro_fn))))
			return false;
		checked++;
	}
	return checked > 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The main goroutine's id is 1 and ids are unique. */
static bool goid_holds(const struct evidence *e, int32_t off)
{
	uint64_t *ids = xcalloc(e->gs.n + 1, sizeof(*ids));
	size_t n = 0;
	bool ok = e->main_row != SIZE_MAX && word(e, e->main_row, off) == 1;

	for (size_t i = 0; ok && i < e->gs.n; i++) {
		uint64_t v = word(e, i, off);

		if (v >= MAX_GOID)
			ok = false;
		else if (v)
			ids[n++] = v;
	}
	if (ok && n >= e->gs.n / 2) {
		qsort(ids, n, sizeof(*ids), cmp_u64);
		for (size_t i = 1; i < n; i++)
			ok &= ids[i] != ids[i - 1];
	} else {
		ok = false;
	}
	free(ids);
	return ok;
}

static uint32_t status_at(const struct evidence *e, size_t row, int32_t off)
{
	return (uint32_t)go_gs__word(&e->gs, row, off, 4) & ~(uint32_t)GO_SCAN;
}

/* Every status is one Go has; the forced-GC helper is waiting, runnable or running. */
static bool status_holds(const struct evidence *e, int32_t off)
{
	bool some_waiting = false;

	for (size_t i = 0; i < e->gs.n; i++) {
		uint32_t s = status_at(e, i, off);

		if (s > GO_DEAD_EXTRA) /* the highest state, Go 1.26 */
			return false;
		some_waiting |= s == GO_WAITING;
	}
	if (e->forcegc_row != SIZE_MAX) {
		uint32_t s = status_at(e, e->forcegc_row, off);

		if (s != GO_WAITING && s != GO_RUNNABLE && s != GO_RUNNING)
			return false;
	}
	return some_waiting;
}

static int reason_index(const struct go_layout *l, const char *name)
{
	for (int i = 0; i < l->nwait_reasons; i++)
		if (!strcmp(l->wait_reasons[i], name))
			return i;
	return -1;
}

/* Waiting goroutines hold a known reason; the runtime's own ones the reason they park for. */
static bool waitreason_holds(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	int known = 0;

	for (size_t i = 0; i < e->gs.n; i++) {
		uint64_t r = go_gs__word(&e->gs, i, off, 1);

		if (status_at(e, i, l->atomicstatus) == GO_WAITING &&
		    (!r || r >= (uint64_t)l->nwait_reasons))
			return false;
	}
	for (size_t k = 0; k < ARRAY_SIZE(known_waits); k++) {
		uint64_t entry, end;
		size_t row;
		int want = reason_index(l, known_waits[k].reason);

		if (want < 0 ||
		    gopclntab__function(e->pcln, known_waits[k].function, &entry, &end) ||
		    (row = row_running(e, l->startpc, entry)) == SIZE_MAX ||
		    status_at(e, row, l->atomicstatus) != GO_WAITING)
			continue;
		if (go_gs__word(&e->gs, row, off, 1) != (uint64_t)want)
			return false;
		known++;
	}
	return known > 0;
}

/* A parked goroutine's saved context (gobuf: sp, pc, g, ...) resumes in runtime.gopark and
 * names the goroutine itself; its sp lies in its stack (g.stack: lo, hi at offset 0). */
static bool sched_holds(const struct evidence *e, const struct go_layout *l, int32_t pc_off)
{
	int parked = 0;

	for (size_t i = 0; i < e->gs.n; i++) {
		uint64_t pc = word(e, i, pc_off), sp = word(e, i, pc_off - 8);

		if (status_at(e, i, l->atomicstatus) != GO_WAITING)
			continue;
		if (pc < e->gopark_lo + e->bias || pc >= e->gopark_hi + e->bias ||
		    word(e, i, pc_off + 8) != go_gs__ptr(&e->gs, i) || sp <= word(e, i, 0) ||
		    sp > word(e, i, 8))
			return false;
		parked++;
	}
	return parked > 0;
}

/* gobuf.bp of a parked goroutine is gopark's frame pointer: in its stack, above its sp, and
 * the frame record there returns into a function of the program (gopark's caller). gobuf
 * lost its ret field in Go 1.24 (sp pc g ctxt ret lr bp, then sp pc g ctxt lr bp): the one
 * offset that holds is taken. */
static bool sched_bp_holds(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	int parked = 0;

	for (size_t i = 0; i < e->gs.n && parked < 16; i++) {
		uint64_t bp = word(e, i, off), sp = word(e, i, l->sched_sp), frame[2];
		const char *fn, *file;
		int line;

		if (status_at(e, i, l->atomicstatus) != GO_WAITING)
			continue;
		if (bp <= sp || bp >= word(e, i, 8) || (bp & 7) ||
		    procfs__read_mem(e->pid, bp, frame, sizeof(frame)) || frame[1] <= e->bias ||
		    gopclntab__resolve(e->pcln, frame[1] - e->bias - 1, &fn, &file, &line))
			return false;
		parked++;
	}
	return parked > 0;
}

/* Go >= 1.21: the creator's id, smaller than the goroutine's own; 0 for the main one. */
static bool parent_holds(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	int with_parent = 0;

	if (e->main_row == SIZE_MAX || word(e, e->main_row, off) != 0 ||
	    e->forcegc_row == SIZE_MAX || word(e, e->forcegc_row, off) != 1)
		return false;
	int later = 0;

	for (size_t i = 0; i < e->gs.n; i++) {
		uint64_t p = word(e, i, off), id = word(e, i, l->goid);

		/* a dead g kept for reuse may hold its last parent and no id (Go 1.26) */
		if (!id || status_at(e, i, l->atomicstatus) == GO_DEAD)
			continue;
		if (p >= MAX_GOID)
			return false;
		/* ids come from per-P caches of 16, so a child may have a smaller id than its
		 * parent now and then; most are created after it */
		later += p && p >= id;
		with_parent += p != 0;
	}
	return with_parent >= 2 && later * 10 <= with_parent;
}

/* g.m follows the stack bounds, guards, _panic and _defer, Go 1.18 to 1.26; it is proved
 * with the M layer (gominfer.c: every M's g0 points back at it), which finds m.curg too. */
#define G_M_OFFSET 48

static int gather(struct evidence *e, pid_t pid, uint64_t bias, struct gopclntab *pcln,
		  const struct go_layout *l, size_t window)
{
	uint64_t end;
	int err;

	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->bias = bias;
	e->pcln = pcln;
	e->main_row = e->forcegc_row = SIZE_MAX;
	if (gopclntab__function(pcln, "runtime.main", &e->main_fn, &end) ||
	    gopclntab__function(pcln, "runtime.forcegchelper", &e->forcegc_fn, &end) ||
	    gopclntab__function(pcln, "runtime.newproc", &e->newproc_fn, &end) ||
	    gopclntab__function(pcln, "runtime.gopark", &e->gopark_lo, &e->gopark_hi))
		return -ENODATA;
	if (gopclntab__function(pcln, "runtime.newcoro", &e->newcoro_fn, &end))
		e->newcoro_fn = 0; /* before Go 1.23 */
	/* the offsets are proved on the first INFER_ROWS goroutines: evidence enough, and a
	 * million goroutines' g structs would be hundreds of megabytes */
	err = go_gs__open_list(pid, l->allgs + bias, l->allglen + bias, window, &e->gs);
	if (!err) {
		if (e->gs.n > INFER_ROWS)
			e->gs.n = INFER_ROWS;
		go_gs__read_rows(pid, &e->gs, 0, e->gs.n);
	}
	return err ? err : e->gs.n ? 0 : -ENODATA;
}

static void note_runtime_rows(struct evidence *e, int32_t startpc)
{
	e->main_row = row_running(e, startpc, e->main_fn);
	e->forcegc_row = row_running(e, startpc, e->forcegc_fn);
}

static int32_t search(const struct evidence *e, const struct go_layout *l, int32_t from,
		      int32_t align,
		      bool (*holds)(const struct evidence *, const struct go_layout *, int32_t))
{
	for (int32_t off = from; off + 8 <= WINDOW; off += align)
		if (holds(e, l, off))
			return off;
	return -1;
}

static bool gopc_at(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	return off != l->startpc && gopc_holds(e, off);
}

static bool goid_at(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	return off != l->startpc && off != l->gopc && goid_holds(e, off);
}

static bool status_at_off(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	(void)l;
	return status_holds(e, off);
}

static bool parent_at(const struct evidence *e, const struct go_layout *l, int32_t off)
{
	return off != l->goid && off != l->gopc && off != l->startpc && parent_holds(e, l, off);
}

static void fail(char *why, size_t size, const char *field)
{
	snprintf(why, size, "%s", field);
}

/* g.trackingSeq: of the small fields after waitreason (flags and bytes, up to the next
 * int64), the one byte seeded at random when a goroutine is made, so holding 0 or 1 in
 * few goroutines where a flag never holds more; the word it shares holds flags only (a
 * word of an int64, a time or a count, has more than one byte of that kind). -1 unless
 * exactly one byte fits. */
static int32_t infer_tracking_seq(const struct evidence *e, const struct go_layout *l)
{
	int32_t found = -1;

	if (l->waitreason < 0 || e->gs.n < 4)
		return -1;
	for (int32_t off = l->waitreason + 1; off < l->waitreason + 32 && off + 8 <= WINDOW;
	     off++) {
		int32_t word = off & ~7;
		size_t seeded = 0;
		bool flags_beside = true;

		for (size_t i = 0; i < e->gs.n && flags_beside; i++) {
			seeded += go_gs__word(&e->gs, i, off, 1) > 1;
			for (int32_t b = word; b < word + 8; b++)
				if (b != off && b != l->waitreason &&
				    go_gs__word(&e->gs, i, b, 1) > 1)
					flags_beside = false;
		}
		if (!flags_beside || seeded * 4 < e->gs.n * 3)
			continue;
		if (found >= 0)
			return -1; /* two fit: say neither */
		found = off;
	}
	return found;
}

/* The fields a parked goroutine proves: waitreason (and waitsince beside it) and the saved
 * context (sched). A process with none parked yet leaves them -1, to be found later. */
static void infer_wait_fields(const struct evidence *e, struct go_layout *l)
{
	l->waitreason = -1;
	for (int32_t off = l->goid + 8; l->nwait_reasons && off < WINDOW; off++)
		if (off != l->atomicstatus && waitreason_holds(e, l, off)) {
			l->waitreason = off;
			break;
		}
	/* goid, schedlink, waitsince, waitreason in every release: where the reason is two
	 * words past the id, waitsince is the word before it */
	l->waitsince = l->waitreason == l->goid + 24 ? l->goid + 16 : -1;
	l->tracking_seq = infer_tracking_seq(e, l);
	l->sched_pc = -1;
	for (int32_t off = 8; off + 16 <= WINDOW && l->sched_pc < 0; off += 8)
		if (sched_holds(e, l, off))
			l->sched_pc = off;
	l->sched_sp = l->sched_pc < 0 ? -1 : l->sched_pc - 8;
	l->sched_g = l->sched_pc < 0 ? -1 : l->sched_pc + 8;
	l->sched_bp = -1;
	for (int32_t off = l->sched_pc + 32; l->sched_pc >= 0 && off <= l->sched_pc + 40; off += 8)
		if (sched_bp_holds(e, l, off)) {
			if (l->sched_bp >= 0) { /* both hold: say neither */
				l->sched_bp = -1;
				break;
			}
			l->sched_bp = off;
		}
}

/* The bytes of each g a snapshot reads grown to the last field known. */
static void fit_g_size(struct go_layout *l)
{
	const int32_t used[] = {l->startpc,  l->gopc,	    l->goid,	  l->parent_goid,
				l->sched_bp, l->waitreason, l->waitsince, l->tracking_seq};

	for (size_t i = 0; i < ARRAY_SIZE(used); i++)
		if (used[i] >= 0 && (uint32_t)used[i] + 8 > l->g_size)
			l->g_size = ((uint32_t)used[i] + 8 + 7) & ~7u;
}

int goinfer__layout(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l,
		    char *why, size_t why_size)
{
	struct evidence e;
	size_t best = 0;
	int err = gather(&e, pid, bias, pcln, l, WINDOW);

	if (err)
		goto out;
	err = -ENODATA;
	l->startpc = -1;
	for (int32_t off = 0; off + 8 <= WINDOW; off += 8) {
		size_t score = startpc_score(&e, off);

		if (score > best && row_running(&e, off, e.main_fn) != SIZE_MAX) {
			best = score;
			l->startpc = off;
		}
	}
	if (l->startpc < 0 || best < e.gs.n / 2) {
		fail(why, why_size, "startpc");
		goto out;
	}
	note_runtime_rows(&e, l->startpc);
	l->gopc = -1;
	if ((l->gopc = search(&e, l, 0, 8, gopc_at)) < 0 ||
	    (l->goid = search(&e, l, 0, 8, goid_at)) < 0) {
		fail(why, why_size, l->gopc < 0 ? "gopc" : "goid");
		goto out;
	}
	/* status sits just before the id in every release (atomicstatus, stackLock, goid) */
	l->atomicstatus =
		status_holds(&e, l->goid - 8) ? l->goid - 8 : search(&e, l, 0, 4, status_at_off);
	if (l->atomicstatus < 0) {
		fail(why, why_size, "atomicstatus");
		goto out;
	}
	infer_wait_fields(&e, l);
	l->stack_lo = 0;
	l->stack_hi = 8;
	l->parent_goid = search(&e, l, l->goid + 8, 8, parent_at);
	l->g_m = G_M_OFFSET;
	l->g_size = 0;
	fit_g_size(l);
	l->source = "inferred";
	err = 0;
out:
	go_gs__free(&e.gs);
	return err;
}

int goinfer__parent(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l)
{
	struct evidence e;
	int err;

	if (l->parent_goid >= 0 || l->goid < 0 || l->startpc < 0)
		return 0;
	err = gather(&e, pid, bias, pcln, l, WINDOW);
	if (!err) {
		note_runtime_rows(&e, l->startpc);
		l->parent_goid = search(&e, l, l->goid + 8, 8, parent_at);
		if (l->parent_goid >= 0 && (uint32_t)l->parent_goid + 8 > l->g_size)
			l->g_size = (uint32_t)l->parent_goid + 8;
	}
	go_gs__free(&e.gs);
	return l->parent_goid >= 0 ? 0 : -ENODATA;
}

int goinfer__waits(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l)
{
	struct evidence e;
	int err;

	if ((l->waitreason >= 0 && l->sched_pc >= 0) || l->goid < 0 || l->atomicstatus < 0)
		return 0;
	err = gather(&e, pid, bias, pcln, l, WINDOW);
	if (!err) {
		infer_wait_fields(&e, l);
		fit_g_size(l);
	}
	go_gs__free(&e.gs);
	return l->waitreason >= 0 && l->sched_pc >= 0 ? 0 : -ENODATA;
}

int goinfer__check(pid_t pid, uint64_t bias, struct gopclntab *pcln, const struct go_layout *l,
		   char *why, size_t why_size)
{
	struct evidence e;
	int err = gather(&e, pid, bias, pcln, l, l->g_size);

	if (err)
		goto out;
	note_runtime_rows(&e, l->startpc);
	err = -EBADMSG;
	if (startpc_score(&e, l->startpc) < e.gs.n / 2 || e.main_row == SIZE_MAX)
		fail(why, why_size, "startpc");
	else if (!gopc_holds(&e, l->gopc))
		fail(why, why_size, "gopc");
	else if (!goid_holds(&e, l->goid))
		fail(why, why_size, "goid");
	else if (!status_holds(&e, l->atomicstatus))
		fail(why, why_size, "atomicstatus");
	else if (l->waitreason >= 0 && l->nwait_reasons && !waitreason_holds(&e, l, l->waitreason))
		fail(why, why_size, "waitreason");
	else
		err = 0;
out:
	go_gs__free(&e.gs);
	return err;
}
