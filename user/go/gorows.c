// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Go process's goroutine records (struct row, one a slot of allgs): what each scan's
 * snapshot changes in them, what is carried from scan to scan (when a wait began, its stack,
 * the channels it waits on), and the lookups by goroutine id, thread and fd.
 */
#include "go/gotrack.h"
#include "lib/phases.h"
#include "lib/prefault.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

/* A goroutine in one state: with g.trackingSeq known, in one wait (a goroutine that woke and
 * parked again, at the same place and for the same reason, has stopped running once more). */
static uint64_t seen_key(const struct go_proc_state *st, const struct go_g *g)
{
	uint64_t key = hash_combine(g->goid, g->status << 8 | g->waitreason);

	if (st->gp.layout.tracking_seq >= 0)
		key = hash_combine(hash_combine(key, g->tracking_seq),
				   hash_combine(g->sched_sp, g->sched_pc));
	return key;
}

/* A goroutine of the last scan is gone from its slot: a wait it was in ended, now. */
static void forget_row(struct go_proc_state *st, struct row *r, uint64_t now)
{
	if (r->goid && r->obj)
		go_chan_table__gone(&st->chans, now, r->obj);
	memset(r, 0, sizeof(*r));
}

/* The records of slots [from, to), which hold no live goroutine now. */
static void forget_slots(struct go_proc_state *st, size_t from, size_t to, uint64_t now)
{
	for (size_t slot = from; slot < to;) {
		struct row *r = go_slot_row(st, (uint32_t)slot);

		if (!r) { /* a page not kept holds nothing */
			slot = (slot / ROWS_PER_PAGE + 1) * ROWS_PER_PAGE;
			continue;
		}
		if (r->goid)
			forget_row(st, r, now);
		slot++;
	}
}

/* Remembers when each goroutine was first seen in its present state (wait); and when first
 * seen with its present g.waitsince (set, the same value proves it has not run since: see
 * go_probe_wait). A goroutine's record is its g's slot's while its id is the same; slots the
 * snapshot skips (dead gs, or past the process's limit) hold none, and a page of them none
 * holds is let go. */
void go_row_page_free(struct row *page)
{
	unmap_zeroed(page, BIG_PAGE);
}

void go_rows__update_seen(struct go_proc_state *st, uint64_t now)
{
	size_t slot = 0, npages = (st->snap.listed + ROWS_PER_PAGE - 1) / ROWS_PER_PAGE;
	uint32_t *live;

	if (!st->first_scan_ns)
		st->first_scan_ns = now;
	if (npages > st->npages) { /* allgs only grows */
		st->row_pages = xrealloc(st->row_pages, npages * sizeof(*st->row_pages));
		memset(st->row_pages + st->npages, 0,
		       (npages - st->npages) * sizeof(*st->row_pages));
		st->npages = npages;
	}
	live = xcalloc(st->npages + 1, sizeof(*live));
	for (size_t i = 0; i < st->snap.n; i++)
		live[st->snap.g[i].slot / ROWS_PER_PAGE]++;
	/* the pages to be written, made first: the helper faults them in from the last while
	 * the records are written from the first (most of a page's slots live: one huge page,
	 * one fault, not 500) */
	for (size_t p = 0; p < st->npages; p++) {
		bool dense = live[p] >= ROWS_PER_PAGE / 2;

		if (live[p] && !st->row_pages[p]) {
			st->row_pages[p] = map_zeroed(BIG_PAGE, dense);
			if (dense) /* a sparse page is memory only where written */
				prefault(st->row_pages[p], BIG_PAGE);
		}
	}
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		size_t page = g->slot / ROWS_PER_PAGE;
		uint64_t key = seen_key(st, g);
		struct row *r;

		forget_slots(st, slot, g->slot, now);
		slot = g->slot + 1;
		r = &st->row_pages[page][g->slot % ROWS_PER_PAGE];
		if (r->goid != g->goid) {
			forget_row(st, r, now);
			r->goid = g->goid;
		} else if (r->state_key == key) {
			key = 0; /* the same state: seen_ns stays */
		}
		if (key) {
			r->state_key = key;
			r->seen_ns = now;
		}
		if (!g->waitsince || r->waitsince != g->waitsince || !r->dated_ns)
			r->dated_ns = g->waitsince ? now : 0;
		r->waitsince = g->waitsince;
		if (g->goid > st->max_goid)
			st->max_goid = g->goid;
	}
	/* not past the slots allgs has held: a record never written is never read either
	 * (reading an untouched page can make it memory) */
	forget_slots(st, slot, st->snap.listed, now);
	for (size_t p = 0; p < st->npages; p++) {
		if (st->row_pages[p] && !live[p]) {
			go_row_page_free(st->row_pages[p]);
			st->row_pages[p] = NULL;
		}
	}
	free(live);
}

pid_t go_g_tid(const struct go_proc_state *st, uint64_t g)
{
	return st->tid_of.len ? (pid_t)(uintptr_t)hashmap__get(&st->tid_of, g) : 0;
}

int go_g_fd(const struct go_proc_state *st, uint64_t g)
{
	uint64_t net = st->net_of.len ? (uintptr_t)hashmap__get(&st->net_of, g) : 0;

	return net ? (int)(net & 0x7fffffff) - 1 : -1;
}

size_t go_row_of_goid(const struct go_proc_state *st, uint64_t goid)
{
	uint32_t row;

	return key_index__get(&st->row_of_goid, goid, &row) ? (size_t)row + 1 : 0;
}

/* g's record, when it holds one (g may be of another snapshot of the same process). */
static const struct row *carried(const struct go_proc_state *st, const struct go_g *g)
{
	const struct row *r = go_slot_row(st, g->slot);

	return r && r->goid == g->goid ? r : NULL;
}

uint64_t go_first_dated(const struct go_proc_state *st, const struct go_g *g)
{
	const struct row *r = carried(st, g);

	return r && g->waitsince && r->waitsince == g->waitsince ? r->dated_ns : 0;
}

uint64_t go_first_seen(const struct go_proc_state *st, const struct go_g *g)
{
	const struct row *r = carried(st, g);

	return r && r->state_key == seen_key(st, g) ? r->seen_ns : 0;
}

/* Selects parked half the threshold with a timer's channel among their cases: they end when
 * it fires. Read only for those, a bounded number per scan. */
#define TIMED_SELECTS_MAX 4096

/* A select's cases, read once per park (its first sudog): the timers are read again at
 * every scan, as one may be stopped. */
struct select_cases {
	uint64_t waiting;
	int n;
	uint64_t chans[GO_SELECT_MAX_CASES];
};

static void mark_timed_selects(struct go_tracker *t, struct go_proc_state *st)
{
	struct hashmap chans, kept;
	size_t looked = 0;
	bool read = false;

	hashmap__init(&chans);
	hashmap__init(&kept);
	for (size_t i = 0; i < st->snap.n && looked < TIMED_SELECTS_MAX; i++) {
		const struct go_g *g = &st->snap.g[i];
		struct row *r = go_row(st, i);
		struct select_cases *c;
		uint64_t sudogs[GO_SELECT_MAX_CASES];

		if (!r->obj || !(r->obj & 1) || !r->park ||
		    t->now_ns - r->park < t->threshold_ns / 2)
			continue; /* not a select (its object is a set), or not parked long */
		if (!read && (read = true) && go_timer_channels(st, &chans))
			break;
		looked++;
		c = hashmap__del(&st->select_cases, g->goid);
		if (c && c->waiting != g->waiting) {
			free(c);
			c = NULL;
		}
		if (!c) {
			c = xcalloc(1, sizeof(*c));
			c->waiting = g->waiting;
			c->n = go_wait__channels(st->pid, &st->gp.layout, g, c->chans, sudogs,
						 GO_SELECT_MAX_CASES);
		}
		hashmap__set(&kept, g->goid, c);
		for (int k = 0; k < c->n && !r->timed; k++)
			r->timed = hashmap__get(&chans, c->chans[k]) != NULL;
	}
	/* the goroutines no longer in a long select, or gone */
	hashmap__free_values(&st->select_cases);
	st->select_cases = kept;
	hashmap__free(&chans);
}

static struct go_stack_ref *stack_ref_of(void *ctx, const struct go_g *g)
{
	return &go_slot_row(ctx, g->slot)->stack_ref;
}

/* What wait objects were read with: a new channel layout reads them all again. */
static uint64_t objects_sig(const struct go_layout *l)
{
	return hash_combine(hash_combine(hash_u64((uint64_t)(uint32_t)l->g_waiting),
					 (uint64_t)(uint32_t)l->sudog_c),
			    (uint64_t)(uint32_t)l->sudog_waitlink);
}

struct objects_chunk {
	struct go_g g[GO_WAIT_OBJECTS_CHUNK]; /* the goroutines whose objects are read */
	size_t at[GO_WAIT_OBJECTS_CHUNK];     /* ... and where each is in the chunk */
	uint64_t got[GO_WAIT_OBJECTS_CHUNK];
};

/*
 * objs[k]: the wait object of goroutine i + k of the snapshot, for the n of a chunk. Read for
 * a goroutine whose wait is new at this scan (or whose object is not known); one still in the
 * same wait (its state's key unchanged, which needs g.trackingSeq) still waits on the same
 * sudog, so on the same channels: its object is kept, not read again. A million goroutines
 * parked for good cost their sudog reads once.
 */
static void read_objects(struct go_tracker *t, struct go_proc_state *st, bool all, size_t i,
			 size_t n, struct objects_chunk *c, uint64_t *objs)
{
	size_t m = 0;

	for (size_t k = 0; k < n; k++) {
		const struct row *r = go_row(st, i + k);

		objs[k] = r->obj;
		if (all || !r->obj || r->seen_ns == t->now_ns) {
			c->g[m] = st->snap.g[i + k];
			c->at[m++] = k;
		}
	}
	go_wait__objects(st->pid, &st->gp.layout, c->g, m, c->got);
	for (size_t k = 0; k < m; k++)
		objs[c->at[k]] = c->got[k];
}

void go_rows__read(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_snapshot *snap = &st->snap;
	uint64_t objs[GO_WAIT_OBJECTS_CHUNK], sig = objects_sig(&st->gp.layout);
	struct objects_chunk *chunk = xcalloc(1, sizeof(*chunk));
	bool all_objects = sig != st->objects_sig || st->gp.layout.tracking_seq < 0;

	hashmap__free(&st->tid_of);
	hashmap__init(&st->tid_of);
	for (size_t i = 0; i < st->nthreads; i++)
		if (st->threads[i].curg && st->threads[i].tid)
			hashmap__set(&st->tid_of, st->threads[i].curg,
				     (void *)(uintptr_t)st->threads[i].tid);
	hashmap__free(&st->curg_row);
	key_index__reset(&st->row_of_goid, snap->n);
	go_stack_cache__update(st->stacks, st->pid, snap, stack_ref_of, st);
	phase__done("goroutine stacks walked");
	go_chan_table__begin(&st->chans);
	for (size_t i = 0; i < snap->n; i++) {
		struct go_g *g = &snap->g[i];
		struct row *r = go_row(st, i);
		uint64_t prev_obj = r->obj, prev_park = r->park;

		if (i % GO_WAIT_OBJECTS_CHUNK == 0) /* a chunk's channels at a time */
			read_objects(t, st, all_objects, i,
				     snap->n - i < GO_WAIT_OBJECTS_CHUNK ? snap->n - i
									 : GO_WAIT_OBJECTS_CHUNK,
				     chunk, objs);
		if (r->stack_ref.stack)
			go_wait_frame(st, r->stack_ref.stack); /* part of the group's key */
		r->obj = objs[i % GO_WAIT_OBJECTS_CHUNK];
		r->park = 0;
		r->blocked = r->runtime_age = -1;
		r->before_attach = r->runtime_dated = r->scan_dated = r->timed = false;
		if ((g->status & ~(uint32_t)GO_SCAN) == GO_WAITING) {
			go_probe_wait(t, st, g, r);
			if (!r->park)
				r->park = go_first_seen(st, g);
		}
		r->site = go_site_for(t, st, g->gopc, g->startpc);
		if (go_g_tid(st, g->g))
			hashmap__set(&st->curg_row, g->g, (void *)(uintptr_t)(i + 1));
		key_index__add(&st->row_of_goid, g->goid, (uint32_t)i);
		go_chan_table__saw(&st->chans, t->now_ns, r->obj, r->park, prev_obj, prev_park);
	}
	phase__done("wait objects read");
	key_index__sort(&st->row_of_goid);
	mark_timed_selects(t, st);
	go_chan_table__end(&st->chans);
	st->objects_sig = sig;
	free(chunk);
}
