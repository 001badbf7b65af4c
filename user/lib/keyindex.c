// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/keyindex.h"
#include "lib/prefault.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

#define DIGIT_BITS 8 /* 256 buckets: two counters a bucket on the stack at each level */
#define DIGITS	   (1u << DIGIT_BITS)
#define SMALL	   32 /* a bucket this small is sorted by insertion */

void key_index__reset(struct key_index *ix, size_t n)
{
	if (ix->cap < n) {
		big_free(ix->e, ix->cap * sizeof(*ix->e));
		ix->e = big_alloc(n * sizeof(*ix->e));
		if (n * sizeof(*ix->e) >= BIG_PAGE) /* a mapping of its own, to be filled */
			prefault(ix->e, n * sizeof(*ix->e));
		ix->cap = n;
	}
	ix->n = 0;
	ix->sorted = true;
}

void key_index__add(struct key_index *ix, uint64_t key, uint32_t val)
{
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 64;

		ix->e = big_realloc(ix->e, ix->cap * sizeof(*ix->e), cap * sizeof(*ix->e));
		ix->cap = cap;
	}
	if (ix->n && ix->e[ix->n - 1].key > key)
		ix->sorted = false;
	ix->e[ix->n++] = (struct key_entry){key, val};
}

static unsigned digit(const struct key_entry *e, unsigned shift)
{
	return (unsigned)(e->key >> shift) & (DIGITS - 1);
}

static void insertion_sort(struct key_entry *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct key_entry x = e[i];
		size_t j = i;

		for (; j && e[j - 1].key > x.key; j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
}

/* In place, most significant digit first (American flag sort): each entry swapped straight
 * into its digit's bucket, then each bucket sorted by the next digit. No second array: at a
 * million goroutines that would be 16 MB more at every scan's peak. */
static void flag_sort(struct key_entry *e, size_t n, unsigned shift)
{
	size_t count[DIGITS] = {0}, next[DIGITS], at = 0;

	if (n <= SMALL) {
		insertion_sort(e, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		count[digit(&e[i], shift)]++;
	for (unsigned d = 0; d < DIGITS; d++) {
		next[d] = at;
		at += count[d];
	}
	at = 0;
	for (unsigned d = 0; d < DIGITS; d++) {
		at += count[d]; /* the bucket's end */
		while (next[d] < at) {
			unsigned x = digit(&e[next[d]], shift);
			struct key_entry tmp;

			if (x == d) {
				next[d]++;
				continue;
			}
			tmp = e[next[d]];
			e[next[d]] = e[next[x]];
			e[next[x]++] = tmp;
		}
	}
	if (!shift)
		return;
	for (unsigned d = 0; d < DIGITS; d++)
		if (count[d] > 1)
			flag_sort(e + next[d] - count[d], count[d], shift - DIGIT_BITS);
}

void key_index__sort(struct key_index *ix)
{
	uint64_t max = 0;
	unsigned shift = 0;

	if (ix->sorted)
		return;
	for (size_t i = 0; i < ix->n; i++)
		if (ix->e[i].key > max)
			max = ix->e[i].key;
	while (shift + DIGIT_BITS < 64 && max >> (shift + DIGIT_BITS))
		shift += DIGIT_BITS;
	flag_sort(ix->e, ix->n, shift);
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

struct key_index key_index__view(struct key_index *ix, size_t from, size_t room)
{
	return (struct key_index){.e = ix->e + from, .n = 0, .cap = room, .sorted = true};
}

void key_index__join(struct key_index *ix, const struct key_index *view)
{
	if (view->e != ix->e + ix->n)
		memmove(ix->e + ix->n, view->e, view->n * sizeof(*ix->e));
	ix->n += view->n;
	ix->sorted = false;
}

void key_index__free(struct key_index *ix)
{
	big_free(ix->e, ix->cap * sizeof(*ix->e));
	memset(ix, 0, sizeof(*ix));
}
