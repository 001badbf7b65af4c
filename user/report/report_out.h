/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The files a report is written to besides the terminal, the same for `strand trace` (at
 * its end) and `strand report` (from a recording): folded stacks, the SVG flame graph,
 * pprof, speedscope, each from the report document in one view.
 */
#ifndef STRAND_REPORT_OUT_H
#define STRAND_REPORT_OUT_H

#include <stdbool.h>

#include "lib/options.h"
#include "report/fmt/profile.h"

struct report_doc;

struct report_outputs {
	const char *folded, *svg, *pprof, *speedscope; /* file names, "-" stdout, NULL none */
	enum prof_view view;
	bool view_given;
};

/* The options both commands take for them: a command's table includes them with
 * {NULL, 0, REPORT_OUT_OPTIONS(the command's struct, its struct report_outputs)}. */
extern const struct opt report_outputs__options[];
#define REPORT_OUT_OPTIONS(T, m) OPT_INCLUDE(T, m, struct report_outputs, report_outputs__options)

bool report_outputs__any(const struct report_outputs *o);
/* Refuses what cannot work, before any tracing: two outputs on stdout, a file in a
 * directory that does not exist or cannot be written. 0, STRAND_EXIT_USAGE or
 * STRAND_EXIT_ERROR (said). */
int report_outputs__check(const struct report_outputs *o);
/* One of them is written to stdout ("-"). */
bool report_outputs__to_stdout(const struct report_outputs *o);
/* Writes every file asked for; 0, or STRAND_EXIT_ERROR (said). */
int report_outputs__write(const struct report_outputs *o, const struct report_doc *doc);

/* What changed from base to doc: sites that grew, stranded groups that are new or grew. */
void report_doc__diff(const struct report_doc *base, const struct report_doc *doc, FILE *f);

#endif /* STRAND_REPORT_OUT_H */
