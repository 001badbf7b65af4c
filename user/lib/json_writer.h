/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small streaming JSON writer: commas, nesting and string escaping handled once. It writes
 * text to a FILE, or builds the same document in memory (a jansson tree) for the formats
 * rendered from it, with no text written and parsed back.
 */
#ifndef STRAND_JSON_WRITER_H
#define STRAND_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_t;

struct json {
	FILE *f; /* NULL: building a tree */
	int depth;
	bool first[JSON_MAX_DEPTH];
	struct json_t *scope[JSON_MAX_DEPTH]; /* the tree's open objects and arrays */
	struct json_t *root;
};

void json__init(struct json *j, FILE *f);
/* Builds the document as a tree: the values are those its text would parse to (strings made
 * UTF-8 the same way, doubles rounded to the text's three decimals). */
void json__init_tree(struct json *j);
/* The tree built, the caller's to json_decref(); NULL when nothing was written. */
struct json_t *json__take_tree(struct json *j);
/* key is NULL inside arrays and at the top level. */
void json__begin_object(struct json *j, const char *key);
void json__end_object(struct json *j);
void json__begin_array(struct json *j, const char *key);
void json__end_array(struct json *j);
void json__string(struct json *j, const char *key, const char *val); /* NULL -> null */
void json__int(struct json *j, const char *key, int64_t val);
void json__uint(struct json *j, const char *key, uint64_t val);
void json__double(struct json *j, const char *key, double val);
void json__bool(struct json *j, const char *key, bool val);
void json__null(struct json *j, const char *key);

#endif /* STRAND_JSON_WRITER_H */
