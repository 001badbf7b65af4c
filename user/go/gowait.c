// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gowait.h"
#include "go/golayout.h"
#include "go/golist.h"
#include "go/gosnap.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G_WINDOW     768 /* bytes of each g searched for g.waiting */
#define SUDOG_WINDOW 192 /* runtime.sudog is 88-96 bytes (Go 1.17-1.26) */
#define HCHAN_WINDOW 128
/* In every release hchan starts with qcount, dataqsiz, buf, elemsize+closed and elemtype:
 * its wait queues (recvq, sendq: first and last sudog) come after those 40 bytes. */
#define HCHAN_QUEUES_FROM 40
#define SAMPLES		  16 /* goroutines each candidate offset is checked against */
#define MAX_CHAIN	  64

enum chan_kind { NOT_CHAN, CHAN_OP, CHAN_SELECT };

static enum chan_kind chan_kind_of(const struct go_layout *l, uint32_t status, uint32_t reason)
{
	const char *name;

	if ((status & ~(uint32_t)GO_SCAN) != GO_WAITING || reason >= (uint32_t)l->nwait_reasons)
		return NOT_CHAN;
	name = l->wait_reasons[reason];
	if (!strcmp(name, "chan receive") || !strcmp(name, "chan send"))
		return CHAN_OP;
	return !strcmp(name, "select") ? CHAN_SELECT : NOT_CHAN;
}

static uint64_t word_of(const uint8_t *buf, size_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A select's channels as one object: their sorted set, hashed, low bit set. */
static uint64_t set_object(uint64_t *chans, int n)
{
	uint64_t h = hash_u64((uint64_t)n);

	qsort(chans, (size_t)n, sizeof(*chans), cmp_u64);
	for (int i = 0; i < n; i++)
		h = hash_combine(h, chans[i]);
	return h | 1;
}

static void objects_of(pid_t pid, const struct go_layout *l, const struct go_g *gs, size_t n,
		       uint64_t *objs)
{
	size_t k;
	uint64_t *cur = xcalloc(n ? n : 1, sizeof(*cur)), *addrs, (*chans)[GO_SELECT_MAX_CASES];
	size_t *which = xcalloc(n ? n : 1, sizeof(*which));
	int *nchans = xcalloc(n ? n : 1, sizeof(*nchans));
	uint8_t *mem;
	size_t window =
		(size_t)(l->sudog_c > l->sudog_waitlink ? l->sudog_c : l->sudog_waitlink) + 8;

	memset(objs, 0, n * sizeof(*objs));
	if (l->g_waiting < 0 || l->sudog_c < 0 || !n) {
		free(cur);
		free(which);
		free(nchans);
		return;
	}
	addrs = xcalloc(n, sizeof(*addrs));
	/* not zeroed: only what each round read (or zeroed) and each chain's channels found are
	 * looked at */
	chans = xmalloc(n * sizeof(*chans));
	mem = xmalloc(n * window);
	for (size_t i = 0; i < n; i++)
		if (chan_kind_of(l, gs[i].status, gs[i].waitreason) != NOT_CHAN)
			cur[i] = gs[i].waiting;
	/* one round per sudog of the chain: the first of every goroutine, then the second of
	 * every select, ...; each round is a few batched reads */
	for (int round = 0; round < GO_SELECT_MAX_CASES; round++) {
		k = 0;
		for (size_t i = 0; i < n; i++)
			if (cur[i]) {
				addrs[k] = cur[i];
				which[k++] = i;
			}
		if (!k)
			break;
		procfs__read_blocks(pid, addrs, k, window, READ_GAP_OBJECTS, mem);
		for (size_t j = 0; j < k; j++) {
			const uint8_t *s = mem + j * window;
			size_t i = which[j];
			uint64_t c = word_of(s, (size_t)l->sudog_c);

			cur[i] = 0;
			/* the goroutine may have woken since its g was read: its sudog must still
			 * name it, or it is not counted */
			if (word_of(s, 0) != gs[i].g || !c) {
				nchans[i] = -1;
				continue;
			}
			chans[i][nchans[i]++] = c;
			if (chan_kind_of(l, gs[i].status, gs[i].waitreason) == CHAN_SELECT &&
			    l->sudog_waitlink >= 0 && nchans[i] < GO_SELECT_MAX_CASES)
				cur[i] = word_of(s, (size_t)l->sudog_waitlink);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (nchans[i] <= 0)
			continue;
		if (chan_kind_of(l, gs[i].status, gs[i].waitreason) == CHAN_OP)
			objs[i] = chans[i][0];
		else if (l->sudog_waitlink >= 0)
			objs[i] = set_object(chans[i], nchans[i]);
	}
	free(mem);
	free(chans);
	free(addrs);
	free(nchans);
	free(which);
	free(cur);
}

int go_wait__channels(pid_t pid, const struct go_layout *l, const struct go_g *g, uint64_t *chans,
		      uint64_t *sudogs, int max)
{
	enum chan_kind kind = chan_kind_of(l, g->status, g->waitreason);
	uint64_t cur = g->waiting;
	int n = 0;

	if (kind == NOT_CHAN || l->g_waiting < 0 || l->sudog_c < 0 ||
	    (kind == CHAN_SELECT && l->sudog_waitlink < 0))
		return -ENOENT;
	while (cur) {
		uint64_t s[2] = {0};

		/* a sudog names its goroutine first: one that does not was reused since */
		if (n == max || procfs__read_mem(pid, cur, &s[0], sizeof(s[0])) || s[0] != g->g ||
		    procfs__read_mem(pid, cur + (uint64_t)l->sudog_c, &s[1], sizeof(s[1])) || !s[1])
			return -ESTALE;
		sudogs[n] = cur;
		chans[n++] = s[1];
		if (kind == CHAN_OP)
			break;
		if (procfs__read_mem(pid, cur + (uint64_t)l->sudog_waitlink, &cur, sizeof(cur)))
			return -ESTALE;
	}
	return n;
}

/* A chunk of goroutines at a time: for a million, the sudog windows and the channels of
 * every select at once would be hundreds of megabytes. */
void go_wait__objects(pid_t pid, const struct go_layout *l, const struct go_g *gs, size_t n,
		      uint64_t *objs)
{
	for (size_t at = 0; at < n; at += GO_WAIT_OBJECTS_CHUNK)
		objects_of(pid, l, gs + at,
			   n - at < GO_WAIT_OBJECTS_CHUNK ? n - at : GO_WAIT_OBJECTS_CHUNK,
			   objs + at);
}

/* The goroutines in channel waits now, and the first bytes of each one's first sudog. */
struct chan_waiters {
	size_t n;
	uint64_t g[SAMPLES], sudog[SAMPLES];
	enum chan_kind kind[SAMPLES];
	uint8_t gmem[SAMPLES][G_WINDOW];
	uint8_t smem[SAMPLES][SUDOG_WINDOW];
	size_t others; /* goroutines not in channel waits, sampled */
	uint8_t omem[SAMPLES][G_WINDOW];
};

/* Goroutines looked at by one attempt: a sample, not the process (a million goroutines are
 * 750 MB of windows); each attempt starts where the last one stopped. */
#define GATHER_LOOK 16384

static int gather(pid_t pid, uint64_t bias, const struct go_layout *l, unsigned attempt,
		  struct chan_waiters *w)
{
	struct go_gs gs;
	int err = go_gs__open_list(pid, l->allgs + bias, l->allglen + bias, G_WINDOW, &gs);
	size_t from = gs.n ? (size_t)attempt * GATHER_LOOK % gs.n : 0;

	memset(w, 0, sizeof(*w));
	if (err)
		return err;
	for (size_t j = 0; j < gs.n && j < GATHER_LOOK && (w->n < SAMPLES || w->others < SAMPLES);
	     j++) {
		size_t i = (from + j) % gs.n;
		uint32_t status, reason;
		enum chan_kind kind;

		if (j == 0 || i % GS_CHUNK == 0) /* a chunk of rows at a time */
			go_gs__read_rows(pid, &gs, i, GS_CHUNK);
		status = (uint32_t)go_gs__word(&gs, i, l->atomicstatus, 4);
		reason = (uint32_t)go_gs__word(&gs, i, l->waitreason, 1);
		kind = chan_kind_of(l, status, reason);

		if (!go_gs__ptr(&gs, i) || (status & ~(uint32_t)GO_SCAN) == GO_DEAD)
			continue;
		if (kind != NOT_CHAN && w->n < SAMPLES) {
			w->g[w->n] = go_gs__ptr(&gs, i);
			w->kind[w->n] = kind;
			memcpy(w->gmem[w->n++], gs.bytes + (i - gs.base) * G_WINDOW, G_WINDOW);
		} else if (kind == NOT_CHAN && w->others < SAMPLES) {
			memcpy(w->omem[w->others++], gs.bytes + (i - gs.base) * G_WINDOW, G_WINDOW);
		}
	}
	go_gs__free(&gs);
	return w->n ? 0 : -ENODATA;
}

/* g.waiting: in every goroutine in a channel wait, a pointer to a sudog naming that
 * goroutine (sudog.g is the first field); nil in goroutines outside channel waits. */
/* A sample that fails may only have woken since its g was read: its g.waiting (the word at
 * off) is not what it was. Such a sample says nothing either way. */
static bool moved_on(pid_t pid, const struct chan_waiters *w, size_t i, int32_t off)
{
	uint64_t now;

	return procfs__read_mem(pid, w->g[i] + (uint64_t)off, &now, sizeof(now)) ||
	       now != word_of(w->gmem[i], (size_t)off);
}

/* g.waiting: in every goroutine in a channel wait, a pointer to a sudog naming that
 * goroutine (sudog.g is the first field); nil in goroutines outside channel waits. */
static bool waiting_holds(pid_t pid, const struct chan_waiters *w, int32_t off)
{
	size_t zero = 0, held = 0;

	for (size_t i = 0; i < w->n; i++) {
		uint64_t s = word_of(w->gmem[i], (size_t)off), back;

		if (s && !(s & 7) && s != w->g[i] &&
		    !procfs__read_mem(pid, s, &back, sizeof(back)) && back == w->g[i]) {
			held++;
			continue;
		}
		if (!moved_on(pid, w, i, off))
			return false;
	}
	for (size_t i = 0; i < w->others; i++)
		zero += !word_of(w->omem[i], (size_t)off);
	return held && zero * 10 >= w->others * 9;
}

static void read_sudogs(pid_t pid, const struct go_layout *l, struct chan_waiters *w)
{
	for (size_t i = 0; i < w->n; i++) {
		w->sudog[i] = word_of(w->gmem[i], (size_t)l->g_waiting);
		if (procfs__read_mem(pid, w->sudog[i], w->smem[i], SUDOG_WINDOW))
			memset(w->smem[i], 0, SUDOG_WINDOW);
	}
}

/* A channel as every release lays one out: a heap object (never on the goroutine's own
 * stack, where sudog.elem points for a receive), no more items queued than it has room for,
 * closed or not. */
static bool looks_like_hchan(const struct chan_waiters *w, size_t i, const struct go_layout *l,
			     uint64_t c, const uint8_t *h)
{
	uint64_t lo = word_of(w->gmem[i], (size_t)l->stack_lo);
	uint64_t hi = word_of(w->gmem[i], (size_t)l->stack_hi);
	uint32_t closed;

	memcpy(&closed, h + 28, sizeof(closed));
	return !(c >= lo && c < hi) && word_of(h, 0) <= word_of(h, 8) &&
	       word_of(h, 8) < (1ULL << 32) && closed <= 1;
}

/* sudog.c: the channel, whose wait queues hold this very sudog (a plain channel operation
 * queues exactly one; a select queues one on each case's channel, its first among them): at
 * the queue's head or tail, which the channel holds; a sudog in the middle of a queue of
 * three or more is linked only from its neighbours, which says nothing either way. What is
 * no channel at all fails. A program whose only channel wait is a select (lefthook's signal
 * context) is proved on it. 1: proved, 0: no sample says either way (a million goroutines
 * queued on one channel, none sampled at its ends), -1: refuted. */
static int chan_evidence(pid_t pid, const struct chan_waiters *w, const struct go_layout *l,
			 int32_t off)
{
	int32_t waiting = l->g_waiting;
	int checked = 0;

	for (size_t i = 0; i < w->n; i++) {
		uint64_t c = word_of(w->smem[i], (size_t)off);
		uint8_t h[HCHAN_WINDOW];
		bool queued = false;

		if (w->kind[i] == NOT_CHAN)
			continue;
		bool channel = c && !(c & 7) && !procfs__read_mem(pid, c, h, sizeof(h)) &&
			       looks_like_hchan(w, i, l, c, h);

		for (size_t k = HCHAN_QUEUES_FROM; channel && k + 8 <= sizeof(h) && !queued; k += 8)
			queued = word_of(h, k) == w->sudog[i];
		if (queued)
			checked++;
		else if (!channel && !moved_on(pid, w, i, waiting))
			return -1;
	}
	return checked > 0;
}

static bool chan_holds(pid_t pid, const struct chan_waiters *w, const struct go_layout *l,
		       int32_t off)
{
	return chan_evidence(pid, w, l, off) > 0;
}

/* Follows a select's sudogs from the first: each must name the goroutine; returns how many,
 * or -1 when the chain does not hold (or does not end). */
static int chain_length(pid_t pid, uint64_t first, uint64_t g, int32_t off)
{
	uint64_t next = first;
	int len = 0;

	while (next && len < MAX_CHAIN) {
		uint64_t back;

		if ((next & 7) || procfs__read_mem(pid, next, &back, sizeof(back)) || back != g ||
		    procfs__read_mem(pid, next + (uint64_t)off, &next, sizeof(next)))
			return -1;
		len++;
	}
	return next ? -1 : len;
}

/* sudog.waitlink: a select's sudogs, one per case (two at least: a select of one case is a
 * plain channel operation), each naming the goroutine; nil after a plain operation's one. */
static bool waitlink_holds(pid_t pid, const struct chan_waiters *w, int32_t waiting, int32_t off)
{
	int selects = 0;

	for (size_t i = 0; i < w->n; i++) {
		uint64_t next = word_of(w->smem[i], (size_t)off);
		bool holds;

		if (w->kind[i] == CHAN_OP)
			holds = !next;
		else
			holds = chain_length(pid, w->sudog[i], w->g[i], off) >= 2;
		if (holds)
			selects += w->kind[i] == CHAN_SELECT;
		else if (!moved_on(pid, w, i, waiting))
			return false;
	}
	return selects > 0;
}

static bool used(const struct go_layout *l, int32_t off)
{
	const int32_t known[] = {l->goid,     l->gopc,	   l->startpc,	l->atomicstatus,
				 l->sched_sp, l->sched_pc, l->sched_bp, l->sched_g,
				 l->stack_lo, l->stack_hi, l->g_m,	l->parent_goid};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i] >= 0 && off >= known[i] && off < known[i] + 8)
			return true;
	return false;
}

static bool has_select(const struct chan_waiters *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->kind[i] == CHAN_SELECT)
			return true;
	return false;
}

int go_wait__infer(pid_t pid, uint64_t bias, struct go_layout *l, unsigned attempt)
{
	struct chan_waiters *w = xcalloc(1, sizeof(*w));
	int known;

	if (l->atomicstatus < 0 || l->waitreason < 0 || !l->nwait_reasons ||
	    gather(pid, bias, l, attempt, w))
		goto out;
	for (int32_t off = 0; l->g_waiting < 0 && off + 8 <= G_WINDOW; off += 8)
		if (!used(l, off) && waiting_holds(pid, w, off))
			l->g_waiting = off;
	if (l->g_waiting < 0)
		goto out;
	if ((uint32_t)l->g_waiting + 8 > l->g_size)
		l->g_size = (uint32_t)l->g_waiting + 8;
	read_sudogs(pid, l, w);
	for (int32_t off = 8; l->sudog_c < 0 && off + 8 <= SUDOG_WINDOW; off += 8)
		if (chan_holds(pid, w, l, off))
			l->sudog_c = off;
	for (int32_t off = 8; l->sudog_waitlink < 0 && has_select(w) && off + 8 <= SUDOG_WINDOW;
	     off += 8)
		if (off != l->sudog_c && waitlink_holds(pid, w, l->g_waiting, off))
			l->sudog_waitlink = off;
out:
	free(w);
	known = (l->g_waiting >= 0) + (l->sudog_c >= 0) + (l->sudog_waitlink >= 0);
	return known;
}

int go_wait__check(pid_t pid, uint64_t bias, struct go_layout *l, unsigned attempt)
{
	struct chan_waiters *w = xcalloc(1, sizeof(*w));
	int res = 0;
	bool unproved = false;

	if (l->g_waiting < 0 || l->atomicstatus < 0 || l->waitreason < 0 || !l->nwait_reasons ||
	    gather(pid, bias, l, attempt, w))
		goto out;
	if (!waiting_holds(pid, w, l->g_waiting)) {
		l->g_waiting = l->sudog_c = l->sudog_waitlink = -1;
		res = -1;
		goto out;
	}
	read_sudogs(pid, l, w);
	/* refuted, DWARF's offset goes; unproved for want of a sample that can prove it, it
	 * stays (and the layout is checked again at the next attempt) */
	if (l->sudog_c >= 0) {
		int c = chan_evidence(pid, w, l, l->sudog_c);

		if (c < 0) {
			l->sudog_c = -1;
			res = -1;
		} else if (!c) {
			unproved = true;
		}
	}
	if (l->sudog_waitlink >= 0 && has_select(w) &&
	    !waitlink_holds(pid, w, l->g_waiting, l->sudog_waitlink)) {
		l->sudog_waitlink = -1;
		res = -1;
	}
	if (!res)
		res = has_select(w) && !unproved ? 1 : 0; /* all three proved only with a select */
out:
	free(w);
	return res;
}

/* --- which channels are served ------------------------------------------------------ */

void go_chan_table__init(struct go_chan_table *t)
{
	hashmap__init(&t->last_wake);
	hashmap__init(&t->waiters_of);
}

void go_chan_table__free(struct go_chan_table *t)
{
	hashmap__free(&t->last_wake);
	hashmap__free(&t->waiters_of);
}

static bool still_waited(const struct go_chan_table *t, uint64_t obj)
{
	return hashmap__get(&t->waiters_of, obj) != NULL;
}

void go_chan_table__begin(struct go_chan_table *t)
{
	hashmap__free(&t->waiters_of);
	hashmap__init(&t->waiters_of);
}

void go_chan_table__saw(struct go_chan_table *t, uint64_t now_ns, uint64_t obj, uint64_t park,
			uint64_t prev_obj, uint64_t prev_park)
{
	if (prev_obj && (prev_obj != obj || prev_park != park))
		hashmap__set(&t->last_wake, prev_obj, (void *)(uintptr_t)now_ns);
	if (obj)
		hashmap__set(&t->waiters_of, obj,
			     (void *)((uintptr_t)hashmap__get(&t->waiters_of, obj) + 1));
}

void go_chan_table__gone(struct go_chan_table *t, uint64_t now_ns, uint64_t prev_obj)
{
	hashmap__set(&t->last_wake, prev_obj, (void *)(uintptr_t)now_ns);
}

void go_chan_table__end(struct go_chan_table *t)
{
	uint64_t key;
	void *val;

	/* a wake-up matters only to those still waiting on the object: forget the others */
	for (size_t i = 0; hashmap__next(&t->last_wake, &i, &key, &val);)
		if (!still_waited(t, key))
			hashmap__del(&t->last_wake, key);
}

uint64_t go_chan_table__last_wake(const struct go_chan_table *t, uint64_t obj)
{
	return (uintptr_t)hashmap__get(&t->last_wake, obj);
}

uint64_t go_chan_table__waiters(const struct go_chan_table *t, uint64_t obj)
{
	return (uintptr_t)hashmap__get(&t->waiters_of, obj);
}

/*
 * A channel's element type: hchan.elemtype (after qcount, dataqsiz, buf, elemsize and
 * closed; Go 1.23 put a timer pointer before it, which never points among the types), then
 * the type's name, at _type.str (a 32-bit offset from the module's types at byte 40 of the
 * _type in every release read, tflag at byte 20) in the runtime's name encoding: a flags
 * byte, a varint length, the bytes; a name with tflagExtraStar starts with a '*' to skip.
 */
#define HCHAN_ELEMTYPE_GO1   32
#define HCHAN_ELEMTYPE_GO123 40
#define TYPE_TFLAG	     20
#define TYPE_STR	     40
#define TFLAG_EXTRA_STAR     (1 << 1)

int go_chan__elem_type(pid_t pid, uint64_t hchan, uint64_t types, uint64_t etypes, char *out,
		       size_t len)
{
	uint64_t words[2], type = 0;
	uint8_t t[TYPE_STR + 4], name[2 + 2 + 96];
	int32_t str;
	size_t n = 0, at = 1, shift = 0;
	int err;

	if (!hchan || (hchan & 1) || !types || len < 2)
		return -EINVAL;
	if ((err = procfs__read_mem(pid, hchan + HCHAN_ELEMTYPE_GO1, words, sizeof(words))))
		return err;
	for (int i = 0; i < 2 && !type; i++)
		if (words[i] >= types && words[i] < etypes)
			type = words[i];
	if (!type || (err = procfs__read_mem(pid, type, t, sizeof(t))))
		return type ? err : -ENOENT;
	memcpy(&str, t + TYPE_STR, sizeof(str));
	if (str <= 0 || (uint64_t)str >= etypes - types ||
	    (err = procfs__read_mem(pid, types + (uint64_t)str, name, sizeof(name))))
		return str <= 0 ? -ENOENT : err;
	/* the varint length: two bytes are enough for any name read here */
	for (; at < 3; at++, shift += 7) {
		n |= (size_t)(name[at] & 0x7f) << shift;
		if (!(name[at] & 0x80))
			break;
	}
	at++;
	if (at > 3 || n > sizeof(name) - at)
		return -ERANGE;
	if ((t[TYPE_TFLAG] & TFLAG_EXTRA_STAR) && n && name[at] == '*')
		at++, n--;
	snprintf(out, len, "%.*s", (int)n, (const char *)name + at);
	return 0;
}
