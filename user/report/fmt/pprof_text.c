// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Strings, UTF-8 repair and dedupe tables shared by the profile writers: see pprof_text.h. */
#include "report/fmt/pprof_text.h"
#include "lib/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct prof_frame prof_text__no_frame;
static const struct prof_frame no_stack_frame = {.function = "[no stack]"};
const struct prof_frame *const prof_text__no_stack[1] = {&no_stack_frame};

const struct prof_frame *const *prof_text__frames(const struct prof_sample *s, int *depth)
{
	if (!s->frames || s->depth <= 0) {
		*depth = 1;
		return prof_text__no_stack;
	}
	*depth = s->depth;
	return s->frames;
}

void prof_str__free(struct prof_str *s)
{
	free(s->s);
	s->s = NULL;
	s->len = s->cap = 0;
}

void prof_str__reset(struct prof_str *s)
{
	s->len = 0;
	if (s->s)
		s->s[0] = '\0';
}

static void prof_str__reserve(struct prof_str *s, size_t n)
{
	if (s->cap - s->len > n)
		return;
	size_t cap = s->cap ? s->cap : 64;

	while (cap - s->len <= n)
		cap *= 2;
	s->s = xrealloc(s->s, cap);
	s->cap = cap;
}

void prof_str__append(struct prof_str *s, const char *p, size_t n)
{
	prof_str__reserve(s, n);
	memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = '\0';
}

void prof_str__printf(struct prof_str *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	prof_str__reserve(s, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(s->s + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

const char *prof_str__get(const struct prof_str *s)
{
	return s->s ? s->s : "";
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629's table), 0 if there is none. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range is what rules out overlong forms, surrogates, > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	/* A NUL is no continuation byte: the string's end stops the loop. */
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* How much of p to keep as it is (n), 0 for a byte to replace. */
static size_t text_seq(const unsigned char *p, bool one_line)
{
	if (one_line && (*p < 0x20 || *p == 0x7f))
		return 0;
	return utf8_seq(p);
}

static bool text_clean(const char *s, bool one_line)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = text_seq(p, one_line);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

static void text_append(struct prof_str *out, const char *s, bool one_line)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	/* Good runs are copied whole; each bad byte is replaced on its own. */
	while (*p) {
		size_t n = text_seq(p, one_line);

		if (n) {
			p += n;
			continue;
		}
		prof_str__append(out, (const char *)run, (size_t)(p - run));
		if (*p < 0x80)
			prof_str__append(out, " ", 1);
		else
			prof_str__append(out, "\xef\xbf\xbd", 3);
		run = ++p;
	}
	prof_str__append(out, (const char *)run, (size_t)(p - run));
}

bool prof_text__utf8_valid(const char *s)
{
	return text_clean(s, false);
}

void prof_str__append_utf8(struct prof_str *out, const char *s)
{
	text_append(out, s, false);
}

bool prof_text__line_valid(const char *s)
{
	return text_clean(s, true);
}

void prof_str__append_line(struct prof_str *out, const char *s)
{
	text_append(out, s, true);
}

const char *prof_text__basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

void prof_text__unknown(const struct prof_frame *fr, struct prof_str *out)
{
	if (!fr->address && !fr->module) {
		prof_str__append(out, "[unknown]", 9);
		return;
	}
	prof_str__printf(out, "0x%" PRIx64 " [", fr->address);
	if (fr->module)
		prof_str__append_line(out, prof_text__basename(fr->module));
	else
		prof_str__append(out, "?", 1);
	prof_str__append(out, "]", 1);
}

void prof_dedupe__init(struct prof_dedupe *d)
{
	memset(d, 0, sizeof(*d));
	hashmap__init(&d->heads);
}

void prof_dedupe__free(struct prof_dedupe *d)
{
	hashmap__free(&d->heads);
	free(d->next);
	memset(d, 0, sizeof(*d));
}

uint32_t prof_dedupe__first(const struct prof_dedupe *d, uint64_t hash)
{
	uintptr_t head = (uintptr_t)hashmap__get(&d->heads, hash);

	return head ? (uint32_t)(head - 1) : PROF_NONE;
}

uint32_t prof_dedupe__next(const struct prof_dedupe *d, uint32_t i)
{
	return d->next[i];
}

uint32_t prof_dedupe__add(struct prof_dedupe *d, uint64_t hash)
{
	uint32_t i = (uint32_t)d->n;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->next = xrealloc(d->next, d->cap * sizeof(*d->next));
	}
	/* Chains link through next[], so one hash map slot serves every entry of a hash. */
	d->next[i] = prof_dedupe__first(d, hash);
	hashmap__set(&d->heads, hash, (void *)(uintptr_t)(i + 1));
	d->n++;
	return i;
}

uint64_t prof_hash__u64(uint64_t h, uint64_t v)
{
	return hash_combine(h, v);
}

uint64_t prof_hash__str(uint64_t h, const char *s)
{
	uint64_t f = 0xcbf29ce484222325ULL; /* FNV-1a over the bytes, then mixed in */

	if (!s)
		return hash_combine(h, 0x6e756c6cULL);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		f = (f ^ *p) * 0x100000001b3ULL;
	return hash_combine(h, f);
}
