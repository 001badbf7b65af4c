// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/goreach.h"
#include "go/golayout.h"
#include "go/gomem.h"
#include "go/gosnap.h"
#include "go/gostack.h"
#include "go/gowait.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/elfsym.h"
#include "sys/procfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK	       (64u << 10) /* bytes read at a time */
#define MAX_SECTIONS   16
#define MAX_CASES      GO_SELECT_MAX_CASES
#define PAGE_SHIFT     13
#define NOT_HEAP       ((struct page *)1)
#define BLOCK_SHIFT    16
#define BLOCK	       (1ULL << BLOCK_SHIFT)
#define NOT_CACHED     ((uint8_t *)1)
#define CACHE_MAX      (128ULL << 20) /* bytes of blocks kept, at most */
#define MIN_HEAP_WORD  4096
#define SEMA_NODES_MAX 200000	   /* sudogs of the semaphore table read at most */
#define COND_STACK_MAX (64u << 10) /* bytes of a Cond waiter's stack read for its frames */

struct range {
	uint64_t lo, hi;
};

/* An object of a heap page, from which any other of the page is worked out (one span, one
 * object size per page). */
struct page {
	uint64_t base, size;
};

struct walk {
	const struct go_reach_in *in;
	struct go_reach_out *out;
	struct hashmap marked; /* object base -> 1 */
	struct hashmap skip;   /* a parked goroutine's g and sudogs: not followed */
	struct hashmap pages;  /* page -> struct page * (owned), or NOT_HEAP */
	struct hashmap blocks; /* block -> its BLOCK bytes (owned), or NOT_CACHED */
	uint64_t cached;
	struct range *work;
	size_t nwork, capwork;
	uint64_t deadline;
	uint64_t *buf;
	struct elf_range secs[MAX_SECTIONS]; /* the executable's writable sections */
	int nsecs;
};

static void push(struct walk *w, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return;
	if (w->nwork == w->capwork) {
		w->capwork = w->capwork ? w->capwork * 2 : 256;
		w->work = xrealloc(w->work, w->capwork * sizeof(*w->work));
	}
	w->work[w->nwork++] = (struct range){lo & ~7ULL, hi};
}

/* The object holding p (start, size), through the page cache. */
static bool object_of(struct walk *w, uint64_t p, uint64_t *base, uint64_t *size)
{
	uint64_t key = p >> PAGE_SHIFT;
	struct page *pg = hashmap__get(&w->pages, key);
	int64_t k;

	if (!pg) {
		uint64_t b, s;

		if (go_heap__object(w->in->heap, p & ~7ULL, &b, &s)) {
			hashmap__set(&w->pages, key, NOT_HEAP);
			return false;
		}
		pg = xcalloc(1, sizeof(*pg));
		*pg = (struct page){b, s};
		hashmap__set(&w->pages, key, pg);
	}
	if (pg == NOT_HEAP)
		return false;
	k = ((int64_t)p - (int64_t)pg->base);
	k = k >= 0 ? k / (int64_t)pg->size : -((-k + (int64_t)pg->size - 1) / (int64_t)pg->size);
	*base = pg->base + (uint64_t)(k * (int64_t)pg->size);
	*size = pg->size;
	return true;
}

static void mark_words(struct walk *w, const uint64_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t base, size;

		if (words[i] < MIN_HEAP_WORD || !object_of(w, words[i], &base, &size) ||
		    hashmap__get(&w->marked, base) || hashmap__get(&w->skip, base))
			continue;
		hashmap__set(&w->marked, base, (void *)1);
		w->out->objects++;
		push(w, base, base + size);
	}
}

/* Reads through a cache of 64 KiB blocks: a walk reads many small objects side by side, one
 * system call each otherwise. A block that cannot be read whole (the end of a mapping) is
 * read as asked. */
static int read_cached(struct walk *w, uint64_t at, void *out, size_t len)
{
	uint8_t *dst = out;

	while (len) {
		uint64_t key = at >> BLOCK_SHIFT, off = at & (BLOCK - 1);
		size_t n = BLOCK - off < len ? (size_t)(BLOCK - off) : len;
		uint8_t *b = hashmap__get(&w->blocks, key);

		if (!b && w->cached < CACHE_MAX) {
			b = xcalloc(1, BLOCK);
			if (procfs__read_mem(w->in->pid, key << BLOCK_SHIFT, b, BLOCK)) {
				free(b);
				b = NOT_CACHED;
			} else {
				w->cached += BLOCK;
			}
			hashmap__set(&w->blocks, key, b);
		}
		if (b && b != NOT_CACHED)
			memcpy(dst, b + off, n);
		else if (procfs__read_mem(w->in->pid, at, dst, n))
			return -EIO;
		dst += n;
		at += n;
		len -= n;
	}
	return 0;
}

/* Drains the work list. -ETIME when out of budget. */
static int drain(struct walk *w)
{
	while (w->nwork) {
		struct range r = w->work[--w->nwork];

		for (uint64_t at = r.lo; at < r.hi; at += CHUNK) {
			size_t len = r.hi - at < CHUNK ? (size_t)(r.hi - at) & ~(size_t)7 : CHUNK;

			if (now_mono_ns() > w->deadline)
				return -ETIME;
			if (!len)
				continue;
			/* what cannot be read might hold the one pointer that matters */
			if (read_cached(w, at, w->buf, len)) {
				snprintf(w->out->why, sizeof(w->out->why),
					 "memory at 0x%" PRIx64 " could not be read", at);
				return -EIO;
			}
			w->out->bytes += len;
			mark_words(w, w->buf, len / 8);
		}
	}
	return 0;
}

/* A goroutine's live stack: from its saved sp up, as the collector scans it (the words below
 * are dead frames, stale pointers); all of it when it runs, its sp in a register. */
static void push_goroutine(struct walk *w, const struct go_g *g)
{
	bool saved = (g->status & ~(uint32_t)GO_SCAN) != GO_RUNNING && g->sched_sp >= g->stack_lo &&
		     g->sched_sp < g->stack_hi;

	push(w, saved ? g->sched_sp : g->stack_lo, g->stack_hi);
	push(w, g->g, g->g + w->in->l->g_size);
}

/* A writable section, less the Ms in it (m0 is a global) */
static void push_section(struct walk *w, uint64_t lo, uint64_t hi)
{
	uint64_t msize = w->in->l->m_size;

	for (size_t i = 0; i < w->in->nms && msize; i++) {
		uint64_t m = w->in->ms[i];

		if (m >= lo && m + msize <= hi) {
			push_section(w, lo, m);
			push_section(w, m + msize, hi);
			return;
		}
	}
	push(w, lo, hi);
}

struct parked {
	uint64_t chans[MAX_CASES];
	int nchans;    /* -1: not parked on channels (a root) */
	uint64_t sema; /* or the semaphore it sleeps on (sync.Mutex, WaitGroup ...), 0: none */
	uint64_t *cond_words; /* or the words of its frames up to sync.(*Cond).Wait's (owned) */
	size_t ncond_words;
	bool root;
};

/* The goroutine of snap whose stack holds addr; -1: none. */
static ssize_t stack_owner(const struct go_snapshot *snap, uint64_t addr)
{
	for (size_t k = 0; k < snap->n; k++)
		if (addr >= snap->g[k].stack_lo && addr < snap->g[k].stack_hi)
			return (ssize_t)k;
	return -1;
}

static bool in_an_m(const struct go_reach_in *in, uint64_t word)
{
	for (size_t i = 0; i < in->nms; i++)
		if (word >= in->ms[i] && word < in->ms[i] + in->l->m_size)
			return true;
	return false;
}

/* Whether a word of Cond waiter i's frames may be its Cond, and that Cond reached: a heap
 * object marked (the runtime's, skipped, are not its Cond), a global (the Ms aside), or in
 * the stack of a goroutine that can run. A word into its own stack is a frame's link; any
 * other is no object of the program's. */
static bool cond_word_reached(struct walk *w, const struct parked *parked, size_t i, uint64_t word)
{
	uint64_t base, size;
	ssize_t owner;

	if (word < MIN_HEAP_WORD)
		return false;
	if (object_of(w, word, &base, &size))
		return hashmap__get(&w->marked, base) != NULL;
	for (int k = 0; k < w->nsecs; k++)
		if (word >= w->secs[k].addr + w->in->bias &&
		    word < w->secs[k].addr + w->in->bias + w->secs[k].size)
			return !in_an_m(w->in, word);
	owner = stack_owner(w->in->snap, word);
	return owner >= 0 && (size_t)owner != i && parked[owner].root;
}

/* The words of the frame of sync.(*Cond).Wait in g's stack, and the spill slot of its
 * receiver above it (in its caller's frame), found through the frame pointers; NULL when
 * that frame is not (then g is no candidate). The Cond is among them: Wait relocks it on
 * waking, and no register keeps a value across a call in Go's ABI. The runtime's frames
 * below are left out: their dead slots keep words of whatever ran there last (a P, an M). */
static uint64_t *cond_words(struct walk *w, const struct go_g *g, size_t *n)
{
	const struct go_reach_in *in = w->in;
	uint64_t lo = g->sched_sp, hi = g->stack_hi, pc = g->sched_pc, bp = g->sched_bp;
	uint64_t *mem, callee_bp = 0;

	*n = 0;
	if (!in->cond_frame || lo < g->stack_lo || lo >= hi || (lo & 7))
		return NULL;
	if (hi - lo > COND_STACK_MAX)
		hi = lo + COND_STACK_MAX;
	mem = xcalloc(1, hi - lo);
	if (read_cached(w, lo, mem, hi - lo)) {
		free(mem);
		return NULL;
	}
	for (int k = 0; k < GO_STACK_MAX; k++) {
		uint64_t next;

		if (bp < lo || bp + 16 > hi || (bp & 7))
			break;
		if (k > 0 && in->cond_frame(in->cond_ctx, pc, true)) {
			uint64_t from = callee_bp + 16, end = bp + 24 < hi ? bp + 24 : hi;
			uint64_t *words = xcalloc((end - from) / 8 + 1, sizeof(*words));

			*n = (end - from) / 8;
			memcpy(words, mem + (from - lo) / 8, *n * 8);
			free(mem);
			return words;
		}
		next = mem[(bp - lo) / 8];
		pc = mem[(bp - lo) / 8 + 1];
		if (next <= bp)
			break;
		callee_bp = bp;
		bp = next;
	}
	free(mem);
	return NULL;
}

/* Whether what a parked goroutine waits on is reached: a channel, or the sync object holding
 * a semaphore, on the heap and marked; one in a goroutine's stack is reached when that
 * goroutine can run; one off the heap and off every stack (a global's) always is. */
static bool any_marked(struct walk *w, const struct parked *parked, size_t i)
{
	const struct parked *p = &parked[i];
	uint64_t base, size;
	ssize_t owner;

	for (int k = 0; k < p->nchans; k++)
		if (!object_of(w, p->chans[k], &base, &size) || hashmap__get(&w->marked, base))
			return true;
	for (size_t k = 0; k < p->ncond_words; k++)
		if (cond_word_reached(w, parked, i, p->cond_words[k]))
			return true;
	if (!p->sema)
		return false;
	if (object_of(w, p->sema, &base, &size))
		return hashmap__get(&w->marked, base) != NULL;
	owner = stack_owner(w->in->snap, p->sema);
	return owner < 0 || parked[owner].root;
}

/* Goroutine (its g) -> the address it sleeps on in semacquire, from the treaps of
 * runtime.semtable (a node per address, more sudogs of that address along its waitlink);
 * every sudog found goes into skip: the global table is how the runtime finds them. */
static int read_semaphores(struct walk *w, struct hashmap *sema_of)
{
	const struct go_layout *l = w->in->l;
	size_t window =
		8 + (size_t)(l->sudog_elem > l->sudog_waitlink ? l->sudog_elem : l->sudog_waitlink);
	uint64_t *stack = NULL;
	size_t n = 0, cap = 0, visited = 0;
	uint8_t *table, s[256];
	int err = 0;

	/* every field read in a node: known (a layout still being proved has -1) and in s */
	if (!l->semtable || l->sudog_elem < 0 || l->sudog_waitlink < 0 || l->sudog_prev < 0 ||
	    l->sudog_next < 0 || window > sizeof(s) || (size_t)l->sudog_prev + 8 > sizeof(s) ||
	    (size_t)l->sudog_next + 8 > sizeof(s))
		return -ENOENT;
	table = xcalloc((size_t)l->sema_count, (size_t)l->sema_stride);
	if (read_cached(w, l->semtable + w->in->bias, (uint64_t *)table,
			(size_t)l->sema_count * (size_t)l->sema_stride)) {
		free(table);
		return -EIO;
	}
	for (int32_t r = 0; r < l->sema_count; r++) {
		uint64_t root;

		memcpy(&root, table + (size_t)r * (size_t)l->sema_stride + (size_t)l->sema_treap,
		       8);
		if (!root)
			continue;
		if (n == cap)
			stack = xrealloc(stack, (cap = cap ? cap * 2 : 64) * sizeof(*stack));
		stack[n++] = root;
	}
	while (n && !err) {
		uint64_t node = stack[--n], kids[2], elem, t;

		if (++visited > SEMA_NODES_MAX || read_cached(w, node, s, sizeof(s))) {
			err = -EIO;
			break;
		}
		memcpy(&elem, s + l->sudog_elem, 8);
		memcpy(&kids[0], s + l->sudog_prev, 8);
		memcpy(&kids[1], s + l->sudog_next, 8);
		for (t = node; t && !err; memcpy(&t, s + l->sudog_waitlink, 8)) {
			uint64_t g;

			if (t != node && read_cached(w, t, s, sizeof(s))) {
				err = -EIO;
				break;
			}
			memcpy(&g, s, 8);
			hashmap__set(&w->skip, t, (void *)1);
			if (g)
				hashmap__set(sema_of, g, (void *)(uintptr_t)elem);
			if (++visited > SEMA_NODES_MAX)
				err = -EIO;
		}
		for (int k = 0; k < 2 && !err; k++) {
			if (!kids[k])
				continue;
			if (n == cap)
				stack = xrealloc(stack,
						 (cap = cap ? cap * 2 : 64) * sizeof(*stack));
			stack[n++] = kids[k];
		}
	}
	free(stack);
	free(table);
	return err;
}

static int walk(struct walk *w, struct parked *parked)
{
	const struct go_reach_in *in = w->in;
	const struct go_snapshot *snap = in->snap;
	int nsecs = elfsym__writable(in->exe, w->secs, MAX_SECTIONS), err;
	bool grew = true;

	if (nsecs <= 0) {
		snprintf(w->out->why, sizeof(w->out->why),
			 "the executable's data could not be read");
		return nsecs < 0 ? nsecs : -ENOENT;
	}
	w->nsecs = nsecs;
	struct hashmap sema_of;

	/* without the semaphores, a goroutine in sync.Mutex.Lock is a root, and its object is
	 * reached through the table: fewer proofs, none wrong */
	hashmap__init(&sema_of);
	err = read_semaphores(w, &sema_of);
	if (err && err != -ENOENT) {
		hashmap__free(&sema_of);
		snprintf(w->out->why, sizeof(w->out->why), "the semaphores could not be read");
		return err;
	}
	for (size_t i = 0; i < snap->n; i++) {
		const struct go_g *g = &snap->g[i];
		uint64_t sudogs[MAX_CASES];

		if (!(i & 255) && now_mono_ns() > w->deadline) {
			hashmap__free(&sema_of);
			return -ETIME;
		}
		parked[i].nchans =
			go_wait__channels(in->pid, in->l, g, parked[i].chans, sudogs, MAX_CASES);
		parked[i].sema = (uintptr_t)hashmap__get(&sema_of, g->g);
		if (parked[i].nchans <= 0 && parked[i].sema &&
		    (g->status & ~(uint32_t)GO_SCAN) == GO_WAITING) {
			parked[i].nchans = 0;
			w->out->candidates++;
			hashmap__set(&w->skip, g->g, (void *)1);
			continue;
		}
		parked[i].sema = 0;
		if (parked[i].nchans <= 0 && in->cond_waiter && in->cond_waiter[i] &&
		    (g->status & ~(uint32_t)GO_SCAN) == GO_WAITING &&
		    (parked[i].cond_words = cond_words(w, g, &parked[i].ncond_words))) {
			parked[i].nchans = 0;
			w->out->candidates++;
			hashmap__set(&w->skip, g->g, (void *)1);
			continue;
		}
		if (parked[i].nchans <= 0) {
			parked[i].nchans = -1;
			parked[i].root = true;
			continue;
		}
		w->out->candidates++;
		hashmap__set(&w->skip, g->g, (void *)1);
		for (int k = 0; k < parked[i].nchans; k++)
			hashmap__set(&w->skip, sudogs[k], (void *)1);
	}
	hashmap__free(&sema_of);
	for (size_t i = 0; i < in->nms; i++)
		hashmap__set(&w->skip, in->ms[i], (void *)1);
	for (int i = 0; i < nsecs; i++)
		push_section(w, w->secs[i].addr + in->bias,
			     w->secs[i].addr + in->bias + w->secs[i].size);
	for (size_t i = 0; i < snap->n; i++)
		if (parked[i].root && !(in->collector && in->collector[i]))
			push_goroutine(w, &snap->g[i]);
	/* a parked goroutine whose channel is reached may be woken: its stack is a root too */
	while (grew) {
		if ((err = drain(w)))
			return err;
		grew = false;
		for (size_t i = 0; i < snap->n; i++) {
			if (parked[i].root || !any_marked(w, parked, i))
				continue;
			parked[i].root = grew = true;
			hashmap__del(&w->skip, snap->g[i].g);
			push_goroutine(w, &snap->g[i]);
		}
	}
	for (size_t i = 0; i < snap->n; i++)
		if (!parked[i].root) {
			w->out->unreachable[i] = 1;
			w->out->proven++;
		}
	return 0;
}

int go_reach__walk(const struct go_reach_in *in, struct go_reach_out *out)
{
	struct walk w = {.in = in, .out = out};
	struct parked *parked;
	uint64_t start = now_mono_ns(), key;
	void *val;
	int err;

	memset(out->unreachable, 0, in->snap->n);
	out->candidates = out->proven = out->objects = out->bytes = 0;
	out->cut_short = false;
	out->why[0] = 0;
	if (!in->heap) {
		snprintf(out->why, sizeof(out->why), "the heap's index is unknown (no DWARF)");
		return -ENOENT;
	}
	w.deadline = start + in->budget_ns;
	w.buf = xcalloc(1, CHUNK);
	parked = xcalloc(in->snap->n ? in->snap->n : 1, sizeof(*parked));
	hashmap__init(&w.marked);
	hashmap__init(&w.skip);
	hashmap__init(&w.pages);
	hashmap__init(&w.blocks);
	err = walk(&w, parked);
	if (err == -ETIME) {
		out->cut_short = true;
		out->proven = 0;
		memset(out->unreachable, 0, in->snap->n);
		snprintf(out->why, sizeof(out->why), "the heap walk was cut short at %.0f ms",
			 (double)in->budget_ns / 1e6);
	}
	out->ns = now_mono_ns() - start;
	for (size_t i = 0; hashmap__next(&w.pages, &i, &key, &val);)
		if (val != NOT_HEAP)
			free(val);
	hashmap__free(&w.pages);
	for (size_t i = 0; hashmap__next(&w.blocks, &i, &key, &val);)
		if (val != NOT_CACHED)
			free(val);
	hashmap__free(&w.blocks);
	hashmap__free(&w.skip);
	hashmap__free(&w.marked);
	for (size_t i = 0; i < in->snap->n; i++)
		free(parked[i].cond_words);
	free(parked);
	free(w.buf);
	free(w.work);
	return err;
}
