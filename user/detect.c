// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "detect.h"
#include "fdinfo.h"
#include "tcpdiag.h"
#include "util.h"
#include "waits.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLOCK_MAX_CHAIN 32

struct history {
	uint64_t first, last, peak;
	bool shrank;
	pid_t pid;
};

struct detector {
	struct model *model;
	struct wait_table *wt;
	uint64_t threshold_ns;
	struct hashmap history; /* group key -> struct history */
	struct detection last;
	bool have_last;
};

const char *verdict__name(enum verdict v)
{
	switch (v) {
	case VERDICT_IDLE:
		return "idle";
	case VERDICT_STRANDED:
		return "stranded";
	case VERDICT_DEADLOCK:
		return "deadlock";
	default:
		return "blocked";
	}
}

struct detector *detector__new(struct model *m, struct wait_table *wt, uint64_t threshold_ns)
{
	struct detector *d = xcalloc(1, sizeof(*d));

	d->model = m;
	d->wt = wt;
	d->threshold_ns = threshold_ns;
	hashmap__init(&d->history);
	return d;
}

void detection__free(struct detection *det)
{
	for (size_t i = 0; i < det->n; i++)
		free(det->groups[i].wait_stack);
	free(det->groups);
	hashmap__free(&det->group_of);
	memset(det, 0, sizeof(*det));
}

void detector__free(struct detector *d)
{
	uint64_t key;
	void *val;

	if (!d)
		return;
	for (size_t i = 0; hashmap__next(&d->history, &i, &key, &val);)
		free(val);
	hashmap__free(&d->history);
	detection__free(&d->last);
	free(d);
}

uint64_t detector__threshold(struct detector *d)
{
	return d->threshold_ns;
}

const struct detection *detector__last(struct detector *d)
{
	return d->have_last ? &d->last : NULL;
}

/* tcp_info says the peer spoke last (or in the same tick as we did): whatever we asked was
 * answered, this read waits for more. */
static bool tcp_answered(int speaker)
{
	return speaker == TCP_SPEAKER_PEER || speaker == TCP_SPEAKER_TIE;
}

/* Tasks whose wait's object is never expected to end by itself. */
static bool leak_prone(const struct task_wait *w)
{
	switch (w->kind) {
	case WAIT_MUTEX:
	case WAIT_CONDVAR:
	case WAIT_SEMAPHORE:
	case WAIT_JOIN:
	case WAIT_FUTEX:
		return true;
	case WAIT_READ:
		/* a pipe whose write end this very process holds (and nothing writes: another
		 * process's writer, as in a shell pipeline, is just not done), or a call out to
		 * a peer that did not answer; an accepted connection
		 * waiting for its client's next request is a keep-alive reader, and a connection
		 * whose peer spoke last a quiet stream or an idle pooled one: idle */
		return (w->fd_kind == FD_PIPE && w->pipe_write_fd >= 0) ||
		       (w->fd_kind == FD_SOCKET && !w->inbound && !tcp_answered(w->tcp_speaker));
	case WAIT_EPOLL:
		return w->epoll_fds == 0;
	default:
		return false;
	}
}

static bool is_futex(enum wait_kind k)
{
	return k == WAIT_MUTEX || k == WAIT_CONDVAR || k == WAIT_SEMAPHORE || k == WAIT_JOIN ||
	       k == WAIT_FUTEX;
}

static uint64_t group_key(const struct task *t)
{
	const struct task_wait *w = t->wait;
	/* a Go program's threads come from the runtime's few thread-creating paths: what
	 * tells them apart is the goroutine they are in a system call for */
	uint64_t spawned = t->go_site ? 1ULL << 32 | t->go_site : t->site ? t->site->id : 0;
	uint64_t h = hash_combine(hash_u64((uint64_t)t->pid), spawned);

	/* the wait site: the stack where there is one, the syscall and kind otherwise */
	if (w->stack_hash)
		return hash_combine(h, w->stack_hash);
	return hash_combine(hash_combine(h, (uint64_t)w->syscall), w->kind);
}

/* Follows mutex owners from t; true when the chain comes back to t. */
static bool in_deadlock(struct model *m, const struct task *t, pid_t *cycle, int *ncycle)
{
	const struct task *cur = t;

	*ncycle = 0;
	for (int i = 0; i < DEADLOCK_MAX_CHAIN; i++) {
		if (!cur->wait || cur->wait->kind != WAIT_MUTEX || !cur->wait->lock_owner)
			return false;
		cycle[(*ncycle)++] = cur->tid;
		cur = model__task(m, cur->wait->lock_owner);
		if (!cur || cur->pid != t->pid)
			return false;
		if (cur == t)
			return true;
	}
	return false;
}

struct judged {
	enum verdict verdict;
	char evidence[GROUP_MAX_EVIDENCE][192];
	int n;
};

static void add(struct judged *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct judged *j, const char *fmt, ...)
{
	va_list ap;

	if (j->n == GROUP_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(j->evidence[j->n++], sizeof(j->evidence[0]), fmt, ap);
	va_end(ap);
}

static void describe_owner(struct detector *d, const struct task *t, struct judged *j)
{
	pid_t owner = t->wait->lock_owner;
	const struct task *o = owner ? model__task(d->model, owner) : NULL;

	if (!owner)
		return;
	if (!o || o->pid != t->pid)
		add(j, "the mutex is held by tid %d, which has exited: nothing can unlock it",
		    owner);
	else if (o->wait)
		add(j, "the mutex is held by tid %d (%s), itself blocked in %s", owner, o->name,
		    o->wait->reason);
	else
		add(j, "the mutex is held by tid %d (%s)", owner, o->name);
}

static void judge(struct detector *d, const struct task *t, uint64_t now, struct judged *j)
{
	const struct task_wait *w = t->wait;
	double age = (double)(now - w->since_ns) / 1e9;
	uint64_t wakes, last_wake;
	const struct task *parent;
	pid_t cycle[DEADLOCK_MAX_CHAIN];
	int ncycle;

	memset(j, 0, sizeof(*j));
	if (now - w->since_ns < d->threshold_ns)
		return;
	add(j, "blocked %.1f s%s (threshold %.0f s)", age,
	    w->estimated ? ", since before attach" : "", (double)d->threshold_ns / 1e9);
	if (w->kind == WAIT_MUTEX && in_deadlock(d->model, t, cycle, &ncycle)) {
		char chain[160] = "";
		size_t len = 0;

		for (int i = 0; i < ncycle && len < sizeof(chain); i++)
			len += (size_t)snprintf(chain + len, sizeof(chain) - len, "tid %d -> ",
						cycle[i]);
		if (len < sizeof(chain))
			snprintf(chain + len, sizeof(chain) - len, "tid %d", cycle[0]);
		j->verdict = VERDICT_DEADLOCK;
		add(j, "lock cycle: each waits for a mutex the next one holds: %s", chain);
		return;
	}
	/* In a Go program a bare futex wait is the runtime parking an M (notesleep, stopm)
	 * and an M without a goroutine is the scheduler's (sysmon, idle, spinning): what
	 * goroutines wait on is judged at the goroutine level. A thread in a system call or C
	 * call for its goroutine is judged as any thread (the goroutine takes its verdict),
	 * and so is a pthread mutex or condvar from cgo code (a futex of C keeps its kind) or
	 * a thread C code started, which is no M at all. */
	struct process *p = model__find_process(d->model, t->pid);
	bool goroutine_thread = t->go_role && !strcmp(t->go_role, "syscall");

	if (p && p->go && t->go_role && !goroutine_thread) {
		j->verdict = VERDICT_IDLE;
		add(j, "a thread of the Go runtime (its M is %s): goroutines are judged apart",
		    t->go_role);
		return;
	}
	if (p && p->go && w->kind == WAIT_FUTEX && (!p->go_threads_known || t->go_role)) {
		j->verdict = VERDICT_IDLE;
		add(j, "an OS thread of the Go runtime, parked (goroutines are judged apart)");
		return;
	}
	if (goroutine_thread)
		add(j,
		    "the thread of a goroutine of site g%u (goroutine %llu), in a system call or C "
		    "call for it",
		    t->go_site, (unsigned long long)t->goid);
	if (!leak_prone(w)) {
		j->verdict = VERDICT_IDLE;
		if (w->kind == WAIT_READ && w->fd_kind == FD_SOCKET && !w->inbound)
			add(j, "the peer spoke last (%s): a quiet stream or an idle connection",
			    w->tcp_talk);
		else
			add(j, "%s waits are expected to idle", wait_kind__name(w->kind));
		return;
	}
	wakes = is_futex(w->kind)
			? wait_table__wakes_since(d->wt, t->pid, w->object, w->since_ns, &last_wake)
			: 0;
	if (wakes) {
		j->verdict = VERDICT_IDLE;
		add(j,
		    "other waits on the same futex ended since it blocked (last %.1f s ago): it "
		    "is served, not forgotten",
		    (double)(now - last_wake) / 1e9);
		return;
	}
	j->verdict = VERDICT_STRANDED;
	if (is_futex(w->kind))
		add(j, "no wait on this futex has ended since it blocked");
	if (w->kind == WAIT_MUTEX)
		describe_owner(d, t, j);
	if (w->kind == WAIT_EPOLL)
		add(j, "the epoll set watches no file descriptor: nothing can wake it");
	if (w->kind == WAIT_READ && w->fd_kind == FD_PIPE && w->pipe_write_fd >= 0)
		add(j,
		    "the pipe's write end is open in this process (fd %d) but nothing writes: "
		    "read cannot even see end-of-file",
		    w->pipe_write_fd);
	if (w->kind == WAIT_READ && w->fd_kind == FD_SOCKET)
		add(j, "an outbound connection with no answer and no timeout%s%s",
		    w->tcp_talk[0] ? ": " : "", w->tcp_talk);
	parent = t->parent_tid ? model__task(d->model, t->parent_tid) : NULL;
	if (t->parent_tid && !parent)
		add(j, "its spawner (tid %d) has exited: an orphan", t->parent_tid);
}

static int cmp_groups(const void *a, const void *b)
{
	const struct wait_group *x = a, *y = b;

	if (x->verdict != y->verdict)
		return x->verdict > y->verdict ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->oldest_s > y->oldest_s ? -1 : (x->oldest_s < y->oldest_s);
}

static struct wait_group *find_group(struct detection *det, uint64_t *keys, uint64_t key,
				     size_t *cap)
{
	for (size_t i = 0; i < det->n; i++)
		if (keys[i] == key)
			return &det->groups[i];
	if (det->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		det->groups = xrealloc(det->groups, *cap * sizeof(*det->groups));
	}
	memset(&det->groups[det->n], 0, sizeof(det->groups[0]));
	keys[det->n] = key;
	return &det->groups[det->n++];
}

static void add_to_group(struct detector *d, struct wait_group *g, const struct task *t,
			 const struct judged *j, uint64_t key, uint64_t now)
{
	const struct task_wait *w = t->wait;
	double age = (double)(now - w->since_ns) / 1e9;

	if (!g->count) {
		struct history *h = hashmap__get(&d->history, key);

		g->verdict = j->verdict;
		g->pid = t->pid;
		g->site = t->site;
		g->go_site = t->go_site;
		g->kind = w->kind;
		snprintf(g->reason, sizeof(g->reason), "%s", w->reason);
		if (w->depth) {
			g->wait_stack = xcalloc((size_t)w->depth, sizeof(*g->wait_stack));
			memcpy(g->wait_stack, w->stack, (size_t)w->depth * sizeof(*w->stack));
			g->wait_depth = w->depth;
		}
		for (int i = 0; i < j->n; i++)
			snprintf(g->evidence[i], sizeof(g->evidence[i]), "%s", j->evidence[i]);
		g->nevidence = j->n;
		if (h && h->last > h->first && !h->shrank && g->nevidence < GROUP_MAX_EVIDENCE &&
		    j->verdict == VERDICT_STRANDED)
			snprintf(g->evidence[g->nevidence++], sizeof(g->evidence[0]),
				 "the group only grew during the trace: %llu -> %llu blocked here",
				 (unsigned long long)h->first, (unsigned long long)h->last);
		g->newest_s = age;
	}
	g->count++;
	if (age > g->oldest_s) {
		g->oldest_s = age;
		/* the first evidence line is the age: keep it the oldest member's */
		if (g->nevidence)
			snprintf(g->evidence[0], sizeof(g->evidence[0]), "%s", j->evidence[0]);
	}
	if (age < g->newest_s)
		g->newest_s = age;
	g->estimated |= w->estimated;
	if (g->ntids < GROUP_MAX_TIDS)
		g->tids[g->ntids++] = t->tid;
}

static void record_history(struct detector *d, struct hashmap *counts, struct hashmap *pids)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(counts, &i, &key, &val);) {
		struct history *h = hashmap__get(&d->history, key);
		uint64_t n = (uintptr_t)val;

		if (!h) {
			h = xcalloc(1, sizeof(*h));
			h->first = n;
			h->pid = (pid_t)(uintptr_t)hashmap__get(pids, key);
			hashmap__set(&d->history, key, h);
		}
		if (n < h->last)
			h->shrank = true;
		h->last = n;
		if (n > h->peak)
			h->peak = n;
	}
	/* groups that emptied shrank */
	for (size_t i = 0; hashmap__next(&d->history, &i, &key, &val);) {
		struct history *h = val;

		if (!hashmap__get(counts, key) && h->last) {
			h->shrank = true;
			h->last = 0;
		}
	}
}

/* Each judged thread's group, once the groups are sorted: found again by their first
 * member, whose key says which group it is. */
static void index_by_tid(struct detection *det, const struct hashmap *tids)
{
	struct hashmap index; /* group key -> sorted index + 1 */
	uint64_t tid;
	void *key;

	hashmap__init(&index);
	for (size_t i = 0; i < det->n; i++) {
		const struct wait_group *g = &det->groups[i];
		uint64_t k = (uintptr_t)hashmap__get(tids, (uint64_t)g->tids[0]);

		hashmap__set(&index, k, (void *)(uintptr_t)(i + 1));
	}
	for (size_t i = 0; hashmap__next(tids, &i, &tid, &key);)
		hashmap__set(&det->group_of, tid, hashmap__get(&index, (uintptr_t)key));
	hashmap__free(&index);
}

const struct wait_group *detection__group_of(const struct detection *det, pid_t tid)
{
	uintptr_t i = det ? (uintptr_t)hashmap__get(&det->group_of, (uint64_t)tid) : 0;

	return i ? &det->groups[i - 1] : NULL;
}

void detector__observe(struct detector *d, uint64_t now)
{
	size_t ntasks, cap = 0;
	struct task **tasks = model__sorted_tasks(d->model, &ntasks);
	uint64_t *keys = xcalloc(ntasks + 1, sizeof(*keys)); /* one per group at most */
	struct detection det = {.at_ns = now};
	struct hashmap counts, pids, tids; /* tid -> its group's key */

	hashmap__init(&counts);
	hashmap__init(&pids);
	hashmap__init(&tids);
	hashmap__init(&det.group_of);
	for (size_t i = 0; i < ntasks; i++) {
		const struct task *t = tasks[i];
		uint64_t key;

		if (!t->wait)
			continue;
		det.blocked++;
		key = group_key(t);
		hashmap__set(&counts, key, (void *)((uintptr_t)hashmap__get(&counts, key) + 1));
		hashmap__set(&pids, key, (void *)(uintptr_t)t->pid);
	}
	record_history(d, &counts, &pids);
	hashmap__free(&counts);
	hashmap__free(&pids);

	for (size_t i = 0; i < ntasks; i++) {
		const struct task *t = tasks[i];
		struct judged j;
		uint64_t key;

		if (!t->wait)
			continue;
		judge(d, t, now, &j);
		if (j.verdict == VERDICT_NONE)
			continue;
		key = hash_combine(group_key(t), j.verdict);
		add_to_group(d, find_group(&det, keys, key, &cap), t, &j, group_key(t), now);
		hashmap__set(&tids, (uint64_t)t->tid, (void *)(uintptr_t)key);
		if (j.verdict == VERDICT_IDLE)
			det.idle++;
		else if (j.verdict == VERDICT_STRANDED)
			det.stranded++;
		else
			det.deadlocked++;
	}
	if (det.n)
		qsort(det.groups, det.n, sizeof(*det.groups), cmp_groups);
	index_by_tid(&det, &tids);
	hashmap__free(&tids);
	free(keys);
	free(tasks);
	detection__free(&d->last);
	d->last = det;
	d->have_last = true;
}

void detector__forget(struct detector *d, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&d->history, &i, &key, &val);)
		if (((struct history *)val)->pid == pid)
			free(hashmap__del(&d->history, key));
}
