// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "gotrack.h"
#include "gocode.h"
#include "fdinfo.h"
#include "gominfer.h"
#include "gonetpoll.h"
#include "gopclntab.h"
#include "loader.h"
#include "model.h"
#include "procfs.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT_ATTEMPTS	     5	/* scans: a process caught starting up has no goroutines yet */
#define WAIT_LAYOUT_ATTEMPTS 60 /* scans that look for channel waits to prove offsets with */
#define M_LAYOUT_ATTEMPTS    30 /* scans that look for busy goroutines and parked threads */
#define NETPOLL_ATTEMPTS     20 /* tries at proving the netpoll layout, every NETPOLL_EVERY */
#define NETPOLL_EVERY	     3	/* scans: a proof reads every polled fd (0.4 s on a busy server) */

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

const char *go_keep(struct go_tracker *t, const char *s)
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
	free(st->threads);
	st->threads = NULL;
	st->nthreads = 0;
	st->threads_read = false;
	hashmap__free(&st->row_of);
	hashmap__free(&st->row_of_goid);
	hashmap__free(&st->net_of);
	free_values(&st->net_fds);
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

const char *go_state_name(const struct go_proc_state *st, const struct go_g *g)
{
	uint32_t status = g->status & ~(uint32_t)GO_SCAN;

	if (status == GO_WAITING && g->waitreason < (uint32_t)st->gp.layout.nwait_reasons &&
	    st->gp.layout.wait_reasons[g->waitreason][0])
		return st->gp.layout.wait_reasons[g->waitreason];
	return go_status__name(status);
}

/* The frames of pc from .gopclntab, inlined calls expanded, innermost first (libdw cannot
 * map Go's line tables). A return address is looked up at pc - 1, its call. */
static int pcln_frames(struct go_proc_state *st, uint64_t pc, bool is_return, struct go_frame *out,
		       int max)
{
	if (!st->pcln || pc <= st->gp.bias)
		return 0;
	int n = gopclntab__resolve_inline(st->pcln, pc - st->gp.bias - (is_return ? 1 : 0), out,
					  max);

	return n > 0 ? n : 0;
}

int go_resolve_frames(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out, int max)
{
	struct go_frame gf[GO_MAX_INLINE_DEPTH];
	struct sym_frame where;
	int n = pcln_frames(st, pc, is_return, gf,
			    max < GO_MAX_INLINE_DEPTH ? max : GO_MAX_INLINE_DEPTH);

	if (max <= 0)
		return 0;
	/* the module (and, outside the table, the function) from the symbolizer */
	symbolizer__resolve(t->sym, st->pid, pc, is_return, &where, 1);
	if (!n) {
		out[0] = where;
		out[0].function = go_keep(t, where.function);
		out[0].file = go_keep(t, where.file);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		out[i] = where;
		out[i].function = go_keep(t, gf[i].function);
		out[i].file = go_keep(t, gf[i].file);
		out[i].line = gf[i].line;
		out[i].inlined = gf[i].inlined;
	}
	return n;
}

void go_resolve_frame(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out)
{
	struct sym_frame frames[GO_MAX_INLINE_DEPTH];

	go_resolve_frames(t, st, pc, is_return, frames, GO_MAX_INLINE_DEPTH);
	*out = frames[0];
}

int go_functions_at(struct go_proc_state *st, uint64_t pc, bool is_return, const char **names,
		    int max)
{
	struct go_frame gf[GO_MAX_INLINE_DEPTH];
	int n = pcln_frames(st, pc, is_return, gf,
			    max < GO_MAX_INLINE_DEPTH ? max : GO_MAX_INLINE_DEPTH);

	for (int i = 0; i < n; i++)
		names[i] = gf[i].function;
	return n;
}

const char *go_function_at(struct go_proc_state *st, uint64_t pc, bool is_return)
{
	const char *names[GO_MAX_INLINE_DEPTH];
	int n = go_functions_at(st, pc, is_return, names, GO_MAX_INLINE_DEPTH);

	return n ? names[n - 1] : NULL;
}

bool go_is_program_code(const char *fn)
{
	/* cgo's generated glue (main._Cfunc_f) is not where the program waits: its caller is */
	return fn && !go_function__is_std(fn) && !strstr(fn, "._Cfunc_") && !strstr(fn, "._cgo_");
}

bool go_in_runtime(const char *fn)
{
	return fn && !strncmp(fn, "runtime.", 8);
}

/* The spawn site of gopc, created at its first sighting (a scan or the create probe). */
uint32_t go_site_for(struct go_tracker *t, struct go_proc_state *st, uint64_t gopc,
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
	go_resolve_frame(t, st, gopc, true, &s->created_at);
	go_resolve_frame(t, st, startpc, false, &s->start);
	/* the main goroutine runs the program's main.main: it is the user's */
	s->runtime = go_in_runtime(s->start.function) && strcmp(s->start.function, "runtime.main");
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
	s = &t->sites[go_site_for(t, st, ev->gopc, ev->startpc)];
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
		int n = go_resolve_frames(t, st, ev->ips[i], i > 0, f,
					  GO_MAX_SPAWN_FRAMES - c->depth);

		if (skipping && go_in_runtime(f[n - 1].function))
			continue;
		skipping = false;
		c->depth += n;
	}
	if (!s->spawn_depth) {
		memcpy(s->spawn_stack, c->stack, sizeof(c->stack));
		s->spawn_depth = c->depth;
	}
}

/* Which offsets the probes need: those of the layout, checked or inferred. */
static struct strand_go_config probe_config(const struct go_layout *l)
{
	return (struct strand_go_config){
		.goid = l->goid,
		.gopc = l->gopc,
		.startpc = l->startpc,
		.g_m = l->g_m,
		.m_curg = l->m_curg,
		.sched_bp = l->sched_bp,
		.atomicstatus = l->atomicstatus,
	};
}

static void attach_probes(struct go_tracker *t, struct go_proc_state *st)
{
	struct strand_go_config cfg = probe_config(&st->gp.layout);
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
	/* a process gone meanwhile (go test's compilers come and go) is no news */
	if (err && err != -ENOTSUP && procfs__exists(st->pid))
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

uint64_t go_first_seen(const struct go_proc_state *st, const struct go_g *g)
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
int go_wait_frame(struct go_proc_state *st, struct go_stack *s)
{
	int fallback = -1;

	if (s->wait_frame >= 0)
		return s->wait_frame;
	for (int i = 0; i < s->depth; i++) {
		const char *names[GO_MAX_INLINE_DEPTH];
		int n = go_functions_at(st, s->pcs[i], i > 0, names, GO_MAX_INLINE_DEPTH);

		for (int k = 0; k < n; k++) {
			if (go_is_program_code(names[k])) {
				s->wait_frame = i;
				return i;
			}
			if (fallback < 0 && !go_in_runtime(names[k]))
				fallback = i;
		}
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

	struct hashmap tid_of; /* g -> the thread running it or in its system call */

	hashmap__init(&tid_of);
	for (size_t i = 0; i < st->nthreads; i++)
		if (st->threads[i].curg && st->threads[i].tid)
			hashmap__set(&tid_of, st->threads[i].curg,
				     (void *)(uintptr_t)st->threads[i].tid);
	hashmap__free(&st->row_of);
	hashmap__init(&st->row_of);
	hashmap__free(&st->row_of_goid);
	hashmap__init(&st->row_of_goid);
	go_stack_cache__update(st->stacks, st->pid, snap, stacks);
	go_wait__objects(st->pid, &st->gp.layout, snap, objs);
	for (size_t i = 0; i < snap->n; i++) {
		const struct go_g *g = &snap->g[i];
		struct row *r = &st->rows[i];
		uint64_t net;

		memset(r, 0, sizeof(*r));
		r->stack = stacks[i];
		if (r->stack)
			go_wait_frame(st, r->stack); /* part of the group's key */
		r->obj = objs[i];
		r->parent = g->parent_goid;
		r->blocked = -1;
		if ((g->status & ~(uint32_t)GO_SCAN) == GO_WAITING) {
			probe_wait(t, st, g, r);
			if (!r->park)
				r->park = go_first_seen(st, g);
		}
		r->site = go_site_for(t, st, g->gopc, g->startpc);
		r->tid = (pid_t)(uintptr_t)hashmap__get(&tid_of, g->g);
		net = (uintptr_t)hashmap__get(&st->net_of, g->g);
		r->fd = net ? (int)(net & 0x7fffffff) - 1 : -1;
		r->fd_write = net >> 31;
		hashmap__set(&st->row_of, g->g, (void *)(uintptr_t)(i + 1));
		hashmap__set(&st->row_of_goid, g->goid, (void *)(uintptr_t)(i + 1));
		goids[i] = g->goid;
		parks[i] = r->park;
	}
	go_chan_table__observe(&st->chans, t->now_ns, goids, objs, parks, snap->n);
	hashmap__free(&tid_of);
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
	hashmap__init(&st->row_of);
	hashmap__init(&st->row_of_goid);
	hashmap__init(&st->net_of);
	hashmap__init(&st->net_fds);
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

/* Removes the "; "-separated clause of text starting with prefix. */
static void drop_clause(char *text, const char *prefix)
{
	char *at = strstr(text, prefix), *end;

	if (!at || (at != text && (at < text + 2 || at[-2] != ';')))
		return;
	end = strstr(at, "; ");
	if (end)
		memmove(at, end + 2, strlen(end + 2) + 1);
	else if (at == text)
		*at = '\0';
	else
		at[-2] = '\0';
}

static void learned_curg(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	int32_t off;

	if (loader__go_learned_curg(t->ld, st->pid, &off) || off < l->m_mstartfn ||
	    (l->m_alllink >= 0 && off == l->m_alllink) || off == l->m_procid)
		return;
	l->m_curg = off;
	drop_clause(l->m_problem, "m.curg unknown");
	if (!strstr(l->m_problem, "m.curg proved at a spawn"))
		snprintf(l->m_problem + strlen(l->m_problem),
			 sizeof(l->m_problem) - strlen(l->m_problem),
			 "%sm.curg proved at a spawn by the create probe",
			 l->m_problem[0] ? "; " : "");
}

/* The M layer (threads to goroutines) may need a goroutine in a system call or a parked
 * thread to be proved: tried again at later scans. A m.curg proved after the probes
 * attached reaches them too: the create probe finds a new goroutine's parent through it. */
static void find_m_layer(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	int32_t curg = l->m_curg;
	struct strand_go_config cfg;

	if ((l->m_source && !l->m_problem[0]) || st->m_attempts >= M_LAYOUT_ATTEMPTS || !st->pcln)
		return;
	st->m_attempts++;
	gominfer__resolve(st->pid, st->gp.bias, st->pcln, l);
	/* an idle process may have no goroutine running when it is scanned: the create probe
	 * saw one at a spawn (the spawner, pointing back at its M) */
	if (l->m_curg < 0 && st->probes)
		learned_curg(t, st);
	cfg = probe_config(l);
	if (curg < 0 && l->m_curg >= 0 && st->probes)
		loader__update_go_config(t->ld, st->pid, &cfg);
}

static void read_threads(struct go_proc_state *st)
{
	free(st->threads);
	st->threads = NULL;
	st->nthreads = 0;
	st->threads_read = st->gp.layout.m_source &&
			   !go_threads__read(st->pid, st->gp.bias, st->pcln, &st->gp.layout,
					     &st->threads, &st->nthreads);
}

/* Who spoke last on the outbound connections already described changes as their peers
 * answer: read again at every scan, all in one dump of the TCP sockets. */
static void refresh_conversations(struct go_proc_state *st, const struct go_netwait *w, size_t n)
{
	struct fd_desc *fds = xcalloc(n ? n : 1, sizeof(*fds));
	struct net_fd **of = xcalloc(n ? n : 1, sizeof(*of));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct net_fd *c = hashmap__get(&st->net_fds, (uint64_t)w[i].fd);

		if (!c || c->kind != NET_OUTBOUND || fdinfo__identify(st->pid, w[i].fd, &fds[k]) ||
		    fds[k].inode != c->inode)
			continue;
		of[k++] = c;
	}
	if (k && !fdinfo__tcp_diags(st->pid, fds, k))
		for (size_t i = 0; i < k; i++) {
			of[i]->speaker = fds[i].spoke_last;
			tcpdiag__format(&fds[i].tcp_diag, of[i]->talk, sizeof(of[i]->talk));
		}
	free(of);
	free(fds);
}

/* Which fd each goroutine in IO wait waits on, from the runtime's epoll set; the layout is
 * proved first, again after a read finds it no longer fits. */
static void read_netwaits(struct go_proc_state *st)
{
	struct go_netwait *w = NULL;
	size_t n = 0;
	int err;

	hashmap__free(&st->net_of);
	hashmap__init(&st->net_of);
	if (!st->gp.layout.pd_source) {
		if (st->np_attempts >= NETPOLL_ATTEMPTS * NETPOLL_EVERY ||
		    st->np_attempts++ % NETPOLL_EVERY)
			return;
		if (go_netpoll__prove(&st->gp))
			return;
	}
	err = go_netpoll__read(st->pid, &st->gp.layout, &w, &n, NULL);
	if (err == -EBADMSG)
		st->gp.layout.pd_source = NULL; /* the layout no longer fits: prove it again */
	for (size_t i = 0; !err && i < n; i++)
		hashmap__set(&st->net_of, w[i].g,
			     (void *)(uintptr_t)((uint64_t)(w[i].fd + 1) |
						 (w[i].write ? 1ULL << 31 : 0)));
	if (!err)
		refresh_conversations(st, w, n);
	free(w);
}

/* The channel-wait offsets: from DWARF, checked once there is something to check them
 * against; inferred otherwise, as soon as goroutines in channel waits show what is what. */
static void find_wait_layout(struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	bool all = l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0;

	if (st->wait_layout_done || st->wait_attempts >= WAIT_LAYOUT_ATTEMPTS)
		return;
	st->wait_attempts++;
	if (!strcmp(l->source, "DWARF") && all) {
		/* proved once against real waits, DWARF is trusted from then on */
		st->wait_layout_done = go_wait__check(st->pid, st->gp.bias, l) > 0;
		if (l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0)
			return;
	}
	st->wait_layout_done = go_wait__infer(st->pid, st->gp.bias, l) == 3;
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
	if (!st->switch_known && st->pcln) {
		uint64_t lo, hi;

		st->switch_known = true;
		if (!gopclntab__function(st->pcln, "runtime.systemstack_switch", &lo, &hi))
			go_stack_cache__set_switch(st->stacks, lo + st->gp.bias, hi + st->gp.bias);
	}
	find_wait_layout(st);
	find_m_layer(t, st);
	t->now_ns = now_mono_ns();
	if (go_process__snapshot(&st->gp, &st->snap) == 0) {
		read_threads(st);
		read_netwaits(st);
		update_seen(st, t->now_ns);
		read_rows(t, st);
		sample_sites(t, st);
	}
	return GO_TRACKED;
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

const struct go_site *go_tracker__sites(struct go_tracker *t, size_t *n)
{
	*n = t->nsites;
	return t->sites;
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

void go_tracker__annotate(struct go_tracker *t, struct model *m)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&m->tasks, &i, &key, &val);) {
		struct task *task = val;

		task->go_role = NULL;
		task->goid = 0;
		task->go_site = 0;
	}
	for (size_t i = 0; hashmap__next(&t->procs, &i, &key, &val);) {
		struct go_proc_state *st = val;
		struct process *p = model__find_process(m, st->pid);

		if (!p || !st->is_go || st->exited)
			continue;
		p->go_threads_known = st->threads_read;
		for (size_t k = 0; st->threads_read && k < st->nthreads; k++) {
			const struct go_thread *th = &st->threads[k];
			struct task *task = th->tid ? model__task(m, th->tid) : NULL;
			uintptr_t row =
				th->curg ? (uintptr_t)hashmap__get(&st->row_of, th->curg) : 0;

			if (!task || task->pid != st->pid)
				continue;
			task->go_role = go_thread_role__name(go_thread__role(th, &st->gp.layout));
			if (row) {
				task->goid = st->snap.g[row - 1].goid;
				task->go_site = t->sites[st->rows[row - 1].site].id;
			}
		}
	}
}
