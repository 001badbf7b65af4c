// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/hashmap.h"
#include "lib/util.h"

#include <stdlib.h>

enum { SLOT_EMPTY, SLOT_USED, SLOT_DELETED };

void hashmap__init(struct hashmap *m)
{
	m->keys = NULL;
	m->vals = NULL;
	m->state = NULL;
	m->cap = m->len = m->tombstones = 0;
}

void hashmap__free(struct hashmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->state);
	hashmap__init(m);
}

static size_t find_slot(const struct hashmap *m, uint64_t key, int *found)
{
	size_t mask = m->cap - 1, i = hash_u64(key) & mask, first_free = SIZE_MAX;

	for (;;) {
		if (m->state[i] == SLOT_EMPTY) {
			*found = 0;
			return first_free != SIZE_MAX ? first_free : i;
		}
		if (m->state[i] == SLOT_DELETED) {
			if (first_free == SIZE_MAX)
				first_free = i;
		} else if (m->keys[i] == key) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static void rehash(struct hashmap *m, size_t cap)
{
	struct hashmap old = *m;

	m->cap = cap;
	m->len = m->tombstones = 0;
	m->keys = xcalloc(cap, sizeof(*m->keys));
	m->vals = xcalloc(cap, sizeof(*m->vals));
	m->state = xcalloc(cap, 1);
	for (size_t i = 0; i < old.cap; i++)
		if (old.state[i] == SLOT_USED)
			hashmap__set(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
	free(old.state);
}

static void grow(struct hashmap *m)
{
	size_t cap = m->cap ? m->cap : 16;

	/* rehash in place of growing when tombstones are what fills the table */
	if ((m->len + 1) * 2 > cap)
		cap *= 2;
	rehash(m, cap);
}

void hashmap__reserve(struct hashmap *m, size_t n)
{
	size_t cap = 16;

	while (cap * 3 < (n + 1) * 4) /* the load set grows at */
		cap *= 2;
	if (cap > m->cap)
		rehash(m, cap);
}

void *hashmap__get(const struct hashmap *m, uint64_t key)
{
	int found;
	size_t i;

	if (!m->len)
		return NULL;
	i = find_slot(m, key, &found);
	return found ? m->vals[i] : NULL;
}

void hashmap__set(struct hashmap *m, uint64_t key, void *val)
{
	int found;
	size_t i;

	if (!m->cap || (m->len + m->tombstones + 1) * 4 > m->cap * 3)
		grow(m);
	i = find_slot(m, key, &found);
	if (!found) {
		if (m->state[i] == SLOT_DELETED)
			m->tombstones--;
		m->len++;
		m->state[i] = SLOT_USED;
		m->keys[i] = key;
	}
	m->vals[i] = val;
}

void *hashmap__del(struct hashmap *m, uint64_t key)
{
	int found;
	size_t i;
	void *val;

	if (!m->len)
		return NULL;
	i = find_slot(m, key, &found);
	if (!found)
		return NULL;
	val = m->vals[i];
	m->state[i] = SLOT_DELETED;
	m->len--;
	m->tombstones++;
	return val;
}

int hashmap__next(const struct hashmap *m, size_t *pos, uint64_t *key, void **val)
{
	for (size_t i = *pos; i < m->cap; i++) {
		if (m->state[i] == SLOT_USED) {
			*key = m->keys[i];
			*val = m->vals[i];
			*pos = i + 1;
			return 1;
		}
	}
	return 0;
}

void hashmap__free_each(struct hashmap *m, void (*free_value)(void *))
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(m, &i, &key, &val);)
		free_value(val);
	hashmap__free(m);
}

void hashmap__free_values(struct hashmap *m)
{
	hashmap__free_each(m, free);
}
