// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The verdict of the threads no verdict of their own settled (untimed, leak-prone, never
 * served, no proof): their group's, by (spawn site, wait site). STRANDED when it grew during
 * the trace with members spawned while traced and something else says they were forgotten,
 * or when it is more than any pool needs; idle when flat; otherwise a candidate without a
 * verdict (docs/verdicts.md, "The group decides what is left").
 */
#include "lib/util.h"
#include "sys/fdinfo.h"
#include "verdicts/detect.h"
#include "verdicts/detect_priv.h"
#include "verdicts/thread_roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Growth: the group's count rose at this many scans, to this many more than it started. */
#define GROWTH_MIN_RISES 2
#define GROWTH_MIN_MORE	 2
/* Threads born this close to their process's start were made at start-up. */
#define STARTUP_NS (10 * NSEC_PER_SEC)

/* What a group of unsettled threads (one key) holds, for its verdict. */
struct candidate {
	uint64_t key, growth_key;
	uint64_t count, spawned_traced, orphans, at_startup, before_attach;
	uint64_t objects, shared; /* distinct wait objects; those others wait on too */
	uint64_t unanswered, empty_epoll, pipe_in_process, per_thread_parks;
	uint64_t lock_held; /* members on a mutex whose live owner holds it */
	pid_t owner, orphan_parent, pipe_writer_fd;
	char owner_text[128];
	uint32_t executors, executor_lo, executor_hi; /* Java executors, by pool number */
	char talk[112];
	enum wait_kind kind;
};

/* "pool-12-thread-1": the 12th executor Executors' default factory made in this JVM. */
static bool java_executor(const char *name, uint32_t *pool)
{
	return sscanf(name, "pool-%u-thread-", pool) == 1;
}

static struct candidate *candidate_of(struct candidate *c, size_t *n, uint64_t key)
{
	for (size_t i = 0; i < *n; i++)
		if (c[i].key == key)
			return &c[i];
	memset(&c[*n], 0, sizeof(c[0]));
	c[*n].key = key;
	return &c[(*n)++];
}

static uint64_t object_key(pid_t pid, uint64_t object, enum wait_kind kind)
{
	return hash_combine(hash_combine(hash_u64((uint64_t)pid), object), wait__is_futex(kind));
}

/* Adds t to its group; new_object: the group has not counted t's object yet, and waiters
 * other threads of the process wait on too. */
static void gather(struct detector *d, struct candidate *c, const struct task *t, bool new_object,
		   uint64_t waiters, uint64_t now)
{
	const struct task_wait *w = t->wait;
	const struct task *leader = model__task(d->model, t->pid);
	uint32_t pool;

	c->count++;
	c->kind = w->kind;
	c->growth_key = detect__growth_key(t, c->key);
	if (!t->before_attach)
		c->spawned_traced++;
	else
		c->before_attach++;
	if (t->parent_tid && !model__task(d->model, t->parent_tid)) {
		c->orphans++;
		c->orphan_parent = t->parent_tid;
	}
	/* at start-up: in its process's first seconds, a process long past them */
	if (leader && t->birth_ns && t->birth_ns - leader->birth_ns < STARTUP_NS &&
	    now - leader->birth_ns > 3 * STARTUP_NS)
		c->at_startup++;
	if (new_object) {
		c->objects++;
		if (waiters > 1)
			c->shared++;
	}
	if (thread_role__parks_per_thread(w))
		c->per_thread_parks++;
	if (wait__unanswered_call(w)) {
		c->unanswered++;
		snprintf(c->talk, sizeof(c->talk), "%s", w->tcp_talk);
	}
	if (w->kind == WAIT_EPOLL && w->epoll_fds == 0)
		c->empty_epoll++;
	if (w->kind == WAIT_READ && w->fd_kind == FD_PIPE && w->pipe_write_fd >= 0) {
		c->pipe_in_process++;
		c->pipe_writer_fd = w->pipe_write_fd;
	}
	if (w->kind == WAIT_MUTEX && w->lock_owner) {
		const struct task *o = detect__mutex_owner(d, t);

		c->lock_held++;
		c->owner = w->lock_owner;
		if (o && o->wait)
			snprintf(c->owner_text, sizeof(c->owner_text),
				 "%s, itself blocked in %.64s", o->name, o->wait->reason);
		else if (o)
			snprintf(c->owner_text, sizeof(c->owner_text), "%s, running", o->name);
	}
	if (java_executor(t->name, &pool)) {
		if (!c->executors++ || pool < c->executor_lo)
			c->executor_lo = pool;
		if (pool > c->executor_hi)
			c->executor_hi = pool;
	}
}

static bool grew(const struct history *h)
{
	return h && !h->shrank && h->rises >= GROWTH_MIN_RISES &&
	       h->last >= h->first + GROWTH_MIN_MORE;
}

/* The group's verdict and evidence, into note j (its first line, the age, is the member's). */
static void judge_candidate(struct detector *d, const struct candidate *c, struct note *j)
{
	const struct history *h = hashmap__get(&d->history, c->growth_key);
	bool growth = grew(h) && c->spawned_traced >= GROWTH_MIN_MORE;
	bool own = c->count >= 2 && c->objects == c->count && !c->shared && !c->per_thread_parks;
	bool orphaned = c->orphans > 0;
	bool silent = c->unanswered == c->count;
	bool empty = c->empty_epoll == c->count;
	bool pipe = c->pipe_in_process == c->count;
	bool held = c->kind == WAIT_MUTEX && c->lock_held == c->count && c->owner;
	/* Executors' default thread factory numbers its executors: one thread from each of
	 * many says an executor per request, never shut down; many threads of one executor
	 * are its pool filling up */
	bool executors = c->executors == c->count && c->count >= 2 &&
			 c->executor_hi - c->executor_lo + 1 >= c->count;
	bool many = d->runaway && c->count >= d->runaway;

	if (many || (growth && (own || orphaned || silent || empty || pipe || held || executors))) {
		j->verdict = VERDICT_STRANDED;
		if (growth)
			note__add(j,
				  "the group only grew during the trace: %llu -> %llu blocked "
				  "here, %llu "
				  "of them spawned while traced",
				  (unsigned long long)h->first, (unsigned long long)h->last,
				  (unsigned long long)c->spawned_traced);
		if (many)
			note__add(j,
				  "%llu identical waits: more than any pool needs (--runaway %llu)",
				  (unsigned long long)c->count, (unsigned long long)d->runaway);
		if (own)
			note__add(
				j,
				"each waits on %s of its own (%llu) that nothing has touched since",
				wait__is_futex(c->kind) ? "a futex" : "a file descriptor",
				(unsigned long long)c->objects);
		if (orphaned)
			note__add(j, "the thread that spawned %llu of them has exited (tid %d%s)",
				  (unsigned long long)c->orphans, c->orphan_parent,
				  c->orphans > 1 ? " and others" : "");
		if (silent)
			note__add(j, "an outbound connection with no answer and no timeout%s%s",
				  c->talk[0] ? ": " : "", c->talk);
		if (empty)
			note__add(j,
				  "the epoll set watches no file descriptor: nothing can wake it");
		if (pipe)
			note__add(
				j,
				"the pipe's write end is open in this process (fd %d) but nothing "
				"writes: read cannot even see end-of-file",
				c->pipe_writer_fd);
		if (held)
			note__add(j, "the mutex is held by tid %d%s%s%s for as long as they wait",
				  c->owner, c->owner_text[0] ? " (" : "", c->owner_text,
				  c->owner_text[0] ? ")" : "");
		if (executors)
			note__add(j,
				  "each comes from an executor of its own (pool-%u .. pool-%u): "
				  "one per "
				  "request, never shut down",
				  c->executor_lo, c->executor_hi);
		if (wait__is_futex(c->kind))
			note__add(j, "no wait on %s has ended since they blocked",
				  c->objects > 1 ? "these futexes" : "this futex");
		return;
	}
	if (!growth) {
		const char *when = c->at_startup == c->count	  ? "at the process's start-up"
				   : c->before_attach == c->count ? "before the trace"
								  : "while traced";

		j->verdict = VERDICT_IDLE;
		if (c->count == 1)
			note__add(
				j,
				"made %s, alone at its wait site: a background worker until shown "
				"otherwise",
				when);
		else
			note__add(j,
				  "%llu made %s, their number flat: a pool or background workers "
				  "until "
				  "shown otherwise",
				  (unsigned long long)c->count, when);
		return;
	}
	j->verdict = VERDICT_CANDIDATE;
	note__add(j,
		  "the group grew (%llu -> %llu) and none was woken, but nothing else says they "
		  "were forgotten (%s): no verdict",
		  (unsigned long long)h->first, (unsigned long long)h->last,
		  c->per_thread_parks ? "the runtime parks each thread on an object of its own"
		  : c->shared	      ? "they share what they wait on, their spawner alive"
				      : "their spawner alive");
}

/* A leak that began before strand attached and goes on: the threads it made before are
 * under the "before attach" site (their spawn went unseen), those made since under their
 * own, stranded by the evidence. The same wait (the same stack, start routine and all) in
 * the same process is the same leak, unless the stack is an interpreter's (CPython's lock,
 * HotSpot's park), the same for whatever the program waits on. */
static void join_leaks_begun_before_attach(struct task **tasks, size_t ntasks, struct note *notes)
{
	struct hashmap stranded; /* (pid, wait stack) -> index + 1 of a stranded member */

	hashmap__init(&stranded);
	for (size_t i = 0; i < ntasks; i++) {
		const struct task *t = tasks[i];

		if (notes[i].unsettled && notes[i].verdict == VERDICT_STRANDED &&
		    !t->before_attach && t->wait->stack_hash &&
		    !thread_role__parks_per_thread(t->wait))
			hashmap__set(&stranded,
				     hash_combine(hash_u64((uint64_t)t->pid), t->wait->stack_hash),
				     (void *)(uintptr_t)(i + 1));
	}
	for (size_t i = 0; stranded.len && i < ntasks; i++) {
		const struct task *t = tasks[i];
		uintptr_t k;

		if (!notes[i].unsettled || notes[i].verdict == VERDICT_STRANDED ||
		    !t->before_attach || !t->wait->stack_hash)
			continue;
		k = (uintptr_t)hashmap__get(
			&stranded, hash_combine(hash_u64((uint64_t)t->pid), t->wait->stack_hash));
		if (!k)
			continue;
		notes[i].verdict = VERDICT_STRANDED;
		notes[i].n = 1; /* the age stays */
		note__add(&notes[i],
			  "the same wait as threads of site s%u judged stranded: the same leak, "
			  "begun "
			  "before strand attached",
			  tasks[k - 1]->site ? tasks[k - 1]->site->id : 0);
	}
	hashmap__free(&stranded);
}

void detect__judge_groups(struct detector *d, struct task **tasks, size_t ntasks,
			  struct note *notes, uint64_t now)
{
	struct candidate *cands = xcalloc(ntasks + 1, sizeof(*cands));
	struct hashmap waiters, seen; /* object -> blocked threads on it; (group, object) */
	size_t ncands = 0;

	hashmap__init(&waiters);
	hashmap__init(&seen);
	for (size_t i = 0; i < ntasks; i++) {
		const struct task *t = tasks[i];
		uint64_t ok;

		if (!t->wait || !t->wait->object)
			continue;
		ok = object_key(t->pid, t->wait->object, t->wait->kind);
		hashmap__set(&waiters, ok, (void *)((uintptr_t)hashmap__get(&waiters, ok) + 1));
	}
	for (size_t i = 0; i < ntasks; i++) {
		const struct task_wait *w = tasks[i]->wait;
		uint64_t ok, gk;
		bool new_object;

		if (!notes[i].unsettled)
			continue;
		ok = object_key(tasks[i]->pid, w->object, w->kind);
		gk = hash_combine(notes[i].key, ok);
		new_object = !hashmap__get(&seen, gk);
		if (new_object)
			hashmap__set(&seen, gk, (void *)1);
		gather(d, candidate_of(cands, &ncands, notes[i].key), tasks[i], new_object,
		       (uintptr_t)hashmap__get(&waiters, ok), now);
	}
	for (size_t i = 0; i < ntasks; i++) {
		if (notes[i].unsettled)
			judge_candidate(d, candidate_of(cands, &ncands, notes[i].key), &notes[i]);
	}
	join_leaks_begun_before_attach(tasks, ntasks, notes);
	for (size_t i = 0; i < ntasks; i++)
		notes[i].unsettled = false;
	hashmap__free(&waiters);
	hashmap__free(&seen);
	free(cands);
}
