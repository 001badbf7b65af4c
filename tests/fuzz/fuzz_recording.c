// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer: a recording (or JSON report) file, as `strand report` reads it from anywhere,
 * through the reader and then every renderer: the text report, the diff against itself,
 * and each view's profile in every format. Whatever the bytes, nothing may crash, leak or
 * read out of bounds; what the reader accepts, every renderer must take. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "report/fmt/profile.h"
#include "report/recording.h"
#include "report/report_doc.h"
#include "report/report_out.h"

static FILE *sink(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "we");
	if (!f)
		abort();
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int (*const render[])(const struct profile *, FILE *) = {
		profile__folded, profile__svg, profile__pprof, profile__speedscope};
	struct recording rec;
	char why[256];

	/* the first byte picks the snapshot to stop at, as --snapshot does */
	if (!size)
		return 0;
	if (recording__read_mem(data + 1, size - 1, data[0] % 4, &rec, why, sizeof(why)))
		return 0;
	report_doc__text(&rec.last, sink());
	report_doc__diff(&rec.last, &rec.last, sink());
	for (int v = PROF_VIEW_SPAWN; v <= PROF_VIEW_COMBINED; v++) {
		struct profile p;

		report_doc__profile(&rec.last, (enum prof_view)v, &p);
		for (size_t i = 0; i < sizeof(render) / sizeof(render[0]); i++)
			render[i](&p, sink());
		profile__free(&p);
	}
	recording__free(&rec);
	return 0;
}
