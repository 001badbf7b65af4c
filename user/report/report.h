/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report model (engine/report_model.h) written once, by one writer with two ends: the
 * JSON text (--json, docs/json-schema.md) or the document every other format and the
 * recording are rendered from (report_doc.h), built as a tree, never text parsed back.
 */
#ifndef STRAND_REPORT_H
#define STRAND_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "engine/report_model.h"

void report__json(FILE *f, const struct report *r);
/* The same as the document (its tree, as the text would parse). 0 or -errno. */
struct report_doc;
int report__doc(const struct report *r, struct report_doc *doc);

/* Shared by the formats. */
/* Index of the first frame outside the C library's thread-creation code: the spawn site
 * (in a language runtime's thread, the program's own first frame). */
int site__spawn_frame(const struct site *s);
/* In a stack through a language runtime (Java, Python, Node.js), the program's first frame
 * past the runtime's and its standard library's; -1 when none. */
int frames__program_frame(const struct sym_frame *st, int depth);
/* "function (file.c:41)", "function [libfoo.so]", or "0x7f... [?]". */
void frame__format(const struct sym_frame *f, char *buf, size_t size);
struct json;
/* A frame as a JSON object (docs/json-schema.md, "frame"); key NULL inside an array. */
void frame__json(struct json *j, const char *key, const struct sym_frame *fr);
void stack__json(struct json *j, const char *key, const struct sym_frame *frames, int n);
void timeline__json(struct json *j, const char *key, const struct timeline *t);
void runaway__json(struct json *j, const struct runaway_verdict *v);

#endif /* STRAND_REPORT_H */
