// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Thread verdicts (docs/verdicts.md). A verdict is a claim someone acts on, so being blocked
 * long proves nothing: every idle worker is. Each thread blocked past the threshold, in order:
 *   - a cycle of mutex owners: DEADLOCK (proof);
 *   - a Go runtime M, or a thread a runtime starts for itself (JVM, jemalloc, ...): idle,
 *     judged apart;
 *   - a timed wait ends by itself: idle;
 *   - a mutex whose owner no longer exists: STRANDED (proof);
 *   - a wait healthy when long (accept, sleep, a listener, a quiet stream), or one whose
 *     object, or wait site, others were woken from since: idle (served);
 *   - what is left, untimed, leak-prone and never served, takes its group's verdict
 *     (detect_groups.c): STRANDED by the evidence, idle when flat, or none;
 *   - a join or a mutex whose thread is itself stranded or deadlocked: STRANDED (proof,
 *     chained); a join on a live thread that is not: idle.
 * Then the verdicts are grouped by (spawn site, wait site, verdict), with the history of
 * how each wait site grows.
 */
#include "verdicts/detect.h"
#include "collect/wait_decode.h"
#include "collect/waits.h"
#include "lib/util.h"
#include "sys/fdinfo.h"
#include "sys/tcpdiag.h"
#include "verdicts/detect_priv.h"
#include "verdicts/thread_roles.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLOCK_MAX_CHAIN 32

const char *verdict__name(enum verdict v)
{
	switch (v) {
	case VERDICT_CANDIDATE:
		return "candidate";
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

struct detector *detector__new(struct model *m, struct wait_table *wt, uint64_t threshold_ns,
			       uint64_t runaway)
{
	struct detector *d = xcalloc(1, sizeof(*d));

	d->model = m;
	d->wt = wt;
	d->threshold_ns = threshold_ns;
	d->runaway = runaway;
	hashmap__init(&d->history);
	return d;
}

void detector__judge_exits(struct detector *d, bool leaks)
{
	d->exit_leaks = leaks;
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
	if (!d)
		return;
	hashmap__free_values(&d->history);
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

#define NOTE_CHUNK 65536

static const char *arena__copy(struct note_arena *a, const char *s)
{
	size_t len = strlen(s) + 1;
	char *out;

	if (!a->nchunks || NOTE_CHUNK - a->used < len) {
		a->chunks = xrealloc(a->chunks, (a->nchunks + 1) * sizeof(*a->chunks));
		a->chunks[a->nchunks++] = xcalloc(1, NOTE_CHUNK);
		a->used = 0;
	}
	out = a->chunks[a->nchunks - 1] + a->used;
	memcpy(out, s, len);
	a->used += len;
	return out;
}

static void arena__free(struct note_arena *a)
{
	for (size_t i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
}

void note__add(struct note *j, const char *fmt, ...)
{
	char line[sizeof(((struct wait_group *)0)->evidence[0])];
	va_list ap;

	if (j->n == GROUP_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	j->evidence[j->n++] = arena__copy(j->arena, line);
}

/* tcp_info says the peer spoke last (or in the same tick as we did): whatever we asked was
 * answered, this read waits for more. */
static bool tcp_answered(int speaker)
{
	return speaker == TCP_SPEAKER_PEER || speaker == TCP_SPEAKER_TIE;
}

/* A read on a connection this process made whose peer never answered what was sent. */
bool wait__unanswered_call(const struct task_wait *w)
{
	return w->kind == WAIT_READ && w->fd_kind == FD_SOCKET && !w->inbound &&
	       !tcp_answered(w->tcp_speaker);
}

/* Waits whose object is never expected to end by itself. */
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
		/* a pipe whose write end this very process holds (another process's writer, as
		 * in a shell pipeline, is just not done), or a call out to a peer that did not
		 * answer; an accepted connection waiting for its client's next request is a
		 * keep-alive reader, and a connection whose peer spoke last a quiet stream or an
		 * idle pooled one: idle */
		return (w->fd_kind == FD_PIPE && w->pipe_write_fd >= 0) || wait__unanswered_call(w);
	case WAIT_EPOLL:
		return w->epoll_fds == 0;
	default:
		return false;
	}
}

bool wait__is_futex(enum wait_kind k)
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

/* Growth is counted at the wait site, whatever the spawn site: a leak that began before
 * strand attached has threads on both sides (the ones made before, under the "before
 * attach" site), and it is their sum that grows. Without a stack, at the group. */
uint64_t detect__growth_key(const struct task *t, uint64_t group)
{
	/* an interpreter's threads all wait in the same few native frames (CPython's lock,
	 * HotSpot's park): there the stack does not say what the program waits for */
	if (!t->wait->stack_hash || thread_role__parks_per_thread(t->wait))
		return group;
	return hash_combine(hash_combine(hash_u64((uint64_t)t->pid), t->wait->stack_hash), 0x9e0);
}

/* Follows mutex owners from t; true when the chain comes back to t. */
static bool in_deadlock(struct model *m, const struct task *t, pid_t *cycle, int *ncycle)
{
	const struct task *cur = t;

	*ncycle = 0;
	for (int i = 0; i < DEADLOCK_MAX_CHAIN; i++) {
		if (!cur->wait || cur->wait->kind != WAIT_MUTEX || !cur->wait->lock_owner ||
		    wait_timeout__timed(&cur->wait->timeout))
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

static void judge_deadlock(const pid_t *cycle, int ncycle, struct note *j)
{
	char chain[160] = "";
	size_t len = 0;

	for (int i = 0; i < ncycle && len < sizeof(chain); i++)
		len += (size_t)snprintf(chain + len, sizeof(chain) - len, "tid %d -> ", cycle[i]);
	if (len < sizeof(chain))
		snprintf(chain + len, sizeof(chain) - len, "tid %d", cycle[0]);
	j->verdict = VERDICT_DEADLOCK;
	j->proven = true;
	note__add(j, "lock cycle: each waits for a mutex the next one holds: %s", chain);
}

/* The owner of t's mutex, a thread of t's process; NULL when it no longer exists. */
const struct task *detect__mutex_owner(struct detector *d, const struct task *t)
{
	const struct task *o = model__task(d->model, t->wait->lock_owner);

	return o && o->pid == t->pid ? o : NULL;
}

/* Every frame the runtime's, or no stack read: an M parking itself (notesleep under stopm,
 * a GC worker's wait), whether or not the M list read last has it (one made since, or a list
 * read that failed as the process died). Go code blocks goroutines, not threads, on futexes:
 * a thread of C code (cgo) or of a raw syscall has frames of its own. */
static bool runtime_park(const struct task_wait *w)
{
	for (int i = 0; i < w->depth; i++)
		if (!w->stack[i].function || strncmp(w->stack[i].function, "runtime.", 8))
			return false;
	return true;
}

/* A thread of a Go program: the runtime's Ms are judged through their goroutines. true when
 * that settles it. */
static bool judge_go_thread(struct detector *d, const struct task *t, struct note *j)
{
	const struct task_wait *w = t->wait;
	struct process *p = model__find_process(d->model, t->pid);
	bool goroutine_thread = t->go_role && !strcmp(t->go_role, "syscall");

	/* a bare futex wait is the runtime parking an M (notesleep, stopm), and an M without
	 * a goroutine is the scheduler's (sysmon, idle, spinning). A thread in a system call
	 * or C call for its goroutine is judged as any thread (the goroutine takes its
	 * verdict), and so is a pthread mutex or condvar from cgo code or a thread C code
	 * started, which is no M at all. */
	if (p && p->go && t->go_role && !goroutine_thread) {
		j->verdict = VERDICT_IDLE;
		note__add(j,
			  "a thread of the Go runtime (its M is %s): goroutines are judged apart",
			  t->go_role);
		return true;
	}
	if (p && p->go && w->kind == WAIT_FUTEX &&
	    (!p->go_threads_known || t->go_role || runtime_park(w))) {
		j->verdict = VERDICT_IDLE;
		note__add(j,
			  "an OS thread of the Go runtime, parked (goroutines are judged apart)");
		return true;
	}
	if (goroutine_thread)
		note__add(j,
			  "the thread of a goroutine of site g%u (goroutine %llu), in a system "
			  "call or C "
			  "call for it",
			  t->go_site, (unsigned long long)t->goid);
	return false;
}

static void judge_timed(const struct task_wait *w, uint64_t now, struct note *j)
{
	j->verdict = VERDICT_IDLE;
	if (w->timeout_at_ns > now)
		note__add(j, "a timed wait: its timeout ends it in %.1f s at most",
			  (double)(w->timeout_at_ns - now) / 1e9);
	else
		note__add(j, "a timed wait: its timeout ends it");
}

/* Every thread a verdict of its own where one can be had; the rest unsettled. */
static void judge_thread(struct detector *d, const struct task *t, uint64_t now, struct note *j)
{
	const struct task_wait *w = t->wait;
	const struct process *p = model__find_process(d->model, t->pid);
	bool at_exit = d->exit_leaks && p && p->held_at_exit;
	uint64_t wakes, last_wake;
	pid_t cycle[DEADLOCK_MAX_CHAIN];
	int ncycle;

	*j = (struct note){.arena = j->arena};
	j->key = group_key(t);
	j->growth_key = detect__growth_key(t, j->key);
	if (now - w->since_ns < d->threshold_ns && !at_exit)
		return;
	if (!at_exit)
		note__add(
			j, "blocked %.1f s%s (threshold %.0f s)", (double)(now - w->since_ns) / 1e9,
			w->estimated ? ", since before attach" : "", (double)d->threshold_ns / 1e9);
	if (w->kind == WAIT_MUTEX && in_deadlock(d->model, t, cycle, &ncycle)) {
		judge_deadlock(cycle, ncycle, j);
		return;
	}
	if (judge_go_thread(d, t, j))
		return;
	if ((j->role = thread_role__of(t))) {
		j->verdict = VERDICT_IDLE;
		note__add(j, "a thread of the %s (%s): the runtime's own, judged apart",
			  j->role->runtime, j->role->role);
		return;
	}
	if (wait_timeout__timed(&w->timeout)) {
		judge_timed(w, now, j);
		return;
	}
	if (at_exit) {
		j->verdict = VERDICT_STRANDED;
		j->proven = true;
		note__add(j,
			  "still blocked (%s) when the process called exit (status %d), %.1f s "
			  "after it blocked: nothing is left to wake it",
			  wait_kind__name(w->kind), p->exit_status,
			  (double)(now - w->since_ns) / 1e9);
		note__add(
			j,
			"a thread a finished program leaves waiting is a leak, as goleak "
			"says of goroutines (the runtimes' own threads and timed waits excepted)");
		return;
	}
	if (w->kind == WAIT_MUTEX && w->lock_owner && !detect__mutex_owner(d, t)) {
		j->verdict = VERDICT_STRANDED;
		j->proven = true;
		note__add(j,
			  "the mutex is held by tid %d, which no longer exists: the lock died with "
			  "its "
			  "holder, nothing can unlock it",
			  w->lock_owner);
		return;
	}
	if (!leak_prone(w)) {
		j->verdict = VERDICT_IDLE;
		if (w->kind == WAIT_READ && w->fd_kind == FD_SOCKET && !w->inbound)
			note__add(j,
				  "the peer spoke last (%s): a quiet stream or an idle connection",
				  w->tcp_talk);
		else
			note__add(j, "%s waits are expected to idle", wait_kind__name(w->kind));
		return;
	}
	wakes = wait__is_futex(w->kind)
			? wait_table__wakes_since(d->wt, t->pid, w->object, w->since_ns, &last_wake)
			: 0;
	if (!wakes)
		wakes = wait_table__site_wakes_since(d->wt, t->pid, t->site ? t->site->id : 0,
						     w->stack_hash, w->since_ns, &last_wake);
	if (wakes) {
		j->verdict = VERDICT_IDLE;
		note__add(j,
			  "others waiting %s were woken since it blocked (last %.1f s ago): it is "
			  "served, not forgotten",
			  wait__is_futex(w->kind) ? "on the same futex, or at the same wait site,"
						  : "at the same wait site",
			  (double)(now - last_wake) / 1e9);
		return;
	}
	j->unsettled = true;
}

/* ---- threads stuck behind threads stuck for good ----------------------------------------- */

static bool stuck(enum verdict v)
{
	return v == VERDICT_STRANDED || v == VERDICT_DEADLOCK;
}

/* A join waits for its thread to end, a mutex for its owner to unlock: when that thread is
 * itself stranded or deadlocked, so is the waiter (a proof, chained); when it is alive and
 * not, the waiter is served by it in time (a thread joining its worker: idle). */
static bool judge_chains(struct detector *d, struct task **tasks, size_t ntasks, struct note *notes,
			 const struct hashmap *index)
{
	bool changed = false;

	for (size_t i = 0; i < ntasks; i++) {
		const struct task *t = tasks[i];
		const struct task_wait *w = t->wait;
		struct note *j = &notes[i];
		pid_t other;
		uintptr_t k;

		if (!w || j->verdict == VERDICT_NONE || stuck(j->verdict) || j->role ||
		    wait_timeout__timed(&w->timeout))
			continue;
		other = w->kind == WAIT_JOIN	? w->join_tid
			: w->kind == WAIT_MUTEX ? w->lock_owner
						: 0;
		k = other ? (uintptr_t)hashmap__get(index, (uint64_t)other) : 0;
		if (!k || tasks[k - 1]->pid != t->pid)
			continue;
		if (stuck(notes[k - 1].verdict)) {
			j->verdict = VERDICT_STRANDED;
			j->proven = true;
			j->n = 1; /* the age stays; what made it otherwise does not */
			note__add(j, "%s tid %d (%s), itself %s: it can never end",
				  w->kind == WAIT_JOIN ? "it joins" : "the mutex is held by", other,
				  tasks[k - 1]->name, verdict__name(notes[k - 1].verdict));
			changed = true;
		} else if (w->kind == WAIT_JOIN && !j->proven &&
			   !strstr(j->evidence[j->n - 1], "to end, which is")) {
			j->verdict = VERDICT_IDLE;
			j->n = 1;
			note__add(
				j,
				"it waits for tid %d (%s) to end, which is alive and not stuck: a "
				"thread waiting for its worker",
				other, tasks[k - 1]->name);
		}
	}
	return changed;
}

/* ---- groups and their history ------------------------------------------------------------ */

static int cmp_groups(const void *a, const void *b)
{
	const struct wait_group *x = a, *y = b;

	if (x->verdict != y->verdict)
		return x->verdict > y->verdict ? -1 : 1;
	if (!x->role != !y->role)
		return x->role ? 1 : -1;
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

static void add_to_group(struct wait_group *g, const struct task *t, const struct note *j,
			 uint64_t now)
{
	const struct task_wait *w = t->wait;
	double age = (double)(now - w->since_ns) / 1e9;

	if (!g->count) {
		g->verdict = j->verdict;
		g->proven = j->proven;
		g->role = j->role;
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
		g->newest_s = age;
	}
	g->count++;
	if (age > g->oldest_s) {
		g->oldest_s = age;
		/* the first evidence line is the age: keep it the oldest member's */
		if (g->nevidence && j->n)
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
			h->first = h->last = n;
			h->pid = (pid_t)(uintptr_t)hashmap__get(pids, key);
			hashmap__set(&d->history, key, h);
		}
		if (n < h->last)
			h->shrank = true;
		if (n > h->last)
			h->rises++;
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

/* Every blocked thread counted at its wait site, young ones too: how each grows. */
static void observe_growth(struct detector *d, struct task **tasks, size_t ntasks,
			   struct note *notes)
{
	struct hashmap counts, pids;

	hashmap__init(&counts);
	hashmap__init(&pids);
	for (size_t i = 0; i < ntasks; i++) {
		uint64_t key = notes[i].growth_key;

		if (!tasks[i]->wait)
			continue;
		hashmap__set(&counts, key, (void *)((uintptr_t)hashmap__get(&counts, key) + 1));
		hashmap__set(&pids, key, (void *)(uintptr_t)tasks[i]->pid);
	}
	record_history(d, &counts, &pids);
	hashmap__free(&counts);
	hashmap__free(&pids);
}

static void count_verdict(struct detection *det, enum verdict v)
{
	if (v == VERDICT_IDLE)
		det->idle++;
	else if (v == VERDICT_STRANDED)
		det->stranded++;
	else if (v == VERDICT_DEADLOCK)
		det->deadlocked++;
	else if (v == VERDICT_CANDIDATE)
		det->candidates++;
}

/* A process that exited since the last observation is reported as that observation saw it
 * (its tasks are gone from the model now), and one judged as it was held on its way out as
 * it was then: its groups carry over, as long as the model keeps the process. When nothing
 * else is left, the detection keeps its time too. */
static void carry_exited(struct detector *d, struct detection *det, uint64_t *keys, size_t *cap,
			 struct hashmap *tids)
{
	const struct detection *old = d->have_last ? &d->last : NULL;
	bool fresh = det->n > 0;
	uint64_t tid;
	void *val;

	for (size_t i = 0; old && i < old->n; i++) {
		const struct wait_group *g = &old->groups[i];
		const struct process *p = model__find_process(d->model, g->pid);
		struct wait_group *c;
		uint64_t key = hash_combine(hash_u64((uint64_t)g->pid), i) ^ 0xca77;

		if (!p || !(p->exited || p->exit_judged))
			continue;
		c = find_group(det, keys, key, cap);
		*c = *g;
		if (g->wait_depth) {
			c->wait_stack = xcalloc((size_t)g->wait_depth, sizeof(*c->wait_stack));
			memcpy(c->wait_stack, g->wait_stack,
			       (size_t)g->wait_depth * sizeof(*g->wait_stack));
		}
		det->blocked += g->count;
		for (uint64_t k = 0; k < g->count; k++)
			count_verdict(det, g->verdict);
		for (size_t k = 0; hashmap__next(&old->group_of, &k, &tid, &val);)
			if ((uintptr_t)val == i + 1)
				hashmap__set(tids, tid, (void *)(uintptr_t)key);
	}
	if (!fresh && det->n && old)
		det->at_ns = old->at_ns;
}

void detector__observe(struct detector *d, uint64_t now)
{
	size_t ntasks, cap = 0;
	struct task **tasks = model__sorted_tasks(d->model, &ntasks);
	struct note *notes = xcalloc(ntasks + 1, sizeof(*notes));
	struct note_arena arena = {0};
	/* one per group at most, those carried over from the last included */
	uint64_t *keys = xcalloc(ntasks + (d->have_last ? d->last.n : 0) + 1, sizeof(*keys));
	struct detection det = {.at_ns = now};
	struct hashmap tids, index; /* tid -> its group's key; tid -> its index + 1 */

	hashmap__init(&tids);
	hashmap__init(&index);
	hashmap__init(&det.group_of);
	for (size_t i = 0; i < ntasks; i++) {
		const struct process *p = model__find_process(d->model, tasks[i]->pid);

		notes[i].arena = &arena;
		hashmap__set(&index, (uint64_t)tasks[i]->tid, (void *)(uintptr_t)(i + 1));
		/* judged as it left them: its groups carry over (carry_exited) */
		if (p && p->exit_judged)
			continue;
		if (tasks[i]->wait) {
			det.blocked++;
			judge_thread(d, tasks[i], now, &notes[i]);
		}
	}
	observe_growth(d, tasks, ntasks, notes);
	detect__judge_groups(d, tasks, ntasks, notes, now);
	/* chains of waits on stuck threads, a few links deep */
	for (int round = 0; round < 4 && judge_chains(d, tasks, ntasks, notes, &index); round++)
		;
	for (size_t i = 0; i < ntasks; i++) {
		const struct note *j = &notes[i];
		uint64_t key;

		if (!tasks[i]->wait || j->verdict == VERDICT_NONE)
			continue;
		key = hash_combine(hash_combine(j->key, j->verdict), j->proven);
		add_to_group(find_group(&det, keys, key, &cap), tasks[i], j, now);
		hashmap__set(&tids, (uint64_t)tasks[i]->tid, (void *)(uintptr_t)key);
		count_verdict(&det, j->verdict);
	}
	carry_exited(d, &det, keys, &cap, &tids);
	if (det.n)
		qsort(det.groups, det.n, sizeof(*det.groups), cmp_groups);
	index_by_tid(&det, &tids);
	hashmap__free(&tids);
	hashmap__free(&index);
	free(keys);
	arena__free(&arena);
	free(notes);
	free(tasks);
	detection__free(&d->last);
	d->last = det;
	d->have_last = true;
}

/* Drops pid's groups from det, the index of the rest kept right. */
static void detection__drop_pid(struct detection *det, pid_t pid)
{
	size_t *to = xcalloc(det->n + 1, sizeof(*to)), kept = 0;
	uint64_t tid;
	void *val;

	for (size_t i = 0; i < det->n; i++) {
		const struct wait_group *g = &det->groups[i];

		if (g->pid == pid) {
			uint64_t *n = g->verdict == VERDICT_IDLE       ? &det->idle
				      : g->verdict == VERDICT_STRANDED ? &det->stranded
				      : g->verdict == VERDICT_DEADLOCK ? &det->deadlocked
								       : &det->candidates;

			*n -= g->count < *n ? g->count : *n;
			det->blocked -= g->count < det->blocked ? g->count : det->blocked;
			free(g->wait_stack);
			continue;
		}
		det->groups[kept] = det->groups[i];
		to[i] = ++kept;
	}
	det->n = kept;
	for (size_t i = 0; hashmap__next(&det->group_of, &i, &tid, &val);) {
		size_t now = to[(uintptr_t)val - 1];

		if (now)
			hashmap__set(&det->group_of, tid, (void *)(uintptr_t)now);
		else
			hashmap__del(&det->group_of, tid);
	}
	free(to);
}

void detector__forget(struct detector *d, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&d->history, &i, &key, &val);)
		if (((struct history *)val)->pid == pid)
			free(hashmap__del(&d->history, key));
	/* its groups point at its sites, which go with it */
	if (d->have_last)
		detection__drop_pid(&d->last, pid);
}
