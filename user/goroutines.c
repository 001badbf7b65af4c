// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "goroutines.h"
#include "gocode.h"
#include "gopclntab.h"
#include "gosnap.h"
#include "gostack.h"
#include "gowait.h"
#include "hashmap.h"
#include "loader.h"
#include "procfs.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT_ATTEMPTS	     5	 /* scans: a process caught starting up has no goroutines yet */
#define WAIT_LAYOUT_ATTEMPTS 60	 /* scans that look for channel waits to prove offsets with */
#define MAX_FINAL_GROUPS     256 /* groups kept of a process that exited, with a verdict */
#define MAX_STACK_BYTES	     (1ULL << 30)

/* What one scan learned about each goroutine of the snapshot, beyond its g. */
struct row {
	struct go_stack *stack; /* NULL: running, or no saved context */
	uint64_t obj;		/* the channel (or select's set) it waits on, 0: none */
	uint64_t park;		/* when it parked: exact (probes) or first seen, 0: not waiting */
	uint64_t parent;	/* its creator's goroutine id, 0: unknown */
	double blocked;		/* exact wait in seconds, -1: unknown */
	bool before_attach;	/* waiting since before the probes attached */
	uint32_t site;		/* index in the tracker's sites */
};

struct go_proc_state {
	pid_t pid;
	bool is_go, maybe_go, probes, exited;
	int attempts, wait_attempts;
	char comm[16]; /* when it was tried: a new image (exec) is tried again */
	struct go_process gp;
	struct gopclntab *pcln; /* Go's own line table: file:line for Go frames */
	struct go_snapshot snap;
	struct row *rows;
	size_t rows_cap;
	struct go_stack_cache *stacks;
	struct go_chan_table chans;
	uint64_t probes_ns;	 /* when the probes were attached */
	uint64_t max_goid;	 /* the largest goroutine id seen: about how many were created */
	struct hashmap seen;	 /* hash(goid, state) -> first scan that saw it so (ns) */
	struct hashmap live;	 /* goid -> 1, for the last snapshot */
	struct hashmap site_of;	 /* gopc -> site index + 1 */
	struct hashmap first_of; /* group key -> count + 1 at the first scan that saw it */
	struct hashmap peak_of;	 /* group key -> largest count */
	/* a process that exited: its groups with a verdict, as the last scan saw them */
	struct go_group *final;
	size_t nfinal;
};

struct go_tracker {
	struct symbolizer *sym;
	struct loader *ld;
	uint64_t threshold_ns, runaway;
	struct hashmap procs; /* pid -> struct go_proc_state */
	struct go_site *sites;
	size_t nsites, sites_cap;
	struct go_group *groups;
	size_t ngroups, cap;
	struct hashmap group_index; /* group key -> index + 1, during a regroup */
	struct hashmap strings;	    /* hash -> char * (owned): names outlive a process's table */
	uint64_t stranded;
	uint64_t now_ns;
	bool states_lost; /* the probes' goroutine map filled: absent records prove nothing */
};

struct go_tracker *go_tracker__new(struct symbolizer *sym, struct loader *ld, uint64_t threshold_ns,
				   uint64_t runaway)
{
	struct go_tracker *t = xcalloc(1, sizeof(*t));

	t->sym = sym;
	t->ld = ld;
	t->threshold_ns = threshold_ns;
	t->runaway = runaway;
	hashmap__init(&t->procs);
	hashmap__init(&t->group_index);
	hashmap__init(&t->strings);
	return t;
}

/* The tracker's own copy of a name from a process's line table. */
static const char *keep(struct go_tracker *t, const char *s)
{
	uint64_t h;
	char *have;

	if (!s)
		return NULL;
	h = hash_u64(strlen(s));
	for (const char *c = s; *c; c++)
		h = hash_combine(h, (uint8_t)*c);
	for (;; h++) {
		have = hashmap__get(&t->strings, h);
		if (!have || !strcmp(have, s))
			break;
	}
	if (!have) {
		have = xstrdup(s);
		hashmap__set(&t->strings, h, have);
	}
	return have;
}

static void free_values(struct hashmap *m)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(m, &i, &key, &val);)
		free(val);
	hashmap__free(m);
}

/* Everything that follows the live process; what the report needs of it stays. */
static void release_live_state(struct go_tracker *t, struct go_proc_state *st)
{
	if (st->probes && t->ld)
		loader__detach_go(t->ld, st->pid);
	st->probes = false;
	gopclntab__close(st->pcln);
	st->pcln = NULL;
	go_snapshot__free(&st->snap);
	free(st->rows);
	st->rows = NULL;
	st->rows_cap = 0;
	go_stack_cache__free(st->stacks);
	st->stacks = NULL;
	go_chan_table__free(&st->chans);
	go_chan_table__init(&st->chans);
	hashmap__free(&st->seen);
	hashmap__free(&st->live);
	hashmap__free(&st->first_of);
	hashmap__free(&st->peak_of);
}

static void free_state(struct go_tracker *t, struct go_proc_state *st)
{
	release_live_state(t, st);
	go_chan_table__free(&st->chans);
	hashmap__free(&st->site_of);
	free(st->final);
	free(st);
}

void go_tracker__free(struct go_tracker *t)
{
	uint64_t key;
	void *val;

	if (!t)
		return;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &key, &val);)
		free_state(t, val);
	hashmap__free(&t->procs);
	hashmap__free(&t->group_index);
	free_values(&t->strings);
	free(t->groups);
	free(t->sites);
	free(t);
}

static const char *state_of(const struct go_proc_state *st, const struct go_g *g)
{
	uint32_t status = g->status & ~(uint32_t)GO_SCAN;

	if (status == GO_WAITING && g->waitreason < (uint32_t)st->gp.layout.nwait_reasons &&
	    st->gp.layout.wait_reasons[g->waitreason][0])
		return st->gp.layout.wait_reasons[g->waitreason];
	return go_status__name(status);
}

/* A Go frame: the module from the symbolizer, function and file:line from .gopclntab (libdw
 * cannot map Go's line tables). A return address is looked up at pc - 1, its call. */
static void resolve_go(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		       struct sym_frame *out)
{
	const char *fn, *file;
	int line;

	symbolizer__resolve(t->sym, st->pid, pc, is_return, out, 1);
	if (st->pcln && pc > st->gp.bias &&
	    !gopclntab__resolve(st->pcln, pc - st->gp.bias - (is_return ? 1 : 0), &fn, &file,
				&line)) {
		out->function = fn;
		out->file = file;
		out->line = line;
		out->inlined = false;
	}
	out->function = keep(t, out->function);
	out->file = keep(t, out->file);
}

static const char *function_at(struct go_proc_state *st, uint64_t pc, bool is_return)
{
	const char *fn, *file;
	int line;

	if (!st->pcln || pc <= st->gp.bias ||
	    gopclntab__resolve(st->pcln, pc - st->gp.bias - (is_return ? 1 : 0), &fn, &file, &line))
		return NULL;
	return fn;
}

static bool in_runtime(const char *fn)
{
	return fn && !strncmp(fn, "runtime.", 8);
}

/* The spawn site of gopc, created at its first sighting (a scan or the create probe). */
static uint32_t site_for(struct go_tracker *t, struct go_proc_state *st, uint64_t gopc,
			 uint64_t startpc)
{
	uintptr_t idx = (uintptr_t)hashmap__get(&st->site_of, gopc);
	struct go_site *s;

	if (idx)
		return (uint32_t)(idx - 1);
	if (t->nsites == t->sites_cap) {
		t->sites_cap = t->sites_cap ? t->sites_cap * 2 : 32;
		t->sites = xrealloc(t->sites, t->sites_cap * sizeof(*t->sites));
	}
	s = &t->sites[t->nsites];
	memset(s, 0, sizeof(*s));
	s->pid = st->pid;
	s->id = (uint32_t)t->nsites + 1;
	s->gopc = gopc;
	s->spawned = s->exited = -1;
	resolve_go(t, st, gopc, true, &s->created_at);
	resolve_go(t, st, startpc, false, &s->start);
	/* the main goroutine runs the program's main.main: it is the user's */
	s->runtime = in_runtime(s->start.function) && strcmp(s->start.function, "runtime.main");
	hashmap__set(&st->site_of, gopc, (void *)(uintptr_t)(t->nsites + 1));
	return (uint32_t)t->nsites++;
}

void go_tracker__on_site(void *tracker, const struct strand_go_site_event *ev)
{
	struct go_tracker *t = tracker;
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)ev->hdr.tgid);
	struct go_site *s;
	struct go_caller *c;
	bool skipping = true;

	if (!st || !st->is_go || st->exited)
		return;
	s = &t->sites[site_for(t, st, ev->gopc, ev->startpc)];
	for (int i = 0; i < s->ncallers; i++)
		if (s->callers[i].pc == ev->caller)
			return;
	if (s->ncallers == GO_MAX_CALLERS) {
		s->more_callers++;
		return;
	}
	c = &s->callers[s->ncallers++];
	c->pc = ev->caller;
	/* ips[0] is the probe in runtime.newproc.func1; the runtime's frames come first */
	for (uint32_t i = 0; i < ev->nframes && c->depth < GO_MAX_SPAWN_FRAMES; i++) {
		struct sym_frame *f = &c->stack[c->depth];

		resolve_go(t, st, ev->ips[i], i > 0, f);
		if (skipping && in_runtime(f->function))
			continue;
		skipping = false;
		c->depth++;
	}
	if (!s->spawn_depth) {
		memcpy(s->spawn_stack, c->stack, sizeof(c->stack));
		s->spawn_depth = c->depth;
	}
}

/* Which offsets the probes need: those of the layout, checked or inferred. */
static void attach_probes(struct go_tracker *t, struct go_proc_state *st)
{
	const struct go_layout *l = &st->gp.layout;
	struct strand_go_config cfg = {
		.goid = l->goid,
		.gopc = l->gopc,
		.startpc = l->startpc,
		.g_m = l->g_m,
		.m_curg = l->m_curg,
		.sched_bp = l->sched_bp,
	};
	uint64_t offsets[GO_PROBES] = {0}, vaddr[GO_PROBES];
	struct go_probe_sites sites;
	char exe[64];
	int err;

	if (!t->ld || !st->pcln || gocode__probe_sites(st->pid, st->gp.bias, st->pcln, &sites))
		return;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", st->pid);
	vaddr[GO_PROBE_CREATE] = sites.create;
	vaddr[GO_PROBE_EXIT] = sites.exit;
	vaddr[GO_PROBE_PARK] = sites.park;
	vaddr[GO_PROBE_READY] = sites.ready;
	for (int i = 0; i < GO_PROBES; i++)
		if (vaddr[i] && gocode__file_offset(exe, vaddr[i], &offsets[i]))
			offsets[i] = 0;
	/* park times are only exact with both ends of a wait probed */
	if (!offsets[GO_PROBE_PARK] || !offsets[GO_PROBE_READY])
		offsets[GO_PROBE_PARK] = offsets[GO_PROBE_READY] = 0;
	err = loader__attach_go(t->ld, st->pid, exe, &cfg, offsets);
	if (err && err != -ENOTSUP)
		note("goroutine probes not attached to pid %d: %s", st->pid, strerror(-err));
	st->probes = !err && offsets[GO_PROBE_PARK];
	st->probes_ns = now_mono_ns();
}

/* A waiting goroutine's exact wait and creator, from the probes. */
static void probe_wait(struct go_tracker *t, struct go_proc_state *st, const struct go_g *g,
		       struct row *r)
{
	struct strand_go_state s;
	int err;

	r->blocked = -1;
	if (!st->probes)
		return;
	err = loader__go_state(t->ld, st->pid, g->g, &s);
	if (!err) {
		if (s.flags & STRAND_GO_CREATED)
			r->parent = s.parent_goid;
		if (s.flags & STRAND_GO_PARKED && t->now_ns > s.park_ns) {
			r->blocked = (double)(t->now_ns - s.park_ns) / 1e9;
			r->park = s.park_ns;
		}
		return;
	}
	/* never parked nor created while probed: waiting since before the attach */
	if (err != -ENOENT || t->states_lost || t->now_ns < st->probes_ns)
		return;
	r->before_attach = true;
	r->blocked = (double)(t->now_ns - st->probes_ns) / 1e9;
	r->park = st->probes_ns;
}

/* Remembers when each goroutine was first seen in its present state, and which are live. */
static void update_seen(struct go_proc_state *st, uint64_t now)
{
	struct hashmap next;

	hashmap__init(&next);
	hashmap__free(&st->live);
	hashmap__init(&st->live);
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		uint64_t key = hash_combine(g->goid, g->status << 8 | g->waitreason);
		void *first = hashmap__get(&st->seen, key);

		hashmap__set(&next, key, first ? first : (void *)(uintptr_t)now);
		hashmap__set(&st->live, g->goid, (void *)1);
		if (g->goid > st->max_goid)
			st->max_goid = g->goid;
	}
	hashmap__free(&st->seen);
	st->seen = next;
}

static uint64_t first_seen(const struct go_proc_state *st, const struct go_g *g)
{
	return (uintptr_t)hashmap__get(&st->seen,
				       hash_combine(g->goid, g->status << 8 | g->waitreason));
}

/* Each site's live count, orphans and totals from the probes, sampled over time. */
static void sample_sites(struct go_tracker *t, struct go_proc_state *st)
{
	uint64_t gopc;
	void *val;

	for (size_t i = 0; hashmap__next(&st->site_of, &i, &gopc, &val);) {
		struct go_site *s = &t->sites[(uintptr_t)val - 1];

		s->live = s->orphans = 0;
	}
	for (size_t i = 0; i < st->snap.n; i++) {
		struct go_site *s = &t->sites[st->rows[i].site];
		uint64_t parent = st->rows[i].parent;

		s->live++;
		s->orphans += parent && !hashmap__get(&st->live, parent);
	}
	for (size_t i = 0; hashmap__next(&st->site_of, &i, &gopc, &val);) {
		struct go_site *s = &t->sites[(uintptr_t)val - 1];
		struct strand_go_site ks;

		if (s->live > s->peak)
			s->peak = s->live;
		timeline__add(&s->live_over_time, t->now_ns, (uint32_t)s->live);
		if (st->probes && !loader__go_site(t->ld, st->pid, gopc, &ks)) {
			s->spawned = (int64_t)ks.spawned;
			s->exited = (int64_t)ks.exited;
			s->parents = ks.parents;
			s->max_children = ks.max_children;
			s->max_parent_goid = ks.max_parent;
		}
		for (int k = 0; st->probes && k < s->ncallers; k++)
			loader__go_caller(t->ld, st->pid, gopc, s->callers[k].pc,
					  &s->callers[k].spawned);
	}
}

/* The frame of a stack where the program's own code waits: the first outside the standard
 * library, else the first outside the runtime. Worked out once per distinct stack. */
static int wait_frame_of(struct go_proc_state *st, struct go_stack *s)
{
	int fallback = -1;

	if (s->wait_frame >= 0)
		return s->wait_frame;
	for (int i = 0; i < s->depth; i++) {
		const char *fn = function_at(st, s->pcs[i], i > 0);

		if (fn && !go_function__is_std(fn)) {
			s->wait_frame = i;
			return i;
		}
		if (fallback < 0 && fn && !in_runtime(fn))
			fallback = i;
	}
	s->wait_frame = fallback >= 0 ? fallback : 0;
	return s->wait_frame;
}

static void read_rows(struct go_tracker *t, struct go_proc_state *st)
{
	const struct go_snapshot *snap = &st->snap;
	uint64_t *goids, *objs, *parks;

	if (st->rows_cap < snap->n) {
		st->rows_cap = snap->n;
		st->rows = xrealloc(st->rows, snap->n * sizeof(*st->rows));
	}
	goids = xcalloc(snap->n + 1, sizeof(*goids));
	objs = xcalloc(snap->n + 1, sizeof(*objs));
	parks = xcalloc(snap->n + 1, sizeof(*parks));
	struct go_stack **stacks = xcalloc(snap->n + 1, sizeof(*stacks));

	go_stack_cache__update(st->stacks, st->pid, snap, stacks);
	go_wait__objects(st->pid, &st->gp.layout, snap, objs);
	for (size_t i = 0; i < snap->n; i++) {
		const struct go_g *g = &snap->g[i];
		struct row *r = &st->rows[i];

		memset(r, 0, sizeof(*r));
		r->stack = stacks[i];
		if (r->stack)
			wait_frame_of(st, r->stack); /* part of the group's key */
		r->obj = objs[i];
		r->parent = g->parent_goid;
		r->blocked = -1;
		if ((g->status & ~(uint32_t)GO_SCAN) == GO_WAITING) {
			probe_wait(t, st, g, r);
			if (!r->park)
				r->park = first_seen(st, g);
		}
		r->site = site_for(t, st, g->gopc, g->startpc);
		goids[i] = g->goid;
		parks[i] = r->park;
	}
	go_chan_table__observe(&st->chans, t->now_ns, goids, objs, parks, snap->n);
	free(stacks);
	free(parks);
	free(objs);
	free(goids);
}

static struct go_proc_state *new_state(struct go_tracker *t, pid_t pid, const char *comm)
{
	struct go_proc_state *st = xcalloc(1, sizeof(*st));
	char exe[64];
	int err;

	st->pid = pid;
	snprintf(st->comm, sizeof(st->comm), "%s", comm);
	hashmap__init(&st->seen);
	hashmap__init(&st->live);
	hashmap__init(&st->site_of);
	hashmap__init(&st->first_of);
	hashmap__init(&st->peak_of);
	go_chan_table__init(&st->chans);
	st->stacks = go_stack_cache__new();
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	st->pcln = gopclntab__open(exe, &err);
	st->maybe_go = st->pcln || golayout__is_go(exe);
	hashmap__set(&t->procs, (uint64_t)pid, st);
	return st;
}

/* The channel-wait offsets: from DWARF, checked once there is something to check them
 * against; inferred otherwise, as soon as goroutines in channel waits show what is what. */
static void find_wait_layout(struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;

	if (st->wait_attempts >= WAIT_LAYOUT_ATTEMPTS ||
	    (l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0 &&
	     strcmp(l->source, "DWARF")))
		return;
	st->wait_attempts++;
	if (!strcmp(l->source, "DWARF")) {
		go_wait__check(st->pid, st->gp.bias, l);
		if (l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0)
			return;
	}
	go_wait__infer(st->pid, st->gp.bias, l);
}

enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);
	char comm[16];

	t->now_ns = now;
	procfs__comm(pid, comm, sizeof(comm));
	if (st && !st->exited && strcmp(st->comm, comm)) { /* exec'd since it was tried */
		free_state(t, hashmap__del(&t->procs, (uint64_t)pid));
		st = NULL;
	}
	if (st && st->exited)
		return st->is_go ? GO_TRACKED : GO_NOT_GO;
	if (!st)
		st = new_state(t, pid, comm);
	if (!st->is_go && st->maybe_go && st->attempts < LAYOUT_ATTEMPTS) {
		int err = go_process__open(pid, st->pcln, &st->gp);

		st->is_go = !err;
		st->attempts = err == -ENODATA ? st->attempts + 1 : LAYOUT_ATTEMPTS;
		if (err && err != -ENODATA && !st->gp.problem[0])
			snprintf(st->gp.problem, sizeof(st->gp.problem), "%s", strerror(-err));
		/* probes first, then the snapshot: nothing falls between the two */
		if (st->is_go)
			attach_probes(t, st);
	}
	if (!st->is_go)
		return st->maybe_go ? GO_UNSUPPORTED : GO_NOT_GO;
	find_wait_layout(st);
	t->now_ns = now_mono_ns();
	if (go_process__snapshot(&st->gp, &st->snap) == 0) {
		update_seen(st, t->now_ns);
		read_rows(t, st);
		sample_sites(t, st);
	}
	return GO_TRACKED;
}

static struct go_group *group_of(struct go_tracker *t, struct go_proc_state *st,
				 const struct go_g *g, const struct row *r, uint64_t key)
{
	uintptr_t idx = (uintptr_t)hashmap__get(&t->group_index, key);
	struct go_group *grp;

	if (idx)
		return &t->groups[idx - 1];
	if (t->ngroups == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->groups = xrealloc(t->groups, t->cap * sizeof(*t->groups));
	}
	grp = &t->groups[t->ngroups++];
	hashmap__set(&t->group_index, key, (void *)(uintptr_t)t->ngroups);
	memset(grp, 0, sizeof(*grp));
	grp->pid = st->pid;
	grp->site = r->site;
	grp->runtime = t->sites[r->site].runtime;
	grp->blocked_oldest_s = grp->blocked_newest_s = -1;
	grp->wait_frame = -1;
	snprintf(grp->state, sizeof(grp->state), "%s", state_of(st, g));
	if (r->stack) {
		/* the runtime's own frames at the top say nothing the state does not */
		int wait = wait_frame_of(st, r->stack), from = 0;

		while (from < wait && in_runtime(function_at(st, r->stack->pcs[from], from > 0)))
			from++;
		for (int i = from; i < r->stack->depth && grp->wait_depth < GO_MAX_WAIT_FRAMES;
		     i++) {
			struct sym_frame *f = &grp->wait_stack[grp->wait_depth];

			resolve_go(t, st, r->stack->pcs[i], i > 0, f);
			if (f->function && !strcmp(f->function, "runtime.goexit"))
				break;
			if (i == wait)
				grp->wait_frame = grp->wait_depth;
			grp->wait_depth++;
		}
	}
	return grp;
}

static uint64_t group_key(pid_t pid, const struct go_g *g, const struct row *r)
{
	uint64_t h = hash_combine(hash_u64((uint64_t)pid), g->gopc);
	uint64_t where =
		r->stack && r->stack->wait_frame >= 0 ? r->stack->pcs[r->stack->wait_frame] : 0;

	h = hash_combine(h, g->startpc);
	return hash_combine(hash_combine(h, g->status << 8 | g->waitreason), where);
}

static void add_member(struct go_tracker *t, struct go_proc_state *st, struct go_group *grp,
		       const struct go_g *g, const struct row *r, struct hashmap *sharing,
		       uint64_t key)
{
	uint64_t first = first_seen(st, g);
	bool is_long = r->blocked >= 0 && r->blocked * 1e9 >= (double)t->threshold_ns;

	grp->count++;
	if (g->stack_hi > g->stack_lo && g->stack_hi - g->stack_lo < MAX_STACK_BYTES)
		grp->stack_bytes += g->stack_hi - g->stack_lo;
	if (first && (double)(t->now_ns - first) / 1e9 > grp->oldest_wait_s)
		grp->oldest_wait_s = (double)(t->now_ns - first) / 1e9;
	if (r->blocked >= 0) {
		if (r->blocked > grp->blocked_oldest_s)
			grp->blocked_oldest_s = r->blocked;
		if (grp->blocked_newest_s < 0 || r->blocked < grp->blocked_newest_s)
			grp->blocked_newest_s = r->blocked;
		grp->blocked_before_attach |= r->before_attach;
	}
	if (is_long && r->obj && go_chan_table__last_wake(&st->chans, r->obj) > r->park) {
		grp->served++;
	} else if (is_long) {
		if (!grp->blocked_long || g->goid < grp->min_goid)
			grp->min_goid = g->goid;
		if (g->goid > grp->max_goid)
			grp->max_goid = g->goid;
		grp->blocked_long++;
		grp->orphans += r->parent && !hashmap__get(&st->live, r->parent);
		if (r->obj) {
			uint64_t k = hash_combine(key, r->obj);
			uintptr_t n = (uintptr_t)hashmap__get(sharing, k) + 1;

			hashmap__set(sharing, k, (void *)n);
			grp->objects += n == 1;
			if (n > grp->max_sharing)
				grp->max_sharing = n;
		} else {
			grp->unknown_objects++;
		}
	}
	if (grp->ngoids < (int)ARRAY_SIZE(grp->goids))
		grp->goids[grp->ngoids++] = g->goid;
}

static void add_to_groups(struct go_tracker *t, struct go_proc_state *st, struct hashmap *sharing)
{
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		const struct row *r = &st->rows[i];
		uint64_t key = group_key(st->pid, g, r);

		add_member(t, st, group_of(t, st, g, r, key), g, r, sharing, key);
	}
}

static int cmp_groups(const void *a, const void *b)
{
	const struct go_group *x = a, *y = b;

	if (x->runtime != y->runtime)
		return x->runtime ? 1 : -1;
	if (x->verdict != y->verdict)
		return x->verdict == GO_VERDICT_STRANDED   ? -1
		       : y->verdict == GO_VERDICT_STRANDED ? 1
		       : x->verdict == GO_VERDICT_IDLE	   ? -1
		       : y->verdict == GO_VERDICT_IDLE	   ? 1
							   : 0;
	return x->count > y->count ? -1 : (x->count < y->count);
}

static void append_group(struct go_tracker *t, const struct go_group *g)
{
	if (t->ngroups == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->groups = xrealloc(t->groups, t->cap * sizeof(*t->groups));
	}
	t->groups[t->ngroups++] = *g;
}

static void judge_sites(struct go_tracker *t)
{
	for (size_t i = 0; i < t->nsites; i++) {
		struct go_site *s = &t->sites[i];
		struct runaway_input in = {
			.threshold = s->runtime ? 0 : t->runaway,
			.live = s->live,
			.peak = s->peak,
			.max_children = s->max_children,
			.max_parent = s->max_parent_goid,
			.orphans = s->orphans,
			.live_over_time = &s->live_over_time,
			.unit = "goroutines",
			.parent_unit = "goroutine",
		};

		runaway__judge(&in, &s->runaway);
	}
}

void go_tracker__regroup(struct go_tracker *t)
{
	uint64_t pid, key, counters[STRAND_CNT__MAX];
	struct hashmap sharing;
	void *val;

	t->ngroups = 0;
	t->stranded = 0;
	hashmap__free(&t->group_index);
	hashmap__init(&t->group_index);
	hashmap__init(&sharing);
	if (t->ld) {
		loader__read_counters(t->ld, counters);
		t->states_lost = counters[STRAND_CNT_GO_STATE_FULL] > 0;
	}
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		struct go_proc_state *st = val;

		if (st->is_go && !st->exited)
			add_to_groups(t, st, &sharing);
	}
	hashmap__free(&sharing);
	/* each group's history, by its key */
	for (size_t i = 0; hashmap__next(&t->group_index, &i, &key, &val);) {
		struct go_group *g = &t->groups[(uintptr_t)val - 1];
		struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)g->pid);
		uint64_t first = (uintptr_t)hashmap__get(&st->first_of, key);
		uint64_t peak = (uintptr_t)hashmap__get(&st->peak_of, key);

		if (!first)
			hashmap__set(&st->first_of, key, (void *)(uintptr_t)(first = g->count + 1));
		if (g->count > peak)
			hashmap__set(&st->peak_of, key, (void *)(uintptr_t)(peak = g->count));
		g->first = first - 1;
		g->peak = peak;
		g->goids_issued = st->max_goid;
		go_group__judge(g, t->threshold_ns, t->runaway);
	}
	hashmap__free(&t->group_index);
	hashmap__init(&t->group_index);
	/* processes that exited: as their last scan saw them */
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		struct go_proc_state *st = val;

		for (size_t k = 0; st->exited && k < st->nfinal; k++)
			append_group(t, &st->final[k]);
	}
	for (size_t i = 0; i < t->ngroups; i++)
		if (t->groups[i].verdict == GO_VERDICT_STRANDED)
			t->stranded += t->groups[i].blocked_long;
	judge_sites(t);
	if (t->ngroups)
		qsort(t->groups, t->ngroups, sizeof(*t->groups), cmp_groups);
}

void go_tracker__forget(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);

	if (!st || st->exited)
		return;
	/* keep what the last regroup said of it: its leaks are the report's, even gone */
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct go_group *g = &t->groups[i];

		if (g->pid != pid || g->verdict == GO_VERDICT_NONE ||
		    st->nfinal == MAX_FINAL_GROUPS)
			continue;
		st->final = xrealloc(st->final, (st->nfinal + 1) * sizeof(*st->final));
		st->final[st->nfinal++] = *g;
	}
	for (size_t i = 0; i < t->nsites; i++)
		if (t->sites[i].pid == pid)
			t->sites[i].live = t->sites[i].orphans = 0;
	st->exited = true;
	release_live_state(t, st);
}

const char *go_tracker__problem(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);

	return st && st->gp.problem[0] ? st->gp.problem : NULL;
}

const struct go_group *go_tracker__groups(struct go_tracker *t, size_t *n)
{
	*n = t->ngroups;
	return t->groups;
}

const struct go_site *go_tracker__sites(struct go_tracker *t, size_t *n)
{
	*n = t->nsites;
	return t->sites;
}

uint64_t go_tracker__stranded(struct go_tracker *t)
{
	return t->stranded;
}

void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid, int *processes)
{
	uint64_t pid;
	void *val;

	*live = *invalid = 0;
	*processes = 0;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		const struct go_proc_state *st = val;

		if (!st->is_go)
			continue;
		(*processes)++;
		*live += st->snap.n;
		*invalid += st->snap.invalid;
	}
}

size_t go_tracker__runtimes(struct go_tracker *t, struct go_runtime_info *out, size_t max)
{
	uint64_t pid;
	void *val;
	size_t n = 0;

	for (size_t i = 0; n < max && hashmap__next(&t->procs, &i, &pid, &val);) {
		const struct go_proc_state *st = val;

		if (!st->maybe_go)
			continue;
		out[n++] = (struct go_runtime_info){
			.pid = (pid_t)pid,
			.layout = st->is_go ? &st->gp.layout : NULL,
			.problem = st->gp.problem[0] ? st->gp.problem : NULL,
			.probes = st->probes,
			.exited = st->exited,
		};
	}
	return n;
}
