// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collect/model.h"
#include "go/gomem.h"
#include "go/gotrack.h"
#include "lib/phases.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/elfsym.h"
#include "sym/gopclntab.h"
#include "sys/procfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LAYOUT_ATTEMPTS 5 /* scans: a process caught starting up has no goroutines yet */

/* What a first scan writes for each g listed: its snapshot entry and its entry in the M
 * layer's index of every g; for each live one: its record, in pages of ROWS_PER_PAGE. (Its
 * index by goroutine id is left out: made once the M layer's is gone, its memory is not
 * more at the peak.) */
#define FIRST_SCAN_LISTED_BYTES (sizeof(struct go_g) + sizeof(struct key_entry))

static size_t first_scan_live_bytes(size_t live)
{
	return (live + ROWS_PER_PAGE - 1) / ROWS_PER_PAGE * BIG_PAGE;
}

struct warm_up {
	pid_t pid;
	size_t max_goroutines;
};

static void *warm_up(void *arg)
{
	struct warm_up w = *(struct warm_up *)arg;
	uint64_t listed = 0;
	char exe[64];

	free(arg);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", w.pid);
	/* a section header's look first: a large binary that is not Go has its symbols left be */
	if (!golayout__is_go(exe) || go_process__listed(w.pid, &listed) ||
	    listed < GO_LARGE_SNAPSHOT)
		return NULL;
	if (w.max_goroutines && listed > w.max_goroutines)
		listed = w.max_goroutines;
	/* how many are live is known once the snapshot is read: until then, all of them, the
	 * excess let go then (go_tracker__scan) */
	prefault__reserve(listed * FIRST_SCAN_LISTED_BYTES + first_scan_live_bytes(listed));
	return NULL;
}

void go_tracker__warm_up(pid_t pid, size_t max_goroutines)
{
	struct warm_up *w;
	pthread_attr_t attr;
	pthread_t thread;

	if (cpus_usable() < 2 || pthread_attr_init(&attr))
		return;
	w = xmalloc(sizeof(*w));
	*w = (struct warm_up){pid, max_goroutines};
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, warm_up, w))
		free(w);
	pthread_attr_destroy(&attr);
}

struct go_tracker *go_tracker__new(struct symbolizer *sym, struct loader *ld, uint64_t threshold_ns,
				   uint64_t runaway, size_t max_goroutines)
{
	struct go_tracker *t = xcalloc(1, sizeof(*t));

	t->sym = sym;
	t->ld = ld;
	t->threshold_ns = threshold_ns;
	t->runaway = runaway;
	t->max_goroutines = max_goroutines;
	t->started_ns = now_mono_ns();
	hashmap__init(&t->procs);
	hashmap__init(&t->group_index);
	hashmap__init(&t->strings);
	hashmap__init(&t->tables);
	return t;
}

/* Go's line table of a binary, read (and copied: megabytes for a large program) once for
 * every process that runs it, not once per process. */
struct shared_table {
	struct gopclntab *t;
	int refs;
};

static struct gopclntab *table_get(struct go_tracker *t, const char *exe, uint64_t *key)
{
	struct shared_table *s;
	struct stat sb;
	int err;

	*key = 0;
	if (stat(exe, &sb))
		return NULL;
	*key = file_key(&sb);
	s = hashmap__get(&t->tables, *key);
	if (!s) {
		struct gopclntab *tab = gopclntab__open(exe, &err);

		if (!tab)
			return NULL;
		s = xcalloc(1, sizeof(*s));
		s->t = tab;
		hashmap__set(&t->tables, *key, s);
	}
	s->refs++;
	return s->t;
}

static void table_put(struct go_tracker *t, uint64_t key)
{
	struct shared_table *s = key ? hashmap__get(&t->tables, key) : NULL;

	if (!s || --s->refs)
		return;
	hashmap__del(&t->tables, key);
	gopclntab__close(s->t);
	free(s);
}

/* Everything that follows the live process; what the report needs of it stays. */
static void release_live_state(struct go_tracker *t, struct go_proc_state *st)
{
	if (st->create_probes && t->ld)
		loader__detach_go(t->ld, st->pid);
	st->probes = st->create_probes = false;
	if (st->exit_armed && t->ld)
		loader__detach_exit_hold(t->ld, st->pid);
	if (st->pcln)
		table_put(t, st->pcln_key);
	st->pcln = NULL;
	go_snapshot__free(&st->snap);
	for (size_t i = 0; i < st->npages; i++)
		go_row_page_free(st->row_pages[i]);
	free(st->row_pages);
	st->row_pages = NULL;
	st->npages = 0;
	go_stack_cache__free(st->stacks);
	st->stacks = NULL;
	go_chan_table__free(&st->chans);
	go_chan_table__init(&st->chans);
	free(st->threads);
	st->threads = NULL;
	st->nthreads = 0;
	st->threads_read = false;
	key_index__free(&st->row_of_goid);
	hashmap__free(&st->curg_row);
	hashmap__free(&st->tid_of);
	hashmap__free(&st->net_of);
	hashmap__free_values(&st->net_fds);
	hashmap__free_values(&st->heap_of);
	go_heap__free(st->heap);
	st->heap = NULL;
	hashmap__free(&st->unreached);
	hashmap__free(&st->lost);
	hashmap__free(&st->chan_elems);
	hashmap__free_values(&st->select_cases);
	hashmap__free(&st->first_of);
	hashmap__free(&st->returned_of);
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
	hashmap__free_values(&t->strings);
	hashmap__free(&t->tables); /* emptied by the states' release */
	free(t->groups);
	free(t->sites);
	free(t);
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
	s->id = ++t->next_site_id;
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
	uint32_t idx;

	if (!st || !st->is_go || st->exited)
		return;
	/* two statements: go_site_for may move t->sites, and C does not say whether the
	 * array is read before or after the call in t->sites[go_site_for(...)] */
	idx = go_site_for(t, st, ev->gopc, ev->startpc);
	s = &t->sites[idx];
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

/* Counts the shed probes missed, raised to what the scans prove: goroutines alive at a scan
 * beyond those alive at the first were made since, and of those and the first's, the ones
 * not alive now have exited (the probes' counts, which began a moment before the first
 * scan, are not mixed in). Lower bounds still. */
static void partial_counts_from_scans(struct go_site *s)
{
	int64_t gone = (int64_t)(s->made_seen + s->live_at_first) - (int64_t)s->live;

	if ((int64_t)s->made_seen > s->spawned)
		s->spawned = (int64_t)s->made_seen;
	if (gone > s->exited)
		s->exited = gone;
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
	/* a fan-out's children come one after the other: their parent is looked up once */
	uint64_t last_parent = 0;
	bool orphan = false;

	for (size_t i = 0; i < st->snap.n; i++) {
		struct go_site *s = &t->sites[go_row(st, i)->site];
		uint64_t parent = st->snap.g[i].parent_goid;

		if (parent != last_parent) {
			last_parent = parent;
			orphan = parent && !go_row_of_goid(st, parent);
		}
		s->live++;
		s->orphans += orphan;
	}
	/* those past the limit, at the sites the kept ones made known */
	for (size_t i = 0; hashmap__next(&st->snap.untracked_gopc, &i, &gopc, &val);) {
		void *site = hashmap__get(&st->site_of, gopc);

		if (site)
			t->sites[(uintptr_t)site - 1].live += (uintptr_t)val;
	}
	for (size_t i = 0; hashmap__next(&st->site_of, &i, &gopc, &val);) {
		struct go_site *s = &t->sites[(uintptr_t)val - 1];
		struct strand_go_site ks;
		bool have_ks = false;

		if (s->live > s->peak)
			s->peak = s->live;
		if (st->first_scan_ns == t->now_ns)
			s->live_at_first = s->live;
		else if (s->live > s->live_at_first && s->live - s->live_at_first > s->made_seen)
			s->made_seen = s->live - s->live_at_first;
		timeline__add(&s->live_over_time, t->now_ns, (uint32_t)s->live);
		if (st->create_probes && !loader__go_site(t->ld, st->pid, gopc, &ks)) {
			have_ks = true;
			s->spawned = (int64_t)ks.spawned;
			s->exited = (int64_t)ks.exited;
			s->counts_partial = st->sheds > 0;
			if (s->counts_partial)
				partial_counts_from_scans(s);
			s->parents = ks.parents;
			s->max_children = ks.max_children;
			s->max_parent_goid = ks.max_parent;
			if (ks.peak_live > s->peak)
				s->peak = ks.peak_live;
		}
		for (int k = 0; st->create_probes && k < s->ncallers; k++)
			loader__go_caller(t->ld, st->pid, have_ks ? &ks : NULL, gopc,
					  s->callers[k].pc, &s->callers[k].spawned);
	}
}

static void arm_exit(struct go_tracker *t, struct go_proc_state *st);

/* The runtime probes, and the budget of those that have one. */
static void attach_probes(struct go_tracker *t, struct go_proc_state *st)
{
	go_attach_probes(t, st);
	go_budget__arm(t, st);
}

static struct go_proc_state *new_state(struct go_tracker *t, pid_t pid, const char *comm)
{
	struct go_proc_state *st = xcalloc(1, sizeof(*st));
	char exe[64];

	st->pid = pid;
	snprintf(st->comm, sizeof(st->comm), "%s", comm);
	st->born_before = procfs__birth_ns(pid) < t->started_ns;
	hashmap__init(&st->site_of);
	hashmap__init(&st->curg_row);
	hashmap__init(&st->tid_of);
	hashmap__init(&st->net_of);
	hashmap__init(&st->net_fds);
	hashmap__init(&st->heap_of);
	hashmap__init(&st->first_of);
	hashmap__init(&st->returned_of);
	hashmap__init(&st->peak_of);
	go_chan_table__init(&st->chans);
	st->stacks = go_stack_cache__new();
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	st->pcln = table_get(t, exe, &st->pcln_key);
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
	if (st && !st->exited && strcmp(st->comm, comm)) { /* exec'd since it was tried */
		free_state(t, hashmap__del(&t->procs, (uint64_t)pid));
		st = NULL;
	}
	/* gone, or read on its way out: what it left is what the report says */
	if (st && (st->exited || st->exit_read))
		return st->is_go ? GO_TRACKED : GO_NOT_GO;
	if (!st)
		st = new_state(t, pid, comm);
	/* the state this scan holds (an exec seen by comm is the check above: a second look at
	 * the comm here could free it from under the scan) */
	arm_exit(t, st);
	/* a process held on its way out has all the goroutines it will ever have: one more try */
	if (!st->is_go && st->maybe_go && (st->attempts < LAYOUT_ATTEMPTS || st->at_exit)) {
		int err = go_process__open(pid, st->pcln, &st->gp);

		st->is_go = !err;
		st->attempts = err == -ENODATA ? st->attempts + 1 : LAYOUT_ATTEMPTS;
		if (err && err != -ENODATA && !st->gp.problem[0])
			snprintf(st->gp.problem, sizeof(st->gp.problem), "%s", strerror(-err));
		/* probes first, then the snapshot: nothing falls between the two (and none
		 * for a process on its way out) */
		if (st->is_go && !st->at_exit)
			attach_probes(t, st);
	}
	if (!st->is_go)
		return !st->maybe_go			? GO_NOT_GO
		       : st->attempts < LAYOUT_ATTEMPTS ? GO_NOT_YET
							: GO_UNSUPPORTED;
	if (!st->switch_known && st->pcln) {
		uint64_t lo, hi;

		st->switch_known = true;
		if (!gopclntab__function(st->pcln, "runtime.systemstack_switch", &lo, &hi))
			go_stack_cache__set_switch(st->stacks, lo + st->gp.bias, hi + st->gp.bias);
	}
	phase__done("Go runtime layout read, probes attached");
	go_find_wait_fields(st);
	go_find_wait_layout(st);
	go_find_parent(st);
	t->now_ns = now_mono_ns();
	go_budget__check(t, st);
	if (go_budget__rearm_due(t, st))
		attach_probes(t, st);
	phase__done("wait and parent fields found");
	st->gp.max_goroutines = t->max_goroutines;
	st->snap.want_all = go_m_layer_due(st);
	if (go_process__snapshot(&st->gp, &st->snap) == 0) {
		phase__done("goroutines read (snapshot)");
		/* of a reserve for the first scan, what its live goroutines will not write */
		prefault__trim(first_scan_live_bytes(st->snap.n));
		st->exit_read = st->at_exit;
		go_find_m_layer(t, st);
		phase__done("M layer proved");
		go_read_threads(st);
		go_read_netwaits(st);
		phase__done("threads' goroutines, netpoll waits read");
		go_rows__update_seen(st, t->now_ns);
		phase__done("goroutine records updated");
		go_rows__read(t, st);
		sample_sites(t, st);
		phase__done("spawn sites sampled");
		if (!st->at_exit) {
			go_check_deadlock(t, st);
			phase__done("deadlocks checked");
			go_prove_lost(t, st);
		}
		phase__done("lost goroutines proved");
	}
	return GO_TRACKED;
}

void go_tracker__exact_waits(struct go_tracker *t, bool exact)
{
	t->exact_waits = exact;
}

void go_tracker__hold_exits(struct go_tracker *t, bool hold, bool leaks)
{
	t->hold_exits = hold;
	t->exit_leaks = leaks;
}

/* st's exit hold, armed once. */
static void arm_exit(struct go_tracker *t, struct go_proc_state *st)
{
	uint64_t lo, hi, offset;
	pid_t pid = st->pid;
	char exe[64];
	int err;

	if (!t->hold_exits || !t->ld || st->exit_armed || st->exited || !st->pcln)
		return;
	st->exit_armed = true;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	/* main's return, os.Exit, a fatal error and a panic all leave through runtime.exit */
	if (gopclntab__function(st->pcln, "runtime.exit", &lo, &hi) ||
	    elfsym__file_offset(exe, lo, &offset))
		return;
	err = loader__attach_exit_hold(t->ld, pid, exe, offset, STRAND_EXIT_ABI_GO);
	if (err && err != -ENOTSUP && procfs__exists(pid))
		note("pid %d will not be held on its way out: %s", pid, strerror(-err));
}

void go_tracker__arm_exit(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);
	char comm[16];

	if (!t->hold_exits || !t->ld)
		return;
	procfs__comm(pid, comm, sizeof(comm));
	if (st && !st->exited && strcmp(st->comm, comm)) { /* exec'd since it was tried */
		free_state(t, hashmap__del(&t->procs, (uint64_t)pid));
		st = NULL;
	}
	arm_exit(t, st ? st : new_state(t, pid, comm));
}

void go_tracker__at_exit(struct go_tracker *t, pid_t pid, int code)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);

	if (!st)
		return;
	st->at_exit = true;
	st->exit_code = code;
}

void go_tracker__forget(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);

	if (!st || st->exited)
		return;
	/* keep what the last regroup said of it, its leaks and the rest: the report's, gone */
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct go_group *g = &t->groups[i];

		if (g->pid != pid || st->nfinal == MAX_FINAL_GROUPS)
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

size_t go_tracker__line_tables(const struct go_tracker *t)
{
	return t->tables.len;
}

void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid,
			uint64_t *untracked, int *processes)
{
	uint64_t pid;
	void *val;

	*live = *invalid = *untracked = 0;
	*processes = 0;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		const struct go_proc_state *st = val;

		if (!st->is_go)
			continue;
		(*processes)++;
		*live += st->snap.n + st->snap.untracked;
		*invalid += st->snap.invalid;
		*untracked += st->snap.untracked;
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
			.probes = st->create_probes,
			.exact_waits = st->probes,
			.probes_shed = st->sheds ? st->shed_why : NULL,
			.probes_shed_ago =
				st->sheds ? (double)(now_mono_ns() - st->shed_ns) / 1e9 : 0,
			.exited = st->exited,
			.walks = st->walks,
			.walk_ns = st->walk_ns,
			.walk_objects = st->walk_objects,
			.walk_bytes = st->walk_bytes,
			.walk_problem = st->walk_why[0] ? st->walk_why : NULL,
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
				th->curg ? (uintptr_t)hashmap__get(&st->curg_row, th->curg) : 0;

			if (!task || task->pid != st->pid)
				continue;
			task->go_role = go_thread_role__name(go_thread__role(th, &st->gp.layout));
			if (row) {
				task->goid = st->snap.g[row - 1].goid;
				task->go_site = t->sites[go_row(st, row - 1)->site].id;
			}
		}
	}
}

/* Site indices are held by every process's site_of and rows, and by the groups: each is
 * moved to where its site went once the purged process's sites are gone. */
void go_tracker__purge(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st;
	uint32_t *to = xcalloc(t->nsites + 1, sizeof(*to));
	size_t n = 0;
	uint64_t key;
	void *val;

	go_tracker__forget(t, pid);
	st = hashmap__del(&t->procs, (uint64_t)pid);
	if (st)
		free_state(t, st);
	for (size_t i = 0; i < t->nsites; i++) {
		if (t->sites[i].pid == pid)
			continue;
		to[i] = (uint32_t)n + 1;
		t->sites[n++] = t->sites[i];
	}
	for (size_t i = 0; hashmap__next(&t->procs, &i, &key, &val);) {
		struct go_proc_state *p = val;

		size_t nk = 0;
		uint64_t *keys = xcalloc(p->site_of.len + 1, sizeof(*keys));

		/* set after the walk: a set may grow the table under it */
		for (size_t k = 0; hashmap__next(&p->site_of, &k, &key, &val);)
			keys[nk++] = key;
		for (size_t k = 0; k < nk; k++) {
			uintptr_t was = (uintptr_t)hashmap__get(&p->site_of, keys[k]);

			hashmap__set(&p->site_of, keys[k], (void *)(uintptr_t)to[was - 1]);
		}
		free(keys);
		for (size_t k = 0; k < p->snap.n; k++)
			go_row(p, k)->site = to[go_row(p, k)->site] - 1;
		for (size_t k = 0; k < p->nfinal; k++)
			p->final[k].site = to[p->final[k].site] - 1;
	}
	/* the groups are the last regroup's: those of pid go, the others follow their site */
	size_t kept = 0;

	for (size_t i = 0; i < t->ngroups; i++) {
		if (t->groups[i].pid == pid)
			continue;
		t->groups[kept] = t->groups[i];
		t->groups[kept++].site = to[t->groups[i].site] - 1;
	}
	t->ngroups = kept;
	t->nsites = n;
	free(to);
}
