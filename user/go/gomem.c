// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gomem.h"
#include "go/golayout.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* linux/amd64 (malloc.go): 64 MiB arenas, 8 KiB pages, one level of arena index (no L1)
 * of 2^22 entries, addresses offset by arenaBaseOffset so the index starts at 0. */
#define ARENA_SHIFT	  26
#define PAGE_SHIFT	  13
#define PAGES_PER_ARENA	  (1u << (ARENA_SHIFT - PAGE_SHIFT))
#define ARENA_L2_ENTRIES  (1u << 22)
#define ARENA_BASE_OFFSET 0xffff800000000000ULL
#define SPAN_IN_USE	  1 /* mSpanInUse */
#define SPAN_WINDOW	  160
#define SCAN_MAX	  (64u << 10) /* bytes of one stack or object looked into */
#define LOOK_INTO_MAX	  4096	      /* objects larger than this are counted, not looked into */
#define OBJECTS_MAX	  4096	      /* distinct objects one call counts at most */

struct go_heap {
	pid_t pid;
	const struct go_layout *l;
	uint64_t l2;	       /* *[1 << 22]*heapArena: mheap_.arenas[0] */
	struct hashmap arenas; /* arena index + 1 -> its heapArena (as pointer), read once */
};

static uint64_t read_word(pid_t pid, uint64_t addr)
{
	uint64_t v = 0;

	if (procfs__read_mem(pid, addr, &v, sizeof(v)))
		return 0;
	return v;
}

static uint64_t field(const uint8_t *buf, int32_t off, size_t width)
{
	uint64_t v = 0;

	if (off >= 0 && (size_t)off + width <= SPAN_WINDOW)
		memcpy(&v, buf + off, width);
	return v;
}

int go_heap__object(struct go_heap *h, uint64_t p, uint64_t *base, uint64_t *size)
{
	uint64_t ai = (p - ARENA_BASE_OFFSET) >> ARENA_SHIFT, ha, span, start, npages, elem;
	uint8_t s[SPAN_WINDOW];
	void *have;

	if (ai >= ARENA_L2_ENTRIES || (p & 7))
		return -ENOENT;
	have = hashmap__get(&h->arenas, ai + 1);
	if (have) {
		ha = (uintptr_t)have;
	} else {
		ha = read_word(h->pid, h->l2 + ai * 8);
		hashmap__set(&h->arenas, ai + 1, (void *)(uintptr_t)(ha ? ha : 1));
	}
	if (ha <= 1)
		return -ENOENT; /* no arena there: not a heap address */
	span = read_word(h->pid, ha + (uint64_t)h->l->arena_spans +
					 ((p >> PAGE_SHIFT) % PAGES_PER_ARENA) * 8);
	if (!span || procfs__read_mem(h->pid, span, s, sizeof(s)) ||
	    field(s, h->l->span_state, 1) != SPAN_IN_USE)
		return -ENOENT;
	start = field(s, h->l->span_start, 8);
	npages = field(s, h->l->span_npages, 8);
	elem = field(s, h->l->span_elemsize, 8);
	if (!npages || npages > (1ULL << 30) || p < start || p >= start + (npages << PAGE_SHIFT))
		return -ENOENT;
	if (!elem || elem > npages << PAGE_SHIFT)
		elem = npages << PAGE_SHIFT; /* one large object */
	*base = start + (p - start) / elem * elem;
	*size = elem;
	return 0;
}

struct go_heap *go_heap__open(pid_t pid, uint64_t bias, const struct go_layout *l, uint64_t g)
{
	struct go_heap *h;
	uint64_t base, size;

	if (!l->mheap || l->mheap_arenas < 0)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->pid = pid;
	h->l = l;
	hashmap__init(&h->arenas);
	h->l2 = read_word(pid, l->mheap + bias + (uint64_t)l->mheap_arenas);
	/* a g is an object of its own on the heap (malg): the index must say so */
	if (!h->l2 || go_heap__object(h, g, &base, &size) || base != g || size < l->g_size) {
		go_heap__free(h);
		return NULL;
	}
	return h;
}

void go_heap__free(struct go_heap *h)
{
	if (!h)
		return;
	hashmap__free(&h->arenas);
	free(h);
}

static uint64_t scan(struct go_heap *h, uint64_t lo, uint64_t hi, int depth, struct hashmap *seen,
		     size_t *budget)
{
	uint64_t total = 0, *words;
	size_t len;

	if (hi <= lo || depth <= 0 || !*budget)
		return 0;
	len = hi - lo < SCAN_MAX ? (size_t)(hi - lo) & ~(size_t)7 : SCAN_MAX;
	words = xcalloc(len / 8 + 1, sizeof(*words));
	if (procfs__read_mem(h->pid, lo, words, len)) {
		free(words);
		return 0;
	}
	for (size_t i = 0; i < len / 8 && *budget; i++) {
		uint64_t base, size;

		if (words[i] < 4096 || go_heap__object(h, words[i], &base, &size) ||
		    hashmap__get(seen, base))
			continue;
		hashmap__set(seen, base, (void *)1);
		(*budget)--;
		total += size;
		if (size <= LOOK_INTO_MAX)
			total += scan(h, base, base + size, depth - 1, seen, budget);
	}
	free(words);
	return total;
}

uint64_t go_heap__reachable(struct go_heap *h, uint64_t lo, uint64_t hi, int depth,
			    struct hashmap *seen)
{
	size_t budget = OBJECTS_MAX;

	return h ? scan(h, lo, hi, depth, seen, &budget) : 0;
}
