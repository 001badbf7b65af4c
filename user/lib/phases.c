// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/phases.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long resident_mib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * 4096 / (1 << 20);
}

void phase__done(const char *what)
{
	static int on = -1;
	static uint64_t last;
	uint64_t now = now_mono_ns();

	if (on < 0)
		on = getenv("STRAND_PHASES") != NULL;
	if (on && last)
		fprintf(stderr, "strand: phase %-44s %8.1f ms  RSS %4ld MiB\n", what,
			(double)(now - last) / 1e6, resident_mib());
	last = now;
}
