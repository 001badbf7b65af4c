// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Goroutine groups: the goroutines of each scan grouped by (spawn site, state, wait site),
 * with what their waits say (how long, on which channels, created by whom), judged by
 * godetect.c; sites judged for runaway spawn; what an exited process leaves behind. */
#include "go/gomem.h"
#include "go/gotrack.h"
#include "go/gowait.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/gopclntab.h"
#include "sys/fdinfo.h"
#include "verdicts/detect.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACK_BYTES	  (1ULL << 30)
#define NET_DESCRIBED_MAX 8 /* IO waits described per group: describing walks the TCP table */

static bool in_sync_or_runtime(const char *f)
{
	return !strncmp(f, "sync.", 5) || !strncmp(f, "internal/sync.", 14) ||
	       !strncmp(f, "runtime.", 8);
}

/* The sync primitive a semaphore wait is under, from the frames of its stack. */
static const char *sync_wait_of(const struct go_group *g)
{
	static const struct {
		const char *frame, *wait;
		bool method; /* else a semaphore call, which says less (RLock is inlined into
			      * its caller: its semaphore call is what is left of it) */
	} known[] = {
		{"sync.(*Mutex).lockSlow", "sync.Mutex.Lock", true},
		{"sync.(*Mutex).Lock", "sync.Mutex.Lock", true},
		{"internal/sync.(*Mutex).lockSlow", "sync.Mutex.Lock", true},
		{"internal/sync.(*Mutex).Lock", "sync.Mutex.Lock", true},
		{"sync.(*RWMutex).Lock", "sync.RWMutex.Lock", true},
		{"sync.(*RWMutex).RLock", "sync.RWMutex.RLock", true},
		{"sync.(*WaitGroup).Wait", "sync.WaitGroup.Wait", true},
		{"sync.runtime_SemacquireMutex", "sync.RWMutex.RLock", false},
		{"sync.runtime_SemacquireRWMutexR", "sync.RWMutex.RLock", false},
		{"sync.runtime_SemacquireRWMutex", "sync.RWMutex.Lock", false},
		{"sync.runtime_SemacquireWaitGroup", "sync.WaitGroup.Wait", false},
	};
	const char *wait = "";
	bool by_method = false;

	if (strcmp(g->state, "semacquire"))
		return "";
	/* the wait is the outermost sync method of the run of sync and runtime frames its stack
	 * starts with: RWMutex.Lock waits in the Mutex.Lock of its writers' mutex, and is a
	 * writer's wait; a sync call further down the stack is not the one waiting */
	for (int i = 0; i < g->wait_depth; i++) {
		const char *f = g->wait_stack[i].function;
		size_t k = 0;

		if (!f || !in_sync_or_runtime(f))
			break;
		while (k < ARRAY_SIZE(known) && strcmp(f, known[k].frame))
			k++;
		if (k == ARRAY_SIZE(known) || (by_method && !known[k].method))
			continue;
		wait = known[k].wait;
		by_method = known[k].method;
	}
	return wait;
}

/* The element type of the channel a group's first member sends on or receives from; as
 * last read when it cannot be read now (a process held on its way out is gone by the
 * report's last regroup). */
static void chan_elem_of(struct go_tracker *t, struct go_proc_state *st, struct go_group *grp,
			 const struct row *r)
{
	const char *known;
	uint64_t types, etypes;

	if (!r->obj || (strcmp(grp->state, "chan receive") && strcmp(grp->state, "chan send")) ||
	    !st->pcln || !gopclntab__types(st->pcln, &types, &etypes))
		return;
	if (!go_chan__elem_type(st->pid, r->obj, types + st->gp.bias, etypes + st->gp.bias,
				grp->chan_elem, sizeof(grp->chan_elem)))
		hashmap__set(&st->chan_elems, r->obj, (void *)go_keep(t, grp->chan_elem));
	else if ((known = hashmap__get(&st->chan_elems, r->obj)))
		snprintf(grp->chan_elem, sizeof(grp->chan_elem), "%s", known);
	else
		grp->chan_elem[0] = 0;
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
	grp->std_start = go_function__is_std(t->sites[r->site].start.function);
	grp->main_goroutine = t->sites[r->site].start.function &&
			      !strcmp(t->sites[r->site].start.function, "runtime.main");
	grp->test_goroutine = t->sites[r->site].created_at.function &&
			      !strcmp(t->sites[r->site].created_at.function, "testing.(*T).Run");
	grp->blocked_oldest_s = grp->blocked_newest_s = -1;
	grp->young_oldest_s = grp->long_newest_s = -1;
	grp->wait_frame = -1;
	snprintf(grp->state, sizeof(grp->state), "%s", go_state_name(st, g));
	if (r->stack_ref.stack) {
		/* the runtime's own frames at the top say nothing the state does not */
		int wait = go_wait_frame(st, r->stack_ref.stack), from = 0;

		while (from < wait && go_in_runtime(go_function_at(
					      st, r->stack_ref.stack->pcs[from],
					      go_stack_pc_is_return(st, r->stack_ref.stack, from))))
			from++;
		for (int i = from;
		     i < r->stack_ref.stack->depth && grp->wait_depth < GO_MAX_WAIT_FRAMES; i++) {
			struct sym_frame *f = &grp->wait_stack[grp->wait_depth];
			int n = go_resolve_frames(t, st, r->stack_ref.stack->pcs[i],
						  go_stack_pc_is_return(st, r->stack_ref.stack, i),
						  f, GO_MAX_WAIT_FRAMES - grp->wait_depth);

			if (f[n - 1].function && !strcmp(f[n - 1].function, "runtime.goexit"))
				break;
			/* the wait site: the program's own frame among those of the wait pc */
			for (int k = 0; i == wait && k < n && grp->wait_frame < 0; k++)
				if (go_is_program_code(f[k].function))
					grp->wait_frame = grp->wait_depth + k;
			if (i == wait && grp->wait_frame < 0)
				grp->wait_frame = grp->wait_depth;
			grp->wait_depth += n;
		}
	}
	snprintf(grp->sync_wait, sizeof(grp->sync_wait), "%s", sync_wait_of(grp));
	chan_elem_of(t, st, grp, r);
	return grp;
}

static uint64_t group_key(pid_t pid, const struct go_g *g, const struct row *r)
{
	uint64_t h = hash_combine(hash_u64((uint64_t)pid), g->gopc);
	uint64_t where = r->stack_ref.stack && r->stack_ref.stack->wait_frame >= 0
				 ? r->stack_ref.stack->pcs[r->stack_ref.stack->wait_frame]
				 : 0;

	h = hash_combine(h, g->startpc);
	return hash_combine(hash_combine(h, g->status << 8 | g->waitreason), where);
}

/* A goroutine in a system call or C call is as stuck as its thread: the thread's verdict
 * (a read on a pipe nobody writes, a mutex of C nobody unlocks) is the goroutine's. */
static void add_thread_verdict(const struct go_proc_state *st, struct go_group *grp,
			       const struct go_g *g, const struct detection *det)
{
	const struct wait_group *w;
	pid_t tid = go_g_tid(st, g->g);

	if ((g->status & ~(uint32_t)GO_SCAN) != GO_SYSCALL || !tid ||
	    !(w = detection__group_of(det, tid)))
		return;
	if (w->verdict == VERDICT_IDLE) {
		grp->thread_idle++;
		return;
	}
	if (w->verdict != VERDICT_STRANDED && w->verdict != VERDICT_DEADLOCK)
		return; /* a candidate: no verdict to take */
	if (grp->thread_stranded++)
		return;
	grp->thread_tid = tid;
	snprintf(grp->thread_reason, sizeof(grp->thread_reason), "%s", w->reason);
	for (int i = 0; i < w->nevidence && grp->nthread_evidence < 3; i++) {
		if (strstr(w->evidence[i], "goroutine")) /* the line that points back here */
			continue;
		snprintf(grp->thread_evidence[grp->nthread_evidence++],
			 sizeof(grp->thread_evidence[0]), "%s", w->evidence[i]);
	}
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = hash_u64(strlen(s));

	for (; *s; s++)
		h = hash_combine(h, (uint8_t)*s);
	return h;
}

/* The functions on the stack of any goroutine not running now (each distinct stack read
 * once), for the creators of goroutines created before the probes, whose parent Go before
 * 1.21 does not record: a creating function on no stack has returned from every call that
 * made them. complete: every goroutine's stack was read (none running, none truncated). */
#define UNREAD_STACKS_MAX                                                                          \
	4 /* goroutines running as they are scanned, whose stacks are not read                     \
	   */

static void active_functions(struct go_proc_state *st, struct hashmap *names, bool *complete)
{
	struct hashmap seen;
	size_t unread = 0;

	hashmap__init(&seen);
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_stack *s = go_row(st, i)->stack_ref.stack;

		if (!s || s->truncated) {
			unread++;
			continue;
		}
		if (hashmap__get(&seen, (uintptr_t)s))
			continue;
		hashmap__set(&seen, (uintptr_t)s, (void *)1);
		for (int k = 0; k < s->depth; k++) {
			const char *fns[GO_MAX_INLINE_DEPTH];
			int n = go_functions_at(st, s->pcs[k], go_stack_pc_is_return(st, s, k), fns,
						GO_MAX_INLINE_DEPTH);

			for (int f = 0; f < n; f++)
				hashmap__set(names, name_hash(fns[f]), (void *)1);
		}
	}
	hashmap__free(&seen);
	*complete = unread <= UNREAD_STACKS_MAX;
}

/* Whether the creator of a goroutine has left the function whose go statement made it.
 * Known creator (created while traced, or Go >= 1.21): none of the frames of its stack is
 * in that function; one that runs now (no stack to read) is taken to be still there.
 * Unknown creator: the function is on no goroutine's stack, all of them read. */
static bool creator_returned(struct go_tracker *t, struct go_proc_state *st, const struct go_g *g,
			     const struct row *r, const struct hashmap *active, bool all_read)
{
	size_t prow = g->parent_goid ? go_row_of_goid(st, g->parent_goid) : 0;
	const char *creator = t->sites[r->site].created_at.function;
	const struct go_stack *ps;

	if (!creator)
		return false;
	if (!g->parent_goid)
		return all_read && !hashmap__get(active, name_hash(creator));
	if (!prow || !(ps = go_row(st, prow - 1)->stack_ref.stack) || ps->truncated)
		return false;
	for (int i = 0; i < ps->depth; i++) {
		const char *names[GO_MAX_INLINE_DEPTH];
		int n = go_functions_at(st, ps->pcs[i], go_stack_pc_is_return(st, ps, i), names,
					GO_MAX_INLINE_DEPTH);

		if (!n)
			return false;
		for (int k = 0; k < n; k++)
			if (!strcmp(names[k], creator))
				return false;
	}
	return true;
}

static enum net_kind net_kind_of(const struct fd_desc *d)
{
	if (d->kind == FD_PIPE)
		return NET_PIPE;
	if (d->kind != FD_SOCKET || !d->tcp)
		return NET_OTHER;
	return d->listening ? NET_LISTENING : d->inbound ? NET_INBOUND : NET_OUTBOUND;
}

/* What the fd of an IO wait is: described once per fd and inode (an fd number reused by
 * another socket is described again). */
static const struct net_fd *describe_fd(struct go_proc_state *st, int fd)
{
	struct net_fd *c = hashmap__get(&st->net_fds, (uint64_t)fd);
	struct fd_desc d;

	if (fdinfo__identify(st->pid, fd, &d))
		return NULL;
	if (c && c->inode == d.inode)
		return c;
	if (fdinfo__describe(st->pid, fd, &d))
		return NULL;
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		hashmap__set(&st->net_fds, (uint64_t)fd, c);
	}
	c->inode = d.inode;
	c->kind = net_kind_of(&d);
	c->speaker = d.spoke_last;
	snprintf(c->text, sizeof(c->text), "%s", d.text);
	tcpdiag__format(&d.tcp_diag, c->talk, sizeof(c->talk));
	return c;
}

static void add_netwait(struct go_proc_state *st, struct go_group *grp, const struct go_g *g)
{
	uint64_t described = 0;
	const struct net_fd *c;
	int fd = go_g_fd(st, g->g);

	for (size_t k = 0; k < ARRAY_SIZE(grp->net); k++)
		described += grp->net[k];
	if (fd < 0 || described >= NET_DESCRIBED_MAX || !(c = describe_fd(st, fd))) {
		grp->net[NET_UNKNOWN]++;
		return;
	}
	if (!described) {
		snprintf(grp->net_text, sizeof(grp->net_text), "%.140s (fd %d)", c->text, fd);
		snprintf(grp->net_talk, sizeof(grp->net_talk), "%s", c->talk);
	}
	grp->net[c->kind]++;
	grp->net_answered += c->kind == NET_OUTBOUND &&
			     (c->speaker == TCP_SPEAKER_PEER || c->speaker == TCP_SPEAKER_TIE);
	grp->net_unanswered += c->kind == NET_OUTBOUND &&
			       (c->speaker == TCP_SPEAKER_US || c->speaker == TCP_SPEAKER_NONE);
}

/* What add_member needs of the whole process. */
struct members {
	struct hashmap *sharing; /* hash(group key, channel) -> members on it */
	struct hashmap active;	 /* functions on some goroutine's stack */
	bool all_read;
};

static void add_member(struct go_tracker *t, struct go_proc_state *st, struct go_group *grp,
		       const struct go_g *g, const struct row *r, struct members *m, uint64_t key)
{
	struct hashmap *sharing = m->sharing;
	uint64_t first = go_first_seen(st, g);
	bool is_long = r->blocked >= 0 && r->blocked * 1e9 >= (double)t->threshold_ns;
	bool served = is_long && r->obj && go_chan_table__last_wake(&st->chans, r->obj) > r->park;
	uint64_t stack = g->stack_hi > g->stack_lo && g->stack_hi - g->stack_lo < MAX_STACK_BYTES
				 ? g->stack_hi - g->stack_lo
				 : 0;

	grp->count++;
	grp->timed += r->timed;
	if (hashmap__get(&st->lost, g->goid)) {
		grp->lost++;
		grp->walk_objects = st->walk_objects;
		grp->walk_bytes = st->walk_bytes;
		grp->walk_ns = st->walk_ns;
	}
	grp->stack_bytes += stack;
	if (first && (double)(t->now_ns - first) / 1e9 > grp->oldest_wait_s)
		grp->oldest_wait_s = (double)(t->now_ns - first) / 1e9;
	if (r->blocked >= 0) {
		if (r->blocked > grp->blocked_oldest_s)
			grp->blocked_oldest_s = r->blocked;
		if (grp->blocked_newest_s < 0 || r->blocked < grp->blocked_newest_s)
			grp->blocked_newest_s = r->blocked;
		grp->blocked_before_attach |= r->before_attach;
		grp->blocked_runtime_dated |= r->runtime_dated;
		grp->blocked_scan_dated |= r->scan_dated;
	}
	if (r->runtime_age > grp->runtime_age_s)
		grp->runtime_age_s = r->runtime_age;
	if (served) {
		grp->served++;
	} else if (is_long) {
		if (grp->nsamples < (int)ARRAY_SIZE(grp->sample_sp) && g->sched_sp &&
		    g->stack_hi > g->sched_sp) {
			grp->sample_sp[grp->nsamples] = g->sched_sp;
			grp->sample_hi[grp->nsamples++] = g->stack_hi;
		}
		if (!grp->blocked_long || g->goid < grp->min_goid)
			grp->min_goid = g->goid;
		if (g->goid > grp->max_goid)
			grp->max_goid = g->goid;
		grp->blocked_long++;
		if (r->blocked >= 0 && (grp->long_newest_s < 0 || r->blocked < grp->long_newest_s))
			grp->long_newest_s = r->blocked;
		grp->long_stack_bytes += stack;
		if (g->parent_goid && !go_row_of_goid(st, g->parent_goid))
			grp->orphans++;
		else if (creator_returned(t, st, g, r, &m->active, m->all_read))
			grp->creator_returned++;
		if (!strcmp(grp->state, "IO wait"))
			add_netwait(st, grp, g);
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
	if (!is_long || served) {
		if (r->blocked > grp->young_oldest_s)
			grp->young_oldest_s = r->blocked;
		if (grp->nyoung_goids < (int)ARRAY_SIZE(grp->young_goids))
			grp->young_goids[grp->nyoung_goids++] = g->goid;
	}
	if (grp->ngoids < (int)ARRAY_SIZE(grp->goids))
		grp->goids[grp->ngoids++] = g->goid;
}

#define HEAP_EVERY 5 /* scans between two measures of one group's heap: it changes slowly */
#define HEAP_DEPTH 3 /* the stack, a closure or struct it points at, the buffer they hold */

struct heap_measure {
	uint64_t bytes;
	int measured, age;
};

/* What a stranded group keeps on the heap: measured on its sampled members' stacks (each
 * object once), scaled to all of them. DWARF only: the heap's index comes from it. */
static void measure_heap(struct go_proc_state *st, struct go_group *g, uint64_t key)
{
	struct heap_measure *m = hashmap__get(&st->heap_of, key);
	struct hashmap seen;
	uint64_t bytes = 0;

	if (!st->heap_tried && st->snap.n) {
		st->heap_tried = true;
		st->heap = go_heap__open(st->pid, st->gp.bias, &st->gp.layout, st->snap.g[0].g);
	}
	if (!st->heap || !g->nsamples)
		return;
	if (!m) {
		m = xcalloc(1, sizeof(*m));
		hashmap__set(&st->heap_of, key, m);
	}
	if (!m->measured || ++m->age >= HEAP_EVERY) {
		hashmap__init(&seen);
		for (int i = 0; i < g->nsamples; i++)
			bytes += go_heap__reachable(st->heap, g->sample_sp[i], g->sample_hi[i],
						    HEAP_DEPTH, &seen);
		hashmap__free(&seen);
		m->bytes = bytes / (uint64_t)g->nsamples * g->blocked_long;
		m->measured = g->nsamples;
		m->age = 0;
	}
	g->heap_bytes = m->bytes;
	g->heap_measured = m->measured;
}

static void add_to_groups(struct go_tracker *t, struct go_proc_state *st, struct hashmap *sharing,
			  const struct detection *det)
{
	struct members m = {.sharing = sharing};
	uint64_t last_key = 0;
	size_t last = SIZE_MAX; /* the last goroutine's group: its neighbours mostly share it */

	hashmap__init(&m.active);
	active_functions(st, &m.active, &m.all_read);
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		const struct row *r = go_row(st, i);
		uint64_t key = group_key(st->pid, g, r);
		struct go_group *grp = last != SIZE_MAX && key == last_key
					       ? &t->groups[last]
					       : group_of(t, st, g, r, key);

		last_key = key;
		last = (size_t)(grp - t->groups);

		add_member(t, st, grp, g, r, &m, key);
		add_thread_verdict(st, grp, g, det);
	}
	hashmap__free(&m.active);
}

static int cmp_groups(const void *a, const void *b)
{
	const struct go_group *x = a, *y = b;

	if (x->runtime != y->runtime)
		return x->runtime ? 1 : -1;
	if (x->verdict != y->verdict)
		return x->verdict == GO_VERDICT_DEADLOCK   ? -1
		       : y->verdict == GO_VERDICT_DEADLOCK ? 1
		       : x->verdict == GO_VERDICT_STRANDED ? -1
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
			.spawned = s->spawned,
			.exited = s->exited,
			.stranded = s->stranded,
			.live_over_time = &s->live_over_time,
			.unit = "goroutines",
			.parent_unit = "goroutine",
		};

		runaway__judge(&in, &s->runaway);
	}
}

static bool among(const uint64_t *ids, int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* A verdict is on the members its evidence is about: of a group judged stranded by the age
 * of its waits, those younger than the threshold (or woken since) are not, and go on as a
 * group of their own with no verdict; every format shows the same two. */
static void settle_members(struct go_tracker *t, size_t i)
{
	struct go_group *g = &t->groups[i], rest;
	int n = 0;

	if (!go_verdict__stuck(g->verdict) || g->blocked_long >= g->count || g->long_newest_s < 0 ||
	    g->lost || g->thread_stranded)
		return;
	rest = *g;
	rest.verdict = GO_VERDICT_NONE;
	rest.count = g->count - g->blocked_long;
	rest.blocked_long = rest.orphans = rest.creator_returned = rest.objects = 0;
	rest.max_sharing = rest.unknown_objects = rest.heap_bytes = 0;
	rest.heap_measured = 0;
	rest.stack_bytes = g->stack_bytes - g->long_stack_bytes;
	rest.blocked_oldest_s = g->young_oldest_s;
	memcpy(rest.goids, g->young_goids, sizeof(rest.goids));
	rest.ngoids = g->nyoung_goids;
	rest.nevidence = 0;
	snprintf(rest.evidence[rest.nevidence++], sizeof(rest.evidence[0]),
		 "not judged with the %" PRIu64 " %s here: %s", g->blocked_long,
		 go_verdict__name(g->verdict),
		 g->served ? "younger than the threshold, or woken since they parked"
			   : "younger than the threshold");
	for (int k = 0; k < g->ngoids; k++)
		if (!among(g->young_goids, g->nyoung_goids, g->goids[k]))
			g->goids[n++] = g->goids[k];
	g->ngoids = n;
	g->count = g->blocked_long;
	g->stack_bytes = g->long_stack_bytes;
	g->blocked_newest_s = g->long_newest_s;
	append_group(t, &rest);
}

void go_tracker__regroup(struct go_tracker *t, const struct detection *det)
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
			add_to_groups(t, st, &sharing, det);
	}
	hashmap__free(&sharing);
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		struct go_proc_state *st = val;

		st->mid_test = st->at_exit && go_groups__exited_mid_test(t->groups, t->ngroups,
									 st->pid, st->exit_code);
	}
	/* each group's history, by its key */
	for (size_t i = 0; hashmap__next(&t->group_index, &i, &key, &val);) {
		struct go_group *g = &t->groups[(uintptr_t)val - 1];
		struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)g->pid);
		uint64_t first = (uintptr_t)hashmap__get(&st->first_of, key);
		uint64_t peak = (uintptr_t)hashmap__get(&st->peak_of, key);
		uint64_t returned = (uintptr_t)hashmap__get(&st->returned_of, key);

		hashmap__set(&st->returned_of, key, (void *)(uintptr_t)(g->creator_returned + 1));
		if (g->creator_returned > (returned ? returned - 1 : 0))
			g->creator_returned = returned ? returned - 1 : 0;
		if (!first)
			hashmap__set(&st->first_of, key, (void *)(uintptr_t)(first = g->count + 1));
		if (g->count > peak)
			hashmap__set(&st->peak_of, key, (void *)(uintptr_t)(peak = g->count));
		g->first = first - 1;
		g->peak = peak;
		g->goids_issued = st->max_goid;
		if (st->at_exit && t->exit_leaks)
			go_group__judge_at_exit(g, st->exit_code, st->mid_test);
		else if (st->deadlocked && !g->runtime)
			go_group__judge_deadlock(g, st->asleep_n,
						 (double)(t->now_ns - st->asleep_since_ns) / 1e9,
						 st->asleep_scans);
		else
			go_group__judge(g, t->threshold_ns, t->runaway);
		if (go_verdict__stuck(g->verdict))
			measure_heap(st, g, key);
	}
	hashmap__free(&t->group_index);
	hashmap__init(&t->group_index);
	for (size_t i = 0, n = t->ngroups; i < n; i++)
		settle_members(t, i);
	/* processes that exited: as their last scan saw them */
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		struct go_proc_state *st = val;

		for (size_t k = 0; st->exited && k < st->nfinal; k++)
			append_group(t, &st->final[k]);
	}
	for (size_t i = 0; i < t->nsites; i++)
		t->sites[i].stranded = 0;
	for (size_t i = 0; i < t->ngroups; i++) {
		if (!go_verdict__stuck(t->groups[i].verdict))
			continue;
		t->stranded += t->groups[i].blocked_long;
		t->sites[t->groups[i].site].stranded += t->groups[i].blocked_long;
	}
	judge_sites(t);
	if (t->ngroups)
		qsort(t->groups, t->ngroups, sizeof(*t->groups), cmp_groups);
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
