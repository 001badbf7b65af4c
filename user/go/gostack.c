// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gostack.h"
#include "go/golayout.h"
#include "go/gosnap.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Bytes read per round of the walk: the frames from gopark up to the goroutine's own code
 * (gopark, chanrecv, chanrecv1, the caller) take a few hundred bytes, and most parked
 * goroutines' whole stacks fit the first round's window; the deeper ones go on in larger
 * ones (the first round reads a million stacks: 0.5 GB, not 1). */
#define FIRST_WINDOW 512
#define WINDOW	     2048
#define WALK_CHUNK   1024 /* stacks walked together by a walker: 2 MiB of windows */
/* Windows of neighbouring stacks read as one range: the first windows of 2 KiB stacks (most
 * parked goroutines' are) lie 1.5 KiB apart, and copying 1.5 KiB costs the kernel less than
 * pinning a range of its own. */
#define STACK_GAP  2048
#define MAX_ROUNDS 4

struct go_stack_cache {
	pthread_mutex_t lock;	 /* by_stack, while walkers run */
	struct hashmap by_stack; /* stack hash -> struct go_stack * (owned) */
	uint64_t epoch;
	uint64_t switch_lo, switch_hi; /* runtime.systemstack_switch */
};

void go_stack_cache__set_switch(struct go_stack_cache *c, uint64_t lo, uint64_t hi)
{
	c->switch_lo = lo;
	c->switch_hi = hi;
}

struct go_stack_cache *go_stack_cache__new(void)
{
	struct go_stack_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	hashmap__init(&c->by_stack);
	return c;
}

void go_stack_cache__free(struct go_stack_cache *c)
{
	if (!c)
		return;
	hashmap__free_values(&c->by_stack);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static uint64_t word_at(const uint8_t *mem, uint64_t lo, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, mem + (addr - lo), sizeof(v));
	return v;
}

/*
 * Follows frame pointers from *bp while the frame record (saved bp, return address) lies in
 * [lo, lo + len). Returns true when the walk is over (the goroutine's first frame, whose
 * saved bp is 0, or a chain that does not hold); false when it left the window at *bp.
 */
static bool walk_window(const uint8_t *mem, uint64_t lo, size_t len, uint64_t *bp,
			struct go_stack *out)
{
	while (out->depth < GO_STACK_MAX) {
		uint64_t next, ret;

		if (len < 16 || *bp < lo || *bp - lo > len - 16)
			return false;
		next = word_at(mem, lo, *bp);
		ret = word_at(mem, lo, *bp + 8);
		if (!ret)
			return true;
		out->pcs[out->depth++] = ret;
		if (!next)
			return true;
		/* callers' frames lie above: a chain going down or sideways is garbage */
		if (next <= *bp || (next & 7)) {
			out->truncated = true;
			return true;
		}
		*bp = next;
	}
	out->truncated = true;
	return true;
}

static void stack_start(struct go_stack *out, uint64_t pc)
{
	memset(out, 0, sizeof(*out));
	out->wait_frame = -1;
	out->pcs[0] = pc;
	out->depth = 1;
}

void go_stack__walk_mem(const uint8_t *mem, uint64_t lo, size_t len, uint64_t pc, uint64_t bp,
			struct go_stack *out)
{
	stack_start(out, pc);
	if (!walk_window(mem, lo, len, &bp, out))
		out->truncated = true;
}

/* Where a stopped goroutine's walk starts. A parked or preempted one saved pc, sp and bp in
 * g.sched, and so did one in a C call (asmcgocall, through systemstack_switch); one in a
 * plain system call saved only pc and sp (runtime.save), but its caller's frame pointer is
 * where the callee's prologue pushed it, just below the return address. */
static bool start_of(const struct go_stack_cache *c, pid_t pid, const struct go_g *g, uint64_t *pc,
		     uint64_t *bp)
{
	uint32_t status = g->status & ~(uint32_t)GO_SCAN;

	*pc = g->sched_pc;
	*bp = g->sched_bp;
	/* the garbage collector scanning it (the scan bit) may be moving its stack right now:
	 * read once the scan is over */
	if (g->status & GO_SCAN)
		return false;
	if (status == GO_RUNNING || status == GO_DEAD || !g->sched_pc || !g->sched_sp)
		return false;
	if (g->sched_sp < g->stack_lo || g->sched_sp >= g->stack_hi)
		return false;
	if (status != GO_SYSCALL || (g->sched_pc >= c->switch_lo && g->sched_pc <= c->switch_hi))
		return true;
	return g->sched_sp >= 16 && !procfs__read_mem(pid, g->sched_sp - 16, bp, sizeof(*bp));
}

static uint64_t key_of(const struct go_g *g)
{
	uint64_t h = hash_combine(hash_u64(g->g), g->goid);

	h = hash_combine(h, g->status);
	h = hash_combine(h, g->tracking_seq); /* parked again, the same depth: another stack */
	h = hash_combine(h, g->sched_pc);
	return hash_combine(hash_combine(h, g->sched_sp), g->sched_bp);
}

static uint64_t hash_of(const struct go_stack *s)
{
	uint64_t h = hash_u64((uint64_t)s->depth);

	for (int i = 0; i < s->depth; i++)
		h = hash_combine(h, s->pcs[i]);
	return h;
}

/* The stored copy of s, added if new. */
static struct go_stack *intern(struct go_stack_cache *c, const struct go_stack *s)
{
	uint64_t h = hash_of(s);
	struct go_stack *have;

	for (;; h++) { /* a 64-bit collision moves on to the next slot */
		have = hashmap__get(&c->by_stack, h);
		if (!have)
			break;
		if (have->depth == s->depth && have->truncated == s->truncated &&
		    !memcmp(have->pcs, s->pcs, (size_t)s->depth * sizeof(s->pcs[0])))
			return have;
	}
	have = xcalloc(1, sizeof(*have));
	*have = *s;
	have->hash = h;
	hashmap__set(&c->by_stack, h, have);
	return have;
}

struct pending {
	struct go_stack_ref *ref; /* where its stack goes */
	uint64_t bp, lo, hi;
	struct go_stack stack;
	bool done;
};

/* Walks the pending stacks: each round reads a window at every unfinished walk's frame
 * pointer, all in a few system calls, and follows the chain as far as the window goes. */
static void walk_chunk(pid_t pid, struct pending *p, size_t n)
{
	uint64_t *addrs = xcalloc(n ? n : 1, sizeof(*addrs));
	size_t *which = xcalloc(n ? n : 1, sizeof(*which));
	/* not zeroed: every window is read whole, or zeroed by the read (8 MiB zeroed a chunk,
	 * 250 times for a million goroutines, was a third of their walks) */
	uint8_t *mem = xmalloc((n ? n : 1) * WINDOW);

	for (int round = 0; round < MAX_ROUNDS; round++) {
		size_t k = 0, window = round ? WINDOW : FIRST_WINDOW;

		for (size_t i = 0; i < n; i++) {
			uint64_t at;

			if (p[i].done)
				continue;
			/* Go's stacks are at least 2 KiB; one smaller is not a stack */
			if (p[i].hi < p[i].lo || p[i].hi - p[i].lo < WINDOW) {
				p[i].done = p[i].stack.truncated = true;
				continue;
			}
			if (p[i].bp < p[i].lo || p[i].bp > p[i].hi - 16) {
				/* the chain left the goroutine's stack */
				p[i].done = true;
				p[i].stack.truncated = p[i].bp != 0;
				continue;
			}
			/* end the window at the stack's top: past it may be unmapped */
			at = p[i].bp > p[i].hi - window ? p[i].hi - window : p[i].bp;
			addrs[k] = at;
			which[k++] = i;
		}
		if (!k)
			break;
		procfs__read_blocks(pid, addrs, k, window, STACK_GAP, mem);
		for (size_t j = 0; j < k; j++) {
			struct pending *w = &p[which[j]];

			w->done =
				walk_window(mem + j * window, addrs[j], window, &w->bp, &w->stack);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!p[i].done)
			p[i].stack.truncated = true;
	free(mem);
	free(which);
	free(addrs);
}

/* The walks of p[0..n), their stacks interned and given to their goroutines. */
static void finish_walks(struct go_stack_cache *c, pid_t pid, struct pending *p, size_t n)
{
	walk_chunk(pid, p, n);
	pthread_mutex_lock(&c->lock);
	for (size_t k = 0; k < n; k++) {
		struct go_stack *s = intern(c, &p[k].stack);

		/* other walkers store the same epoch to it without the lock */
		__atomic_store_n(&s->epoch, c->epoch, __ATOMIC_RELAXED);
		p[k].ref->stack = s;
	}
	pthread_mutex_unlock(&c->lock);
}

/* One walker's share of a snapshot: goroutines [from, to). */
struct walker {
	struct go_stack_cache *c;
	pid_t pid;
	const struct go_snapshot *snap;
	size_t from, to;
	struct go_stack_ref *(*ref_of)(void *ctx, const struct go_g *g);
	void *ctx;
	size_t walked; /* out */
};

static void *walk_share(void *arg)
{
	/* WALK_CHUNK walks at a time: a million goroutines' windows at once would be 1 GiB */
	struct walker *w = arg;
	struct pending *p = xcalloc(WALK_CHUNK, sizeof(*p));
	size_t n = 0;

	for (size_t i = w->from; i < w->to; i++) {
		const struct go_g *g = &w->snap->g[i];
		struct go_stack_ref *ref = w->ref_of(w->ctx, g);
		uint64_t pc, bp, key;

		if (!start_of(w->c, w->pid, g, &pc, &bp)) {
			*ref = (struct go_stack_ref){0};
			continue;
		}
		key = key_of(g);
		if (ref->stack && ref->key == key) { /* it has not run since */
			/* goroutines of other walkers may share the stack: all store one value */
			__atomic_store_n(&ref->stack->epoch, w->c->epoch, __ATOMIC_RELAXED);
			continue;
		}
		*ref = (struct go_stack_ref){.key = key};
		memset(&p[n], 0, sizeof(p[n]));
		p[n].ref = ref;
		p[n].bp = bp;
		p[n].lo = g->stack_lo;
		p[n].hi = g->stack_hi;
		stack_start(&p[n].stack, pc);
		if (++n == WALK_CHUNK) {
			finish_walks(w->c, w->pid, p, n);
			w->walked += n;
			n = 0;
		}
	}
	finish_walks(w->c, w->pid, p, n);
	w->walked += n;
	free(p);
	return NULL;
}

/* A first look at a million goroutines walks a million stacks, each a remote read the
 * kernel pins a page for: shared among the CPUs strand may run on (up to 4), it takes a
 * fraction of the time. A snapshot too small to gain from it is walked by the caller alone. */
#define WALKERS_MAX	 SIDE_BY_SIDE_MAX
#define WALKS_PER_WALKER 32768

static size_t walkers_for(size_t goroutines)
{
	size_t n = cpus_usable();

	if (n > WALKERS_MAX)
		n = WALKERS_MAX;
	if (n > goroutines / WALKS_PER_WALKER)
		n = goroutines / WALKS_PER_WALKER;
	return n ? n : 1;
}

size_t go_stack_cache__update(struct go_stack_cache *c, pid_t pid, const struct go_snapshot *snap,
			      struct go_stack_ref *(*ref_of)(void *ctx, const struct go_g *g),
			      void *ctx)
{
	struct walker w[WALKERS_MAX];
	size_t nw = walkers_for(snap->n), walked = 0;
	uint64_t key;
	void *val;

	c->epoch++;
	for (size_t k = 0; k < nw; k++)
		w[k] = (struct walker){c,      pid, snap, snap->n * k / nw, snap->n * (k + 1) / nw,
				       ref_of, ctx, 0};
	side_by_side(walk_share, w, sizeof(w[0]), nw);
	for (size_t k = 0; k < nw; k++)
		walked += w[k].walked;
	for (size_t i = 0; hashmap__next(&c->by_stack, &i, &key, &val);) {
		struct go_stack *s = val;

		if (s->epoch != c->epoch) {
			hashmap__del(&c->by_stack, key);
			free(s);
		}
	}
	return walked;
}
