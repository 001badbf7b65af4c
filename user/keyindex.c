// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "keyindex.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define DIGIT_BITS 11 /* 2048 counters: they stay in the cache */
#define DIGITS	   (1u << DIGIT_BITS)

void key_index__reset(struct key_index *ix, size_t n)
{
	if (ix->cap < n) {
		free(ix->e);
		ix->e = xcalloc(n, sizeof(*ix->e));
		ix->cap = n;
	}
	ix->n = 0;
	ix->sorted = true;
}

void key_index__add(struct key_index *ix, uint64_t key, uint32_t val)
{
	if (ix->n == ix->cap) {
		ix->cap = ix->cap ? 2 * ix->cap : 64;
		ix->e = xrealloc(ix->e, ix->cap * sizeof(*ix->e));
	}
	if (ix->n && ix->e[ix->n - 1].key > key)
		ix->sorted = false;
	ix->e[ix->n++] = (struct key_entry){key, val};
}

/* Least significant digit first, as many digits as the largest key has: two passes for
 * goroutine ids below four million. Stable, so each pass keeps the order of the last. */
void key_index__sort(struct key_index *ix)
{
	uint64_t max = 0;
	struct key_entry *tmp;

	if (ix->sorted)
		return;
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].key > max)
			max = ix->e[i].key;
	tmp = xcalloc(ix->n, sizeof(*tmp));
	for (unsigned shift = 0; shift < 64 && (max >> shift); shift += DIGIT_BITS) {
		size_t count[DIGITS + 1] = {0};
		struct key_entry *swap;

		for (size_t i = 0; i < ix->n; i++)
			count[((ix->e[i].key >> shift) & (DIGITS - 1)) + 1]++;
		for (size_t d = 1; d <= DIGITS; d++)
			count[d] += count[d - 1];
		for (size_t i = 0; i < ix->n; i++)
			tmp[count[(ix->e[i].key >> shift) & (DIGITS - 1)]++] = ix->e[i];
		swap = ix->e;
		ix->e = tmp;
		tmp = swap;
	}
	free(tmp);
	ix->cap = ix->n;
	ix->sorted = true;
}

bool key_index__get(const struct key_index *ix, uint64_t key, uint32_t *val)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->e[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ix->n || ix->e[lo].key != key)
		return false;
	*val = ix->e[lo].val;
	return true;
}

void key_index__free(struct key_index *ix)
{
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}
