// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collect/model.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *task_kind__name(enum task_kind kind)
{
	return kind == TASK_PROCESS ? "process" : "thread";
}

void model__init(struct model *m, size_t max_tasks)
{
	memset(m, 0, sizeof(*m));
	hashmap__init(&m->tasks);
	hashmap__init(&m->untracked);
	hashmap__init(&m->site_by_key);
	hashmap__init(&m->site_by_coarse);
	hashmap__init(&m->site_by_path);
	hashmap__init(&m->procs);
	m->max_tasks = max_tasks;
}

static void process__free(struct process *p)
{
	if (p) {
		free(p->exe);
		free(p->exec_path);
	}
	free(p);
}

void model__free(struct model *m)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&m->tasks, &i, &key, &val);) {
		task__clear_wait(val);
		free(val);
	}
	for (size_t i = 0; hashmap__next(&m->procs, &i, &key, &val);)
		process__free(val);
	for (size_t i = 0; i < m->nsites; i++) {
		hashmap__free(&m->sites[i]->children);
		free(m->sites[i]->stack);
		free(m->sites[i]);
	}
	free(m->sites);
	hashmap__free(&m->tasks);
	hashmap__free(&m->untracked);
	hashmap__free(&m->site_by_key);
	hashmap__free(&m->site_by_coarse);
	hashmap__free(&m->site_by_path);
	hashmap__free(&m->procs);
}

struct process *model__find_process(struct model *m, pid_t pid)
{
	return hashmap__get(&m->procs, (uint64_t)pid);
}

/* What the process is: its executable, and the path it was run by (a symlink's). */
static void read_names(struct process *p)
{
	char path[64], exe[4096];
	ssize_t n;

	free(p->exe);
	free(p->exec_path);
	p->exe = p->exec_path = NULL;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0)
		p->exe = strndup(exe, (size_t)n);
	procfs__exec_path(p->pid, exe, sizeof(exe));
	if (exe[0])
		p->exec_path = strdup(exe);
}

void model__process_exec(struct model *m, pid_t pid, const char *comm)
{
	read_names(model__process(m, pid, comm));
}

struct process *model__process(struct model *m, pid_t pid, const char *comm)
{
	struct process *p = model__find_process(m, pid);

	if (!p) {
		p = xcalloc(1, sizeof(*p));
		p->pid = pid;
		read_names(p);
		if (!comm || !*comm) /* first seen through another thread than its main one */
			procfs__comm(pid, p->comm, sizeof(p->comm));
		hashmap__set(&m->procs, (uint64_t)pid, p);
	}
	if (comm && *comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	return p;
}

static struct site *new_site(struct model *m, pid_t pid, enum task_kind kind)
{
	struct site *s = xcalloc(1, sizeof(*s));

	s->id = ++m->next_site_id;
	s->pid = pid;
	s->kind = kind;
	hashmap__init(&s->children);
	if (m->nsites == m->sites_cap) {
		m->sites_cap = m->sites_cap ? m->sites_cap * 2 : 16;
		m->sites = xrealloc(m->sites, m->sites_cap * sizeof(*m->sites));
	}
	m->sites[m->nsites++] = s;
	return s;
}

static struct task *new_task(struct model *m, pid_t pid, pid_t tid)
{
	struct task *t = hashmap__get(&m->tasks, (uint64_t)tid);

	if (t) /* tid reuse: the exit of the previous owner was lost */
		return t;
	if (m->max_tasks && m->tasks.len >= m->max_tasks) {
		m->drops.task_limit++;
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->tid = tid;
	t->pid = pid;
	hashmap__set(&m->tasks, (uint64_t)tid, t);
	return t;
}

static void site_born(struct site *s, uint64_t ts_ns)
{
	s->live++;
	if (s->live > s->peak_live)
		s->peak_live = s->live;
	if (!s->first_ns)
		s->first_ns = ts_ns;
	s->last_ns = ts_ns;
}

/* The site of a process's tasks that were alive when the trace began. */
static struct site *before_site(struct model *m, struct process *p)
{
	if (!p->before_site) {
		p->before_site = new_site(m, p->pid, TASK_THREAD);
		p->before_site->before_attach = true;
	}
	return p->before_site;
}

void model__add_existing(struct model *m, pid_t pid, pid_t tid, const char *name, uint64_t birth_ns)
{
	struct process *p = model__process(m, pid, NULL);
	struct task *t;

	if (hashmap__get(&m->tasks, (uint64_t)tid))
		return; /* already seen through an event */
	before_site(m, p);
	t = new_task(m, pid, tid);
	if (!t)
		return;
	t->site = p->before_site;
	t->before_attach = true;
	t->birth_ns = birth_ns;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	site_born(p->before_site, birth_ns);
	m->before_attach++;
}

static uint64_t key_hash(pid_t pid, uint64_t key)
{
	return hash_combine(hash_u64((uint64_t)pid), key);
}

struct site *model__site_by_key(struct model *m, pid_t pid, uint64_t key)
{
	return hashmap__get(&m->site_by_key, key_hash(pid, key));
}

void model__alias_key(struct model *m, pid_t pid, uint64_t key, struct site *site)
{
	hashmap__set(&m->site_by_key, key_hash(pid, key), site);
}

void model__learn_coarse(struct model *m, pid_t pid, uint64_t coarse, struct site *site)
{
	if (!model__coarse_learned(m, pid, coarse))
		hashmap__set(&m->site_by_coarse, key_hash(pid, coarse), site);
}

bool model__coarse_learned(struct model *m, pid_t pid, uint64_t coarse)
{
	return hashmap__get(&m->site_by_coarse, key_hash(pid, coarse)) != NULL;
}

struct site *model__site_by_path(struct model *m, pid_t pid, enum task_kind kind,
				 uint64_t start_routine, const uint64_t *path, int depth,
				 bool *is_new)
{
	uint64_t h = hash_combine(key_hash(pid, start_routine), (uint64_t)kind);
	struct site *s;

	for (int i = 0; i < depth; i++)
		h = hash_combine(h, path[i]);
	s = hashmap__get(&m->site_by_path, h);
	*is_new = !s;
	if (!s) {
		s = new_site(m, pid, kind);
		s->start_routine = start_routine;
		hashmap__set(&m->site_by_path, h, s);
	}
	return s;
}

static struct site *unresolved_site(struct model *m, pid_t pid, enum task_kind kind)
{
	/* the path hash of "no frames, no start routine, unresolved" */
	uint64_t h = hash_combine(key_hash(pid, ~0ULL), (uint64_t)kind);
	struct site *s = hashmap__get(&m->site_by_path, h);

	if (!s) {
		s = new_site(m, pid, kind);
		s->unresolved = true;
		hashmap__set(&m->site_by_path, h, s);
	}
	return s;
}

struct site *model__fallback_site(struct model *m, pid_t pid, enum task_kind kind, uint64_t coarse)
{
	struct site *s = hashmap__get(&m->site_by_coarse, key_hash(pid, coarse));

	if (s) {
		m->drops.coarse_attributed++;
		return s;
	}
	m->drops.unresolved_spawns++;
	return unresolved_site(m, pid, kind);
}

void model__spawn(struct model *m, struct site *site, pid_t pid, pid_t tid, pid_t parent_tid,
		  uint64_t ts_ns)
{
	struct task *t = new_task(m, pid, tid);
	uint64_t children;

	m->spawned++;
	site->spawned++;
	children = (uintptr_t)hashmap__get(&site->children, (uint64_t)parent_tid) +
		   (1ULL << 32 | (t ? 1 : 0));
	if (children >> 32 == 1)
		site->parents++;
	hashmap__set(&site->children, (uint64_t)parent_tid, (void *)(uintptr_t)children);
	if (children >> 32 > site->max_children) {
		site->max_children = children >> 32;
		site->max_parent = parent_tid;
	}
	if ((uint32_t)children > site->max_live_children) {
		site->max_live_children = (uint32_t)children;
		site->max_live_parent = parent_tid;
	}
	if (!t) { /* past the limit: ~24 bytes instead of a task, so its site's counts hold */
		hashmap__set(&m->untracked, (uint64_t)tid, site);
		site_born(site, ts_ns);
		return;
	}
	t->kind = site->kind;
	t->site = site;
	t->parent_tid = parent_tid;
	t->birth_ns = ts_ns;
	site_born(site, ts_ns);
}

/* Whether a task never seen was alive when its process's threads began to be listed, and
 * exited before the listing came to it: nothing of it was lost. */
static bool exited_while_listed(struct model *m, pid_t pid, uint64_t birth_ns)
{
	struct process *p = model__find_process(m, pid);
	uint64_t listed = m->all_listed_ns;

	if (p && p->listed_ns > listed)
		listed = p->listed_ns;
	return birth_ns && birth_ns < listed;
}

void model__exit(struct model *m, pid_t pid, pid_t tid, uint64_t ts_ns, uint64_t birth_ns)
{
	struct task *t = hashmap__del(&m->tasks, (uint64_t)tid);

	(void)ts_ns;
	if (!t) {
		struct site *s = hashmap__del(&m->untracked, (uint64_t)tid);

		if (!s && exited_while_listed(m, pid, birth_ns)) {
			s = before_site(m, model__process(m, pid, NULL));
			m->before_attach++;
			s->live++; /* counted born, for the exit below */
		}
		if (!s) {
			m->drops.unknown_exits++;
			return;
		}
		m->exited++;
		s->live--;
		s->exited++;
		return;
	}
	m->exited++;
	if (t->site) {
		uint64_t children =
			(uintptr_t)hashmap__get(&t->site->children, (uint64_t)t->parent_tid);

		t->site->live--;
		t->site->exited++;
		if (t->parent_tid && (uint32_t)children) /* one alive child fewer */
			hashmap__set(&t->site->children, (uint64_t)t->parent_tid,
				     (void *)(uintptr_t)(children - 1));
	}
	task__clear_wait(t);
	free(t);
}

void model__process_exit(struct model *m, pid_t pid, int exit_code)
{
	struct process *p = model__process(m, pid, NULL);

	p->exited = true;
	p->exit_code = exit_code;
}

static int cmp_sites(const void *a, const void *b)
{
	const struct site *x = *(struct site *const *)a, *y = *(struct site *const *)b;

	if (x->live != y->live)
		return x->live > y->live ? -1 : 1;
	if (x->spawned != y->spawned)
		return x->spawned > y->spawned ? -1 : 1;
	return x->id < y->id ? -1 : 1;
}

struct site **model__sorted_sites(struct model *m, size_t *n)
{
	struct site **out = xcalloc(m->nsites, sizeof(*out));

	*n = 0;
	for (size_t i = 0; i < m->nsites; i++)
		if (m->sites[i]->spawned || m->sites[i]->live)
			out[(*n)++] = m->sites[i];
	qsort(out, *n, sizeof(*out), cmp_sites);
	return out;
}

static int cmp_tasks(const void *a, const void *b)
{
	const struct task *x = *(struct task *const *)a, *y = *(struct task *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->tid < y->tid ? -1 : (x->tid > y->tid);
}

struct task **model__sorted_tasks(struct model *m, size_t *n)
{
	struct task **out = xcalloc(m->tasks.len, sizeof(*out));
	uint64_t key;
	void *val;

	*n = 0;
	for (size_t i = 0; hashmap__next(&m->tasks, &i, &key, &val);)
		out[(*n)++] = val;
	qsort(out, *n, sizeof(*out), cmp_tasks);
	return out;
}

struct task *model__task(struct model *m, pid_t tid)
{
	return hashmap__get(&m->tasks, (uint64_t)tid);
}

struct shared_frames {
	int refs, depth;
	struct frames_facts facts;
	struct sym_frame f[];
};

static struct shared_frames *shared_of(const struct sym_frame *f)
{
	return (struct shared_frames *)((const char *)f - offsetof(struct shared_frames, f));
}

struct sym_frame *frames__new(const struct sym_frame *f, int depth)
{
	struct shared_frames *s;

	if (depth <= 0)
		return NULL;
	s = xcalloc(1, sizeof(*s) + (size_t)depth * sizeof(*f));
	s->refs = 1;
	s->depth = depth;
	memcpy(s->f, f, (size_t)depth * sizeof(*f));
	return s->f;
}

struct sym_frame *frames__ref(struct sym_frame *f)
{
	if (f)
		shared_of(f)->refs++;
	return f;
}

void frames__release(struct sym_frame *f)
{
	if (f && --shared_of(f)->refs == 0)
		free(shared_of(f));
}

int frames__refs(const struct sym_frame *f)
{
	return f ? shared_of(f)->refs : 0;
}

int frames__depth(const struct sym_frame *f)
{
	return f ? shared_of(f)->depth : 0;
}

struct frames_facts *frames__facts(struct sym_frame *f)
{
	return f ? &shared_of(f)->facts : NULL;
}

void task__clear_wait(struct task *t)
{
	if (!t->wait)
		return;
	frames__release(t->wait->stack);
	free(t->wait);
	t->wait = NULL;
}

void model__sample_sites(struct model *m, uint64_t now_ns)
{
	for (size_t i = 0; i < m->nsites; i++)
		if (!m->sites[i]->before_attach)
			timeline__add(&m->sites[i]->live_over_time, now_ns,
				      (uint32_t)m->sites[i]->live);
}

/* A site of pid that nothing alive comes from any more (a forked child outlives its
 * parent: its task still points at the parent's site). */
static bool site_gone(const struct site *s, pid_t pid)
{
	return s->pid == pid && !s->live;
}

/* Deletes the entries of a key -> site map whose site goes (a deletion leaves a
 * tombstone, so the walk may go on). */
static void drop_sites_of(struct hashmap *map, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(map, &i, &key, &val);)
		if (site_gone(val, pid))
			hashmap__del(map, key);
}

void model__forget_process(struct model *m, pid_t pid)
{
	struct process *p = hashmap__del(&m->procs, (uint64_t)pid);
	uint64_t key;
	void *val;
	size_t n = 0;

	process__free(p);
	for (size_t i = 0; hashmap__next(&m->tasks, &i, &key, &val);) {
		struct task *t = val;

		if (t->pid == pid) /* its exit was lost: it exits now, its site counts it */
			model__exit(m, pid, t->tid, now_mono_ns(), 0);
	}
	for (size_t i = 0; hashmap__next(&m->untracked, &i, &key, &val);)
		if (((struct site *)val)->pid == pid)
			model__exit(m, pid, (pid_t)key, now_mono_ns(), 0);
	drop_sites_of(&m->site_by_key, pid);
	drop_sites_of(&m->site_by_coarse, pid);
	drop_sites_of(&m->site_by_path, pid);
	for (size_t i = 0; i < m->nsites; i++) {
		struct site *s = m->sites[i];

		if (!site_gone(s, pid)) {
			m->sites[n++] = s;
			continue;
		}
		hashmap__free(&s->children);
		free(s->stack);
		free(s);
	}
	m->nsites = n;
}
