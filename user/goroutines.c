// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "goroutines.h"
#include "gocode.h"
#include "gopclntab.h"
#include "gosnap.h"
#include "hashmap.h"
#include "loader.h"
#include "procfs.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT_ATTEMPTS 5 /* scans: a process caught starting up has no goroutines yet */

/* A spawn site's stack as the create probe saw it, symbolized once. */
struct site_stack {
	struct sym_frame frames[GO_MAX_SPAWN_FRAMES];
	int depth;
};

struct go_proc_state {
	pid_t pid;
	bool is_go, maybe_go, probes;
	int attempts;
	char comm[16]; /* when it was tried: a new image (exec) is tried again */
	struct go_process gp;
	struct gopclntab *pcln; /* Go's own line table: file:line for Go frames */
	struct go_snapshot snap;
	uint64_t probes_ns;	 /* when the probes were attached */
	struct hashmap seen;	 /* hash(goid, state) -> first scan that saw it so (ns) */
	struct hashmap live;	 /* goid -> 1, for the last snapshot */
	struct hashmap stacks;	 /* gopc -> struct site_stack */
	struct hashmap first_of; /* group key -> count + 1 at the first scan that saw it */
	struct hashmap peak_of;	 /* group key -> largest count */
};

struct go_tracker {
	struct symbolizer *sym;
	struct loader *ld;
	uint64_t threshold_ns;
	struct hashmap procs; /* pid -> struct go_proc_state */
	struct go_group *groups;
	size_t ngroups, cap;
	struct hashmap group_index; /* group key -> index + 1, during a regroup */
	uint64_t stranded;
	uint64_t now_ns;
	bool states_lost; /* the probes' goroutine map filled: absent records prove nothing */
};

/* Waits the runtime itself says can never end. */
static const char *const forever_reasons[] = {
	"select (no cases)",
	"chan receive (nil chan)",
	"chan send (nil chan)",
};

/* Waits that a leak leaves behind: someone had to send, close, unlock, signal or Done. */
static const char *const leak_prone_reasons[] = {
	"chan receive",	     "chan send",	   "select",
	"semacquire",	     "sync.Cond.Wait",	   "sync.Mutex.Lock",
	"sync.RWMutex.Lock", "sync.RWMutex.RLock", "sync.WaitGroup.Wait",
};

/* Waits that are healthy when long: a connection with nothing to say, a timer. */
static const char *const idle_reasons[] = {
	"IO wait",
	"sleep",
	"timer goroutine (idle)",
	"syscall",
};

static bool listed(const char *const *list, size_t n, const char *state)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], state))
			return true;
	return false;
}

struct go_tracker *go_tracker__new(struct symbolizer *sym, struct loader *ld, uint64_t threshold_ns)
{
	struct go_tracker *t = xcalloc(1, sizeof(*t));

	t->sym = sym;
	t->ld = ld;
	t->threshold_ns = threshold_ns;
	hashmap__init(&t->procs);
	hashmap__init(&t->group_index);
	return t;
}

static void free_values(struct hashmap *m)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(m, &i, &key, &val);)
		free(val);
	hashmap__free(m);
}

static void free_state(struct go_tracker *t, struct go_proc_state *st)
{
	if (st->probes && t->ld)
		loader__detach_go(t->ld, st->pid);
	gopclntab__close(st->pcln);
	go_snapshot__free(&st->snap);
	hashmap__free(&st->seen);
	hashmap__free(&st->live);
	free_values(&st->stacks);
	hashmap__free(&st->first_of);
	hashmap__free(&st->peak_of);
	free(st);
}

void go_tracker__forget(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__del(&t->procs, (uint64_t)pid);

	if (st)
		free_state(t, st);
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
	free(t->groups);
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
}

void go_tracker__on_site(void *tracker, const struct strand_go_site_event *ev)
{
	struct go_tracker *t = tracker;
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)ev->hdr.tgid);
	struct site_stack *s;
	bool in_runtime = true;

	if (!st || !st->is_go || hashmap__get(&st->stacks, ev->gopc))
		return;
	s = xcalloc(1, sizeof(*s));
	/* ips[0] is the probe in runtime.newproc.func1; the runtime's frames come first */
	for (uint32_t i = 0; i < ev->nframes && s->depth < GO_MAX_SPAWN_FRAMES; i++) {
		struct sym_frame *f = &s->frames[s->depth];

		resolve_go(t, st, ev->ips[i], i > 0, f);
		if (in_runtime && f->function && !strncmp(f->function, "runtime.", 8))
			continue;
		in_runtime = false;
		s->depth++;
	}
	hashmap__set(&st->stacks, ev->gopc, s);
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

/* A goroutine's exact wait, from the probes: -1 when unknown. */
static double blocked_for(struct go_tracker *t, struct go_proc_state *st, const struct go_g *g,
			  uint64_t *parent, bool *before_attach)
{
	struct strand_go_state s;
	int err;

	*before_attach = false;
	*parent = g->parent_goid;
	if (!st->probes)
		return -1;
	err = loader__go_state(t->ld, st->pid, g->g, &s);
	if (!err) {
		if (s.flags & STRAND_GO_CREATED)
			*parent = s.parent_goid;
		return s.flags & STRAND_GO_PARKED && t->now_ns > s.park_ns
			       ? (double)(t->now_ns - s.park_ns) / 1e9
			       : -1;
	}
	/* never parked nor created while probed: waiting since before the attach */
	if (err != -ENOENT || t->states_lost || t->now_ns < st->probes_ns)
		return -1;
	*before_attach = true;
	return (double)(t->now_ns - st->probes_ns) / 1e9;
}

static struct go_group *group_of(struct go_tracker *t, struct go_proc_state *st,
				 const struct go_g *g, const char *state, uint64_t key)
{
	uintptr_t idx = (uintptr_t)hashmap__get(&t->group_index, key);
	struct go_group *grp;
	struct strand_go_site site;
	struct site_stack *stack;

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
	grp->blocked_oldest_s = grp->blocked_newest_s = -1;
	grp->site_spawned = grp->site_exited = -1;
	snprintf(grp->state, sizeof(grp->state), "%s", state);
	resolve_go(t, st, g->gopc, true, &grp->created_at);
	resolve_go(t, st, g->startpc, false, &grp->start);
	/* the main goroutine runs the program's main.main: it is the user's */
	grp->runtime = grp->start.function && !strncmp(grp->start.function, "runtime.", 8) &&
		       strcmp(grp->start.function, "runtime.main");
	if ((stack = hashmap__get(&st->stacks, g->gopc))) {
		memcpy(grp->spawn_stack, stack->frames, sizeof(stack->frames));
		grp->spawn_depth = stack->depth;
	}
	if (st->probes && !loader__go_site(t->ld, st->pid, g->gopc, &site)) {
		grp->site_spawned = (int64_t)site.spawned;
		grp->site_exited = (int64_t)site.exited;
	}
	return grp;
}

static void add_to_groups(struct go_tracker *t, struct go_proc_state *st)
{
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		const char *state = state_of(st, g);
		uint64_t key =
			hash_combine(hash_combine(hash_u64((uint64_t)st->pid), g->gopc),
				     hash_combine(g->startpc, g->status << 8 | g->waitreason));
		uint64_t first = (uintptr_t)hashmap__get(
			&st->seen, hash_combine(g->goid, g->status << 8 | g->waitreason));
		struct go_group *grp = group_of(t, st, g, state, key);
		uint64_t parent = 0;
		bool before = false;
		double blocked = (g->status & ~(uint32_t)GO_SCAN) == GO_WAITING
					 ? blocked_for(t, st, g, &parent, &before)
					 : -1;

		grp->count++;
		if (first && (double)(t->now_ns - first) / 1e9 > grp->oldest_wait_s)
			grp->oldest_wait_s = (double)(t->now_ns - first) / 1e9;
		if (blocked >= 0) {
			if (blocked > grp->blocked_oldest_s)
				grp->blocked_oldest_s = blocked;
			if (grp->blocked_newest_s < 0 || blocked < grp->blocked_newest_s)
				grp->blocked_newest_s = blocked;
			grp->blocked_before_attach |= before;
			if (blocked * 1e9 >= (double)t->threshold_ns) {
				grp->blocked_long++;
				grp->orphans += parent && !hashmap__get(&st->live, parent);
			}
		}
		if (grp->ngoids < (int)ARRAY_SIZE(grp->goids))
			grp->goids[grp->ngoids++] = g->goid;
	}
}

static void add_evidence(struct go_group *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_evidence(struct go_group *g, const char *fmt, ...)
{
	va_list ap;

	if (g->nevidence == GO_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(g->evidence[g->nevidence++], sizeof(g->evidence[0]), fmt, ap);
	va_end(ap);
}

/* The verdict and its evidence; first/peak are the group's count at its first scan and its
 * largest since. */
static void judge(struct go_tracker *t, struct go_group *g, uint64_t first, uint64_t peak)
{
	bool grew = first && g->count > first && g->count >= peak;

	if (g->runtime)
		return;
	if (listed(forever_reasons, ARRAY_SIZE(forever_reasons), g->state)) {
		g->verdict = GO_VERDICT_STRANDED;
		g->blocked_long = g->count;
		add_evidence(g, "the runtime says this wait can never end (%s)", g->state);
		return;
	}
	if (!g->blocked_long)
		return;
	if (listed(idle_reasons, ARRAY_SIZE(idle_reasons), g->state)) {
		g->verdict = GO_VERDICT_IDLE;
		add_evidence(g, "blocked %.1f s in %s: a network or timer wait, healthy when long",
			     g->blocked_oldest_s, g->state);
		return;
	}
	if (!listed(leak_prone_reasons, ARRAY_SIZE(leak_prone_reasons), g->state))
		return;
	/* a leak-prone wait, long and never woken: stranded when something else says so */
	if (g->count < 2 && !g->orphans && !grew)
		return;
	g->verdict = GO_VERDICT_STRANDED;
	if (g->blocked_before_attach)
		add_evidence(g,
			     "%" PRIu64 " blocked in %s since before strand attached %.1f s ago, "
			     "never woken since (threshold %.0f s)",
			     g->blocked_long, g->state, g->blocked_oldest_s,
			     (double)t->threshold_ns / 1e9);
	else
		add_evidence(g,
			     "%" PRIu64 " blocked in %s for %.1f s (oldest), never woken since "
			     "they parked (threshold %.0f s)",
			     g->blocked_long, g->state, g->blocked_oldest_s,
			     (double)t->threshold_ns / 1e9);
	if (g->count >= 2)
		add_evidence(g,
			     "%" PRIu64 " goroutines from the same go statement wait the same way",
			     g->count);
	if (g->orphans)
		add_evidence(g, "the goroutine that created %" PRIu64 " of them has exited",
			     g->orphans);
	if (grew)
		add_evidence(g, "the group grew from %" PRIu64 " to %" PRIu64 " during the trace",
			     first, g->count);
}

static int cmp_groups(const void *a, const void *b)
{
	const struct go_group *x = a, *y = b;

	if (x->runtime != y->runtime)
		return x->runtime ? 1 : -1;
	if (x->verdict != y->verdict)
		return x->verdict == GO_VERDICT_STRANDED   ? -1
		       : y->verdict == GO_VERDICT_STRANDED ? 1
							   : 0;
	return x->count > y->count ? -1 : (x->count < y->count);
}

static void regroup(struct go_tracker *t)
{
	uint64_t pid, key, counters[STRAND_CNT__MAX];
	void *val;

	t->ngroups = 0;
	t->stranded = 0;
	hashmap__free(&t->group_index);
	hashmap__init(&t->group_index);
	if (t->ld) {
		loader__read_counters(t->ld, counters);
		t->states_lost = counters[STRAND_CNT_GO_STATE_FULL] > 0;
	}
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);)
		if (((struct go_proc_state *)val)->is_go)
			add_to_groups(t, val);
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
		g->peak = peak;
		judge(t, g, first - 1, peak);
		if (g->verdict == GO_VERDICT_STRANDED)
			t->stranded += g->blocked_long;
	}
	hashmap__free(&t->group_index);
	hashmap__init(&t->group_index);
	if (t->ngroups)
		qsort(t->groups, t->ngroups, sizeof(*t->groups), cmp_groups);
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
	}
	hashmap__free(&st->seen);
	st->seen = next;
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
	hashmap__init(&st->stacks);
	hashmap__init(&st->first_of);
	hashmap__init(&st->peak_of);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	st->pcln = gopclntab__open(exe, &err);
	st->maybe_go = st->pcln || golayout__is_go(exe);
	hashmap__set(&t->procs, (uint64_t)pid, st);
	return st;
}

enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);
	char comm[16];

	t->now_ns = now;
	procfs__comm(pid, comm, sizeof(comm));
	if (st && strcmp(st->comm, comm)) { /* exec'd since it was tried */
		go_tracker__forget(t, pid);
		st = NULL;
	}
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
	t->now_ns = now_mono_ns();
	if (go_process__snapshot(&st->gp, &st->snap) == 0)
		update_seen(st, t->now_ns);
	regroup(t);
	return GO_TRACKED;
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
		};
	}
	return n;
}
