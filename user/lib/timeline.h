/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A count over the trace (a spawn site's live tasks), sampled at every scan and kept whole
 * in bounded space: when full, neighbouring samples merge (keeping the larger), so a trace
 * of any length fits and "rising, never coming down" stays visible.
 */
#ifndef STRAND_TIMELINE_H
#define STRAND_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#define TIMELINE_CAP 256

struct timeline {
	uint32_t v[TIMELINE_CAP];
	uint32_t n;	  /* samples in v */
	uint32_t per;	  /* scans merged into each sample (a power of two) */
	uint32_t partial; /* scans merged into the sample being built, v[n - 1] */
	uint64_t first_ns, last_ns;
};

void timeline__add(struct timeline *t, uint64_t now_ns, uint32_t value);
/* The samples as a sparkline of at most width characters (UTF-8 blocks), scaled 0..max. */
void timeline__sparkline(const struct timeline *t, int width, char *buf, size_t size);
/* Whether the count only grew: at least min_samples samples, never below the largest seen
 * before by more than a twentieth, and the last at least twice the first and min_rise more.
 * *from and *to say from what to what. */
int timeline__only_grew(const struct timeline *t, uint32_t min_samples, uint32_t min_rise,
			uint32_t *from, uint32_t *to);

#endif /* STRAND_TIMELINE_H */
