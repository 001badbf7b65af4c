// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/json_writer.h"
#include "lib/util.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A report is written by one thread: the stream's lock, taken at every byte, is not. */
static void put_c(int c, FILE *f)
{
	putc_unlocked(c, f);
}

static void put_s(const char *s, FILE *f)
{
	fputs_unlocked(s, f);
}

static void put_n(const void *p, size_t n, FILE *f)
{
	fwrite_unlocked(p, 1, n, f);
}

void json__init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

void json__init_tree(struct json *j)
{
	json__init(j, NULL);
}

struct json_t *json__take_tree(struct json *j)
{
	json_t *root = j->root;

	j->root = NULL;
	return root;
}

/* The string as the text would carry it: a byte that is not part of a valid UTF-8
 * sequence becomes U+FFFD. NULL when s is valid as it is. */
static char *utf8_copy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0, bad = 0;
	char *out, *o;

	for (; *p; p++, len++) {
		int n = *p < 0x80 ? 1 : utf8_seq_len(p);

		if (!n)
			bad++;
		else {
			p += n - 1;
			len += (size_t)n - 1;
		}
	}
	if (!bad)
		return NULL;
	o = out = xcalloc(len + 2 * bad + 1, 1);
	for (p = (const unsigned char *)s; *p; p++) {
		int n = *p < 0x80 ? 1 : utf8_seq_len(p);

		if (!n) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			continue;
		}
		memcpy(o, p, (size_t)n);
		o += n;
		p += n - 1;
	}
	return out;
}

static json_t *tree_string(const char *s)
{
	char *fixed = utf8_copy(s);
	json_t *v = json_string(fixed ? fixed : s);

	free(fixed);
	return v;
}

/* Puts v in the open scope under key (NULL in an array), or makes it the root. */
static void tree_put(struct json *j, const char *key, json_t *v)
{
	json_t *in = j->depth ? j->scope[j->depth - 1] : NULL;

	if (!v)
		return;
	if (!in) {
		json_decref(j->root);
		j->root = v;
	} else if (json_is_array(in)) {
		json_array_append_new(in, v);
	} else {
		char *fixed = utf8_copy(key ? key : "");

		json_object_set_new(in, fixed ? fixed : key ? key : "", v);
		free(fixed);
	}
}

/* Strings come from the traced system (thread names, paths, symbols): any bytes. JSON
 * must be UTF-8, so a byte that is not part of a valid sequence becomes U+FFFD. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static void put_escaped(FILE *f, const char *s)
{
	put_c('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const unsigned char *run = p;

		/* most strings are plain ASCII: written a run at a time, not a byte */
		while (plain(*p))
			p++;
		if (p > run)
			put_n(run, (size_t)(p - run), f);
		if (!*p)
			break;
		switch (*p) {
		case '"':
			put_s("\\\"", f);
			break;
		case '\\':
			put_s("\\\\", f);
			break;
		case '\n':
			put_s("\\n", f);
			break;
		case '\t':
			put_s("\\t", f);
			break;
		case '\r':
			put_s("\\r", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u%04x", *p);
			} else if (*p < 0x80) {
				put_c(*p, f);
			} else {
				int n = utf8_seq_len(p);

				if (n) {
					put_n(p, (size_t)n, f);
					p += n - 1;
				} else {
					put_s("\\ufffd", f);
				}
			}
		}
	}
	put_c('"', f);
}

static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		put_c(',', j->f);
	j->first[j->depth] = false;
	if (j->depth) {
		put_c('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			put_s("  ", j->f);
	}
	if (key) {
		put_escaped(j->f, key);
		put_s(": ", j->f);
	}
}

static void open_scope(struct json *j, const char *key, char c)
{
	if (!j->f) {
		json_t *v = c == '{' ? json_object() : json_array();

		tree_put(j, key, json_incref(v));
		if (j->depth < JSON_MAX_DEPTH - 1)
			j->scope[j->depth++] = v;
		json_decref(v);
		return;
	}
	member(j, key);
	put_c(c, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_scope(struct json *j, char c)
{
	bool empty = j->first[j->depth];

	if (!j->f) {
		if (j->depth)
			j->depth--;
		return;
	}
	if (j->depth)
		j->depth--;
	if (!empty) {
		put_c('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			put_s("  ", j->f);
	}
	put_c(c, j->f);
	if (!j->depth)
		put_c('\n', j->f);
}

void json__begin_object(struct json *j, const char *key)
{
	open_scope(j, key, '{');
}

void json__end_object(struct json *j)
{
	close_scope(j, '}');
}

void json__begin_array(struct json *j, const char *key)
{
	open_scope(j, key, '[');
}

void json__end_array(struct json *j)
{
	close_scope(j, ']');
}

void json__string(struct json *j, const char *key, const char *val)
{
	if (!j->f) {
		tree_put(j, key, val ? tree_string(val) : json_null());
		return;
	}
	member(j, key);
	if (val)
		put_escaped(j->f, val);
	else
		put_s("null", j->f);
}

void json__int(struct json *j, const char *key, int64_t val)
{
	if (!j->f) {
		tree_put(j, key, json_integer((json_int_t)val));
		return;
	}
	member(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json__uint(struct json *j, const char *key, uint64_t val)
{
	if (!j->f) {
		tree_put(j, key, json_integer((json_int_t)val));
		return;
	}
	member(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json__double(struct json *j, const char *key, double val)
{
	if (!j->f) {
		char text[64];

		/* the value the text's three decimals parse to */
		snprintf(text, sizeof(text), "%.3f", val);
		tree_put(j, key, isfinite(val) ? json_real(strtod(text, NULL)) : json_null());
		return;
	}
	member(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.3f", val);
	else
		put_s("null", j->f);
}

void json__bool(struct json *j, const char *key, bool val)
{
	if (!j->f) {
		tree_put(j, key, json_boolean(val));
		return;
	}
	member(j, key);
	put_s(val ? "true" : "false", j->f);
}

void json__null(struct json *j, const char *key)
{
	if (!j->f) {
		tree_put(j, key, json_null());
		return;
	}
	member(j, key);
	put_s("null", j->f);
}
