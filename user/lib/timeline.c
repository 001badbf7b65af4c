// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/timeline.h"

#include <stdio.h>
#include <string.h>

void timeline__add(struct timeline *t, uint64_t now_ns, uint32_t value)
{
	if (!t->per) {
		t->per = 1;
		t->first_ns = now_ns;
	}
	t->last_ns = now_ns;
	if (t->n && t->partial < t->per) {
		if (value > t->v[t->n - 1])
			t->v[t->n - 1] = value;
		t->partial++;
		return;
	}
	if (t->n == TIMELINE_CAP) { /* halve: each pair becomes its larger */
		for (uint32_t i = 0; i < TIMELINE_CAP / 2; i++)
			t->v[i] = t->v[2 * i] > t->v[2 * i + 1] ? t->v[2 * i] : t->v[2 * i + 1];
		t->n = TIMELINE_CAP / 2;
		t->per *= 2;
	}
	t->v[t->n++] = value;
	t->partial = 1;
}

void timeline__sparkline(const struct timeline *t, int width, char *buf, size_t size)
{
	static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	uint32_t max = 0, n = t->n, cols;
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	if (!n || width <= 0)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (t->v[i] > max)
			max = t->v[i];
	cols = (uint32_t)width < n ? (uint32_t)width : n;
	for (uint32_t c = 0; c < cols; c++) {
		/* each character shows the largest of the samples it covers */
		uint32_t v = 0;
		const char *bar;
		size_t blen;

		for (uint32_t i = c * n / cols; i < (c + 1) * n / cols; i++)
			if (t->v[i] > v)
				v = t->v[i];
		bar = bars[max ? (uint64_t)v * 7 / max : 0];
		blen = strlen(bar);
		if (len + blen + 1 > size)
			break;
		memcpy(buf + len, bar, blen);
		len += blen;
		buf[len] = '\0';
	}
}

int timeline__only_grew(const struct timeline *t, uint32_t min_samples, uint32_t min_rise,
			uint32_t *from, uint32_t *to)
{
	uint32_t peak = 0;

	if (t->n < min_samples || t->n < 2)
		return 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if ((uint64_t)t->v[i] * 20 < (uint64_t)peak * 19)
			return 0;
		if (t->v[i] > peak)
			peak = t->v[i];
	}
	*from = t->v[0];
	*to = t->v[t->n - 1];
	return *to >= 2 * (uint64_t)*from && *to >= *from + min_rise;
}
