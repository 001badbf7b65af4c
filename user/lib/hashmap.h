/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* An open-addressing hash table from 64-bit keys to pointers: tids, pids and site keys. */
#ifndef STRAND_HASHMAP_H
#define STRAND_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap {
	uint64_t *keys;
	void **vals;
	uint8_t *state; /* 0 empty, 1 used, 2 deleted */
	size_t cap, len, tombstones;
};

void hashmap__init(struct hashmap *m);
void hashmap__free(struct hashmap *m);
/* free()s every value, then the map. */
void hashmap__free_values(struct hashmap *m);
/* Frees every value with free_value, then the map. */
void hashmap__free_each(struct hashmap *m, void (*free_value)(void *));
void *hashmap__get(const struct hashmap *m, uint64_t key);
/* Makes room for n entries at once: a map about to be filled with a known number grows
 * (and rehashes) once, not log(n) times. */
void hashmap__reserve(struct hashmap *m, size_t n);
/* Inserts or replaces. */
void hashmap__set(struct hashmap *m, uint64_t key, void *val);
/* Returns the removed value, NULL if absent. */
void *hashmap__del(struct hashmap *m, uint64_t key);

/* Iteration: for (size_t i = 0; hashmap__next(m, &i, &k, &v);) */
int hashmap__next(const struct hashmap *m, size_t *pos, uint64_t *key, void **val);

static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t hash_combine(uint64_t h, uint64_t v)
{
	return hash_u64(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

/* A string's FNV-1a, from h (FNV's offset basis to start: HASH_STR_SEED); NULL hashes as
 * the empty string. */
#define HASH_STR_SEED 0xcbf29ce484222325ULL

static inline uint64_t hash_str(uint64_t h, const char *s)
{
	while (s && *s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

#endif /* STRAND_HASHMAP_H */
