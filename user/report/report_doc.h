/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as a document: the JSON report (docs/json-schema.md), parsed. Every format
 * but the JSON itself is rendered from it, whether the document was just made by a live
 * trace or read back from a recording weeks later: one trace, one story, in every format.
 * A document from a file is untrusted input: every accessor copes with a missing key, a
 * value of the wrong type, or a number out of range.
 */
#ifndef STRAND_REPORT_DOC_H
#define STRAND_REPORT_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report/fmt/profile.h"

/* Tasks the text report lists of a spawn site before "... and N more". */
#define REPORT_TEXT_TASKS_PER_SITE 10

struct report_doc {
	json_t *root;
	bool full; /* the text lists every group, site and task, not the first few (--full) */
};

/* Parses a JSON report; 0, or -EBADMSG with the reason in why. */
int report_doc__parse(struct report_doc *d, const char *text, size_t len, char *why,
		      size_t why_size);
void report_doc__free(struct report_doc *d);
/* Keeps what is pid's only (its tasks, sites, groups, goroutines), the totals and verdict
 * counts made again from what is left: one process's report out of a machine's. */
void report_doc__only_pid(struct report_doc *d, int64_t pid);

/* Accessors: the value at key of obj, or the default when absent or of another type. */
const char *doc_str(const json_t *obj, const char *key); /* NULL */
int64_t doc_int(const json_t *obj, const char *key);	 /* 0 */
double doc_num(const json_t *obj, const char *key);	 /* 0 */
bool doc_bool(const json_t *obj, const char *key);	 /* false */
bool doc_has(const json_t *obj, const char *key);	 /* present and not null */
/* The array or object at key, or an empty one (never NULL). */
const json_t *doc_arr(const json_t *obj, const char *key);
const json_t *doc_obj(const json_t *obj, const char *key);

/* The element of list whose "id" is id (sites "s3", "g7"), or NULL. */
const json_t *doc_by_id(const json_t *list, const char *id);

/* Whether a goroutine site is the main goroutine's (its creator is the runtime's startup,
 * which Go shows none of). */
bool doc_go_site_is_main(const json_t *site);

/* A frame object of the document as one line: "function (file.c:41)", "function [module]",
 * with " [inlined]" when it was. */
void doc_frame__format(const json_t *frame, char *buf, size_t size);

/* A live count over the trace (a "live_over_time" object) as a sparkline of width
 * characters. */
void doc_sparkline(const json_t *timeline, int width, char *buf, size_t size);
/* head, then each string of list as "- string", indented. Nothing for an empty list. */
void doc_print_list(FILE *f, const char *head, const json_t *list, const char *indent);
/* A site's "  fan-out max N (P parents)", when it has parents. */
void doc_print_fanout(FILE *f, const json_t *site);

/* Renderers of the document. */
void report_doc__text(const struct report_doc *d, FILE *f);
void report_doc__go_text(const struct report_doc *d, FILE *f);

/* The document as a profile (profile.h) in one view; strings point into the document,
 * which must outlive it. */
void report_doc__profile(const struct report_doc *d, enum prof_view view, struct profile *p);
void profile__free(struct profile *p);

#endif /* STRAND_REPORT_DOC_H */
