/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the flame graph's files share, and nothing else uses (profile.h is the interface):
 * flamegraph.c draws the frames, flamegraph_page.c the page around them (title, legend,
 * timeline, text and colours), flamegraph_js.c holds the inline style and script.
 */
#ifndef STRAND_FLAMEGRAPH_H
#define STRAND_FLAMEGRAPH_H

#include "report/fmt/profile.h"

#define FG_WIDTH 1200
#define FG_PAD	 10

extern const char flamegraph__css[], flamegraph__js[];
/* Gravest first: a frame whose tasks split evenly takes the graver class. */
extern const enum prof_class fg_gravity[PROF_CLASSES];

/* What the page says of the graph. */
struct fg_page {
	const struct profile *p;
	uint64_t total;			  /* tasks in the graph */
	uint64_t min_tasks, narrow_tasks; /* frames of fewer tasks were merged: their tasks */
	uint64_t cut_tasks;		  /* tasks of stacks cut at cut_depth frames */
	int cut_depth;
	int height; /* of the whole picture */
};

/* Where the part under the legend begins. */
int fg_page__top(const struct fg_page *pg);
/* The document's start: the <svg>, its style and script, title, buttons and legend. */
void fg_page__head(FILE *f, const struct fg_page *pg);
/* The live counts of the top sites: its height (0: no series), and the chart at top. */
int fg_timeline__height(const struct profile *p);
void fg_timeline__svg(FILE *f, const struct profile *p, int top);

/* Code points in s, invalid bytes one each. */
size_t fg_utf8__count(const char *s);
/* s as XML text or attribute value, at most max code points (cut ones end in ".."). */
void fg_xml__text_max(FILE *f, const char *s, size_t max);
void fg_xml__text(FILE *f, const char *s);
/* "850 ms", "41.0 s", "12.5 min", "3.2 h" */
void fg_duration__format(uint64_t ns, char *buf, size_t size);
/* A class's colour, its shade from name (NULL: the class's middle shade); dark for lines. */
void fg_class__colour(enum prof_class c, const char *name, char *buf, size_t size);
void fg_class__line_colour(enum prof_class c, char *buf, size_t size);

#endif /* STRAND_FLAMEGRAPH_H */
