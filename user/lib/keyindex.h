/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A sorted index from 64-bit keys to 32-bit values, for lookups by key among a million
 * entries built afresh at every scan (goroutine ids to rows): 12 bytes an entry, sorted in
 * place by radix, where a hash table takes twice the memory and a rehash per growth.
 */
#ifndef STRAND_KEYINDEX_H
#define STRAND_KEYINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* packed: 12 bytes, not 16, a million at a time */
struct __attribute__((packed)) key_entry {
	uint64_t key;
	uint32_t val;
};

struct key_index {
	struct key_entry *e;
	size_t n, cap;
	bool sorted;
};

/* Empties ix, with room for n entries. */
void key_index__reset(struct key_index *ix, size_t n);
void key_index__add(struct key_index *ix, uint64_t key, uint32_t val);
/* Sorts what was added; lookups need it. Keys are expected to be unique. */
void key_index__sort(struct key_index *ix);
/* The value of key: true, or false when absent. */
bool key_index__get(const struct key_index *ix, uint64_t key, uint32_t *val);
/* Room [from, from + room) of ix's (reset with room enough), filled as an index of its own
 * by another thread (adds never grow it past room), then joined to follow ix's entries. */
struct key_index key_index__view(struct key_index *ix, size_t from, size_t room);
void key_index__join(struct key_index *ix, const struct key_index *view);
void key_index__free(struct key_index *ix);

#endif /* STRAND_KEYINDEX_H */
