// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/stackmemo.h"
#include "lib/hashmap.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

/* Remembered at most: past it the memo starts again (one path per wait site is the use). */
#define MEMO_MAX 4096

struct memo {
	pid_t pid;
	uint64_t pc;
	uint32_t stack_len;
	int depth; /* unwound return addresses, pcs[1..depth) */
	uint64_t ret[UNWIND_MAX_FRAMES];
	int32_t slot[UNWIND_MAX_FRAMES];
	uint64_t path_hash;
	int nframes;
	struct sym_frame frames[]; /* symbolized */
};

struct stack_memo {
	struct hashmap by_shape; /* hash(pid, pc, copy length) -> struct memo * (owned) */
};

struct stack_memo *stack_memo__new(void)
{
	struct stack_memo *m = xcalloc(1, sizeof(*m));

	hashmap__init(&m->by_shape);
	return m;
}

void stack_memo__free(struct stack_memo *m)
{
	if (!m)
		return;
	hashmap__free_values(&m->by_shape);
	free(m);
}

static uint64_t shape_of(const struct stack_sample *s)
{
	return hash_combine(hash_combine(hash_u64((uint64_t)s->pid), s->regs[DWARF_RIP]),
			    s->stack_len);
}

static bool holds(const struct memo *e, const struct stack_sample *s)
{
	if (e->pid != s->pid || e->pc != s->regs[DWARF_RIP] || e->stack_len != s->stack_len)
		return false;
	for (int i = 1; i < e->depth; i++) {
		uint64_t word;

		memcpy(&word, s->stack + e->slot[i], sizeof(word));
		if (word != e->ret[i])
			return false;
	}
	return true;
}

int stack_memo__find(struct stack_memo *m, const struct stack_sample *sample,
		     struct sym_frame **frames, uint64_t *path_hash)
{
	struct memo *e = hashmap__get(&m->by_shape, shape_of(sample));

	if (!e || !holds(e, sample))
		return -1;
	*frames = xcalloc((size_t)e->nframes, sizeof(**frames));
	memcpy(*frames, e->frames, (size_t)e->nframes * sizeof(**frames));
	*path_hash = e->path_hash;
	return e->nframes;
}

void stack_memo__add(struct stack_memo *m, const struct stack_sample *sample,
		     const struct unwound_stack *st, const struct sym_frame *frames, int n,
		     uint64_t path_hash)
{
	uint64_t key = shape_of(sample);
	struct memo *e;

	if (n < 1 || st->depth < 1)
		return;
	for (int i = 1; i < st->depth; i++)
		if (st->slot[i] < 0 || (uint64_t)st->slot[i] + 8 > sample->stack_len)
			return;
	if (m->by_shape.len >= MEMO_MAX) {
		hashmap__free_values(&m->by_shape);
		hashmap__init(&m->by_shape);
	}
	e = xcalloc(1, sizeof(*e) + (size_t)n * sizeof(*frames));
	e->pid = sample->pid;
	e->pc = sample->regs[DWARF_RIP];
	e->stack_len = sample->stack_len;
	e->depth = st->depth;
	memcpy(e->ret, st->pc, sizeof(e->ret));
	memcpy(e->slot, st->slot, sizeof(e->slot));
	memcpy(e->frames, frames, (size_t)n * sizeof(*frames));
	e->nframes = n;
	e->path_hash = path_hash;
	free(hashmap__del(&m->by_shape, key)); /* another path of that shape: the newest */
	hashmap__set(&m->by_shape, key, e);
}

void stack_memo__forget(struct stack_memo *m, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&m->by_shape, &i, &key, &val);)
		if (((struct memo *)val)->pid == pid)
			free(hashmap__del(&m->by_shape, key));
}
