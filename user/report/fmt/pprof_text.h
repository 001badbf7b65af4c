/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the profile writers (pprof, speedscope, folded) share: a growable string, UTF-8
 * repair, the text of a frame whose function is unknown, and a table that finds equal
 * entries by hash (frames, functions, locations, strings: each written once).
 */
#ifndef STRAND_PPROF_TEXT_H
#define STRAND_PPROF_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/hashmap.h"
#include "report/fmt/profile.h"

/* A growable string, always NUL-terminated once anything was appended. */
struct prof_str {
	char *s;
	size_t len, cap;
};

void prof_str__free(struct prof_str *s);
void prof_str__reset(struct prof_str *s);
void prof_str__append(struct prof_str *s, const char *p, size_t n);
void prof_str__printf(struct prof_str *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The string so far ("" when nothing was appended). */
const char *prof_str__get(const struct prof_str *s);

/*
 * Symbol and file names come from the traced binaries, untrusted and not always UTF-8, but
 * JSON text and protobuf strings must be: every byte that does not start a well-formed
 * sequence (overlong forms, surrogates and values past U+10FFFF included) becomes U+FFFD.
 */
bool prof_text__utf8_valid(const char *s);
void prof_str__append_utf8(struct prof_str *out, const char *s);
/*
 * The same, and every control character (a line break, a tab, ...) a space: for text that
 * readers take line by line (folded stacks; pprof's -top, -traces and -raw print names
 * as they are, so one with a line break in it would break their output apart).
 */
bool prof_text__line_valid(const char *s);
void prof_str__append_line(struct prof_str *out, const char *s);

/* The last component of a path ("/usr/lib/libc.so.6" -> "libc.so.6"). */
const char *prof_text__basename(const char *path);

/*
 * A frame with no function: "0x7f12a4c01234 [libc.so.6]", "0x401234 [?]" (no module), or
 * "[unknown]" when not even its address is known. The address is the one in the process:
 * the module's load address is not in the profile, so no offset in the file is made up.
 */
void prof_text__unknown(const struct prof_frame *fr, struct prof_str *out);

/* Whether the frame's function is known ("" is not a name). */
static inline bool prof_text__known(const struct prof_frame *fr)
{
	return fr->function && *fr->function;
}

/* The frame a NULL entry of a sample's frames stands for: nothing known. */
extern const struct prof_frame prof_text__no_frame;

/*
 * The one frame of a sample with no stack: its tasks still count, and every format shows
 * them under "[no stack]" (pprof would count a sample with no location in its total, but
 * show it under no function nor label).
 */
extern const struct prof_frame *const prof_text__no_stack[1];

/* A sample's frames, root first, in *depth: never none, NULL entries stand for no_frame. */
const struct prof_frame *const *prof_text__frames(const struct prof_sample *s, int *depth);

/*
 * Equal entries found by hash. The caller keeps the entries in an array of its own, in the
 * order they were added (entry i is the i-th added), and compares candidates itself:
 *
 *	for (i = prof_dedupe__first(d, h); i != PROF_NONE; i = prof_dedupe__next(d, i))
 *		if (equal(entries[i], key)) return i;
 *	i = prof_dedupe__add(d, h); entries[i] = key;
 */
#define PROF_NONE UINT32_MAX

struct prof_dedupe {
	struct hashmap heads; /* hash -> 1 + the newest entry with that hash */
	uint32_t *next;	      /* per entry: the previous one with its hash, or PROF_NONE */
	size_t n, cap;
};

void prof_dedupe__init(struct prof_dedupe *d);
void prof_dedupe__free(struct prof_dedupe *d);
uint32_t prof_dedupe__first(const struct prof_dedupe *d, uint64_t hash);
uint32_t prof_dedupe__next(const struct prof_dedupe *d, uint32_t i);
uint32_t prof_dedupe__add(struct prof_dedupe *d, uint64_t hash);

/* Hashes to chain into one key; NULL and "" hash apart. */
uint64_t prof_hash__str(uint64_t h, const char *s);
uint64_t prof_hash__u64(uint64_t h, uint64_t v);

#endif /* STRAND_PPROF_TEXT_H */
