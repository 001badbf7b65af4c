// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A profile as pprof's gzipped protobuf (github.com/google/pprof, proto/profile.proto), for
 * `go tool pprof` and speedscope. Two passes: the first builds the tables (strings,
 * functions, locations, mappings: each once) and every sample's location ids; the second
 * writes the Profile message, field by field, through gzip. The top-level message needs no
 * length, so only one sample, location, function or mapping is ever buffered at a time.
 *
 * Layout choices, for how pprof shows them:
 * - A frame and the frames inlined into it (profile.h: inlined = "inlined into the next
 *   frame towards the root", at one address) are one Location with several Lines, the
 *   innermost first, as the Go runtime and pprof's own symbolizer write them: -traces then
 *   marks the inner ones "(inline)", the graph draws their edges as inlined, -addresses keeps
 *   one address one node, while -top and -lines still list each inlined function apart.
 * - A frame with no function is a Location with its address and module but no Line: pprof
 *   shows it as "00007f12a4c01234 [libc.so.6]", its way for code it has no symbols for.
 * - Every Mapping says has_functions: strand has symbolized all it could, and pprof, told
 *   otherwise, would symbolize again from the file of that name on the machine that reads
 *   the profile, with offsets this profile cannot give (the module's load address is not
 *   in it), and so put wrong names on every frame of that module.
 */
#include "lib/util.h"
#include "report/fmt/pprof_pb.h"
#include "report/fmt/pprof_text.h"
#include "report/fmt/profile.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Field numbers, named after profile.proto's fields (message_field). */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum {
	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,
};
enum {
	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,
};
enum {
	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
};
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILENAME = 5,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,
};
enum {
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,
};
enum {
	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,
};
enum {
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
};

/* Ids in the Profile message are 1-based (0 means none); the arrays here are 0-based. */
struct pp_func {
	int64_t name, file; /* string table indexes */
};

struct pp_line {
	uint64_t func; /* Function id */
	int64_t line;
};

struct pp_loc {
	uint64_t mapping, address; /* mapping id (0: none) */
	uint32_t line0, nlines;	   /* in pprof_tables.lines, innermost first */
};

struct pp_map {
	int64_t file;
	uint64_t lo, hi; /* the lowest and highest address seen in it */
	bool files, line_numbers, inlines;
};

struct pp_sample {
	size_t stack0; /* in pprof_tables.stack: location ids, leaf first */
	uint32_t nstack;
	int64_t kind, verdict, wait_reason, site; /* string indexes, 0: no label */
};

/* A growable array of some type: items, n, cap. */
#define PP_ARRAY(type, name)                                                                       \
	type *name;                                                                                \
	size_t n_##name, cap_##name

/* Room for one more item; evaluates to the index of the new item. */
#define PP_PUSH(t, name)                                                                           \
	({                                                                                         \
		if ((t)->n_##name == (t)->cap_##name) {                                            \
			(t)->cap_##name = (t)->cap_##name ? (t)->cap_##name * 2 : 64;              \
			(t)->name = xrealloc((t)->name, (t)->cap_##name * sizeof(*(t)->name));     \
		}                                                                                  \
		(t)->n_##name++;                                                                   \
	})

struct pprof_tables {
	PP_ARRAY(const char *, strs);
	PP_ARRAY(char *, owned); /* UTF-8 repaired copies of strings */
	PP_ARRAY(struct pp_func, funcs);
	PP_ARRAY(struct pp_line, lines);
	PP_ARRAY(struct pp_loc, locs);
	PP_ARRAY(struct pp_map, maps);
	PP_ARRAY(uint64_t, stack);
	PP_ARRAY(struct pp_sample, samples);
	PP_ARRAY(uint64_t, group); /* one sample's location ids, root first (scratch) */
	struct prof_dedupe str_ix, func_ix, loc_ix, map_ix;
	/* the strings of the profile's own fields */
	int64_t k_kind, k_verdict, k_wait_reason, k_site, k_pid;
	int64_t s_tasks, s_count, s_blocked, s_nanoseconds;
	int64_t comments[4];
	size_t ncomments;
};

/* The string table index of s; NULL and "" are index 0, which must be "". */
static int64_t pp_str(struct pprof_tables *t, const char *s)
{
	uint64_t h;

	if (!s || !*s)
		return 0;
	if (!prof_text__line_valid(s)) {
		struct prof_str fixed = {0};

		prof_str__append_line(&fixed, s);
		size_t o = PP_PUSH(t, owned);

		t->owned[o] = fixed.s;
		s = fixed.s;
	}
	h = prof_hash__str(0, s);
	for (uint32_t i = prof_dedupe__first(&t->str_ix, h); i != PROF_NONE;
	     i = prof_dedupe__next(&t->str_ix, i))
		if (!strcmp(t->strs[i], s))
			return i;
	uint32_t i = prof_dedupe__add(&t->str_ix, h);

	PP_PUSH(t, strs);
	t->strs[i] = s;
	return i;
}

static uint64_t pp_func(struct pprof_tables *t, const struct prof_frame *fr)
{
	int64_t name = pp_str(t, fr->function), file = pp_str(t, fr->file);
	uint64_t h = prof_hash__u64(prof_hash__u64(1, (uint64_t)name), (uint64_t)file);

	for (uint32_t i = prof_dedupe__first(&t->func_ix, h); i != PROF_NONE;
	     i = prof_dedupe__next(&t->func_ix, i))
		if (t->funcs[i].name == name && t->funcs[i].file == file)
			return i + 1;
	uint32_t i = prof_dedupe__add(&t->func_ix, h);

	PP_PUSH(t, funcs);
	t->funcs[i] = (struct pp_func){.name = name, .file = file};
	return i + 1;
}

static uint64_t pp_map(struct pprof_tables *t, const char *module)
{
	int64_t file = pp_str(t, module);
	uint64_t h = prof_hash__u64(2, (uint64_t)file);

	if (!file)
		return 0;
	for (uint32_t i = prof_dedupe__first(&t->map_ix, h); i != PROF_NONE;
	     i = prof_dedupe__next(&t->map_ix, i))
		if (t->maps[i].file == file)
			return i + 1;
	uint32_t i = prof_dedupe__add(&t->map_ix, h);

	PP_PUSH(t, maps);
	t->maps[i] = (struct pp_map){.file = file, .lo = UINT64_MAX};
	return i + 1;
}

/* A sample's frames, root first. */
struct pp_stack {
	const struct prof_frame *const *frames;
	int depth;
};

static const struct prof_frame *pp_frame(const struct pp_stack *s, int i)
{
	return s->frames[i] ? s->frames[i] : &prof_text__no_frame;
}

/* Whether fr, inlined, shares the Location of the group it follows (at address addr). */
static bool pp_joins(const struct prof_frame *fr, uint64_t addr)
{
	return fr->inlined && prof_text__known(fr) &&
	       (!addr || !fr->address || fr->address == addr);
}

/* The Location of frames [i, j) of s (one frame, and those inlined into it), its id. */
static uint64_t pp_location(struct pprof_tables *t, const struct pp_stack *s, int i, int j)
{
	const char *module = NULL;
	uint64_t addr = 0, mapping, h;
	uint32_t line0 = (uint32_t)t->n_lines, nlines = 0;

	for (int k = i; k < j; k++) {
		const struct prof_frame *fr = pp_frame(s, k);

		addr = addr ? addr : fr->address;
		module = module ? module : fr->module;
	}
	mapping = pp_map(t, module);
	h = prof_hash__u64(prof_hash__u64(3, mapping), addr);
	/* Lines innermost first: profile.proto's "the last entry represents the caller". */
	for (int k = j - 1; k >= i; k--) {
		const struct prof_frame *fr = pp_frame(s, k);

		if (!prof_text__known(fr))
			continue;
		size_t l = PP_PUSH(t, lines);

		t->lines[l] = (struct pp_line){.func = pp_func(t, fr), .line = fr->line};
		h = prof_hash__u64(prof_hash__u64(h, t->lines[l].func), (uint64_t)t->lines[l].line);
		nlines++;
	}
	for (uint32_t x = prof_dedupe__first(&t->loc_ix, h); x != PROF_NONE;
	     x = prof_dedupe__next(&t->loc_ix, x)) {
		const struct pp_loc *o = &t->locs[x];

		if (o->mapping != mapping || o->address != addr || o->nlines != nlines ||
		    memcmp(&t->lines[o->line0], &t->lines[line0], nlines * sizeof(struct pp_line)))
			continue;
		t->n_lines = line0; /* a known Location: the Lines just added go again */
		return x + 1;
	}
	uint32_t x = prof_dedupe__add(&t->loc_ix, h);

	PP_PUSH(t, locs);
	t->locs[x] = (struct pp_loc){
		.mapping = mapping, .address = addr, .line0 = line0, .nlines = nlines};
	if (mapping) {
		struct pp_map *m = &t->maps[mapping - 1];

		if (addr && addr < m->lo)
			m->lo = addr;
		if (addr > m->hi)
			m->hi = addr;
		m->inlines |= nlines > 1;
		for (int k = i; k < j; k++) {
			m->files |= pp_frame(s, k)->file != NULL;
			m->line_numbers |= pp_frame(s, k)->line > 0;
		}
	}
	return x + 1;
}

static void pp_sample(struct pprof_tables *t, const struct prof_sample *s)
{
	size_t si = PP_PUSH(t, samples);
	struct pp_stack st;
	struct pp_sample *ps;
	int depth;

	st.frames = prof_text__frames(s, &st.depth);
	depth = st.depth;
	t->n_group = 0;
	/* Split the frames (root first) into Locations: each frame with those inlined into it. */
	for (int i = 0; i < depth;) {
		const struct prof_frame *outer = pp_frame(&st, i);
		uint64_t addr = outer->address;
		int j = i + 1;

		while (prof_text__known(outer) && j < depth && pp_joins(pp_frame(&st, j), addr)) {
			addr = addr ? addr : pp_frame(&st, j)->address;
			j++;
		}
		uint64_t id = pp_location(t, &st, i, j);
		size_t g = PP_PUSH(t, group);

		t->group[g] = id;
		i = j;
	}
	ps = &t->samples[si];
	ps->stack0 = t->n_stack;
	ps->nstack = (uint32_t)t->n_group;
	/* pprof wants the leaf first: location_id[0] is where the tasks are. */
	for (size_t g = t->n_group; g-- > 0;) {
		size_t k = PP_PUSH(t, stack);

		t->stack[k] = t->group[g];
	}
	ps->kind = pp_str(t, s->kind);
	ps->verdict = pp_str(t, s->verdict);
	ps->wait_reason = pp_str(t, s->wait_reason);
	ps->site = pp_str(t, s->site);
}

static const char *pp_view_comment(enum prof_view v)
{
	switch (v) {
	case PROF_VIEW_SPAWN:
		return "stacks: where the tasks were spawned (the spawner's stack)";
	case PROF_VIEW_WAIT:
		return "stacks: where the tasks wait or run now";
	case PROF_VIEW_COMBINED:
		return "stacks: the spawner's stack, then each task's start and where it waits now";
	}
	return NULL;
}

static void pp_build(struct pprof_tables *t, const struct profile *p, struct prof_str *thr)
{
	PP_PUSH(t, strs);
	t->strs[prof_dedupe__add(&t->str_ix, prof_hash__str(0, ""))] = "";
	t->s_tasks = pp_str(t, "tasks");
	t->s_count = pp_str(t, "count");
	t->s_blocked = pp_str(t, "blocked");
	t->s_nanoseconds = pp_str(t, "nanoseconds");
	t->k_kind = pp_str(t, "kind");
	t->k_verdict = pp_str(t, "verdict");
	t->k_wait_reason = pp_str(t, "wait_reason");
	t->k_site = pp_str(t, "site");
	t->k_pid = pp_str(t, "pid");
	/* Free text for `pprof -comments` and the web UI; nothing reads it as data. */
	if (p->threshold_ns)
		prof_str__printf(thr, "blocked long: %.3g s or more",
				 (double)p->threshold_ns / 1e9);
	const char *comments[] = {p->title, p->subtitle, pp_view_comment(p->view), thr->s};

	for (size_t i = 0; i < ARRAY_SIZE(comments); i++)
		if (comments[i] && *comments[i])
			t->comments[t->ncomments++] = pp_str(t, comments[i]);
	/* pprof names the profile after its first mapping ("File: ..."): the program's */
	if (p->main_module)
		pp_map(t, p->main_module);
	for (size_t i = 0; i < p->n; i++)
		pp_sample(t, &p->samples[i]);
}

static void pp_value_type(struct pb_buf *out, struct pb_buf *m, uint32_t field, int64_t type,
			  int64_t unit)
{
	pb_buf__reset(m);
	pb__int(m, VALUE_TYPE_TYPE, type);
	pb__int(m, VALUE_TYPE_UNIT, unit);
	pb__message(out, field, m);
}

static void pp_label(struct pb_buf *m, struct pb_buf *sub, int64_t key, int64_t str, int64_t num)
{
	if (!str && !num)
		return;
	pb_buf__reset(sub);
	pb__int(sub, LABEL_KEY, key);
	pb__int(sub, LABEL_STR, str);
	pb__int(sub, LABEL_NUM, num);
	pb__message(m, SAMPLE_LABEL, sub);
}

static int64_t pp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Hands the top-level buffer to gzip once it holds enough to be worth a deflate call. */
static void pp_flush(struct pb_gzip *gz, struct pb_buf *out, bool always)
{
	if (always || out->len >= 64 * 1024)
		pb_gzip__write(gz, out);
}

static void pp_write(const struct pprof_tables *t, const struct profile *p, struct pb_gzip *gz)
{
	struct pb_buf out = {0}, m = {0}, sub = {0};

	pp_value_type(&out, &m, PROFILE_SAMPLE_TYPE, t->s_tasks, t->s_count);
	pp_value_type(&out, &m, PROFILE_SAMPLE_TYPE, t->s_blocked, t->s_nanoseconds);
	for (size_t i = 0; i < t->n_samples; i++) {
		const struct pp_sample *ps = &t->samples[i];
		const struct prof_sample *s = &p->samples[i];
		uint64_t values[2] = {(uint64_t)pp_i64(s->tasks), (uint64_t)pp_i64(s->blocked_ns)};

		pb_buf__reset(&m);
		pb__packed(&m, SAMPLE_LOCATION_ID, &t->stack[ps->stack0], ps->nstack);
		/* Every value, zeros too: a value's place says which sample_type it is. */
		pb__packed(&m, SAMPLE_VALUE, values, ARRAY_SIZE(values));
		pp_label(&m, &sub, t->k_kind, ps->kind, 0);
		pp_label(&m, &sub, t->k_verdict, ps->verdict, 0);
		pp_label(&m, &sub, t->k_wait_reason, ps->wait_reason, 0);
		pp_label(&m, &sub, t->k_site, ps->site, 0);
		if (s->pid > 0)
			pp_label(&m, &sub, t->k_pid, 0, s->pid);
		pb__message(&out, PROFILE_SAMPLE, &m);
		pp_flush(gz, &out, false);
	}
	for (size_t i = 0; i < t->n_maps; i++) {
		const struct pp_map *mp = &t->maps[i];
		bool any = mp->lo <= mp->hi;

		pb_buf__reset(&m);
		pb__uint(&m, MAPPING_ID, i + 1);
		/* The span of its addresses seen: all that is known of where it was mapped. */
		pb__uint(&m, MAPPING_MEMORY_START, any ? mp->lo : 0);
		pb__uint(&m, MAPPING_MEMORY_LIMIT, !any ? 0 : mp->hi + (mp->hi < UINT64_MAX));
		pb__int(&m, MAPPING_FILENAME, mp->file);
		pb__bool(&m, MAPPING_HAS_FUNCTIONS, true);
		pb__bool(&m, MAPPING_HAS_FILENAMES, mp->files);
		pb__bool(&m, MAPPING_HAS_LINE_NUMBERS, mp->line_numbers);
		pb__bool(&m, MAPPING_HAS_INLINE_FRAMES, mp->inlines);
		pb__message(&out, PROFILE_MAPPING, &m);
		pp_flush(gz, &out, false);
	}
	for (size_t i = 0; i < t->n_locs; i++) {
		const struct pp_loc *l = &t->locs[i];

		pb_buf__reset(&m);
		pb__uint(&m, LOCATION_ID, i + 1);
		pb__uint(&m, LOCATION_MAPPING_ID, l->mapping);
		pb__uint(&m, LOCATION_ADDRESS, l->address);
		for (uint32_t k = 0; k < l->nlines; k++) {
			const struct pp_line *ln = &t->lines[l->line0 + k];

			pb_buf__reset(&sub);
			pb__uint(&sub, LINE_FUNCTION_ID, ln->func);
			pb__int(&sub, LINE_LINE, ln->line);
			pb__message(&m, LOCATION_LINE, &sub);
		}
		pb__message(&out, PROFILE_LOCATION, &m);
		pp_flush(gz, &out, false);
	}
	for (size_t i = 0; i < t->n_funcs; i++) {
		pb_buf__reset(&m);
		pb__uint(&m, FUNCTION_ID, i + 1);
		pb__int(&m, FUNCTION_NAME, t->funcs[i].name);
		/* The same string: the name strand shows (C++ names demangled already). */
		pb__int(&m, FUNCTION_SYSTEM_NAME, t->funcs[i].name);
		pb__int(&m, FUNCTION_FILENAME, t->funcs[i].file);
		pb__message(&out, PROFILE_FUNCTION, &m);
		pp_flush(gz, &out, false);
	}
	for (size_t i = 0; i < t->n_strs; i++) {
		pb__string(&out, PROFILE_STRING_TABLE, t->strs[i]);
		pp_flush(gz, &out, false);
	}
	pb__int(&out, PROFILE_TIME_NANOS, pp_i64(p->start_unix_ns));
	if (p->duration_s > 0 && isfinite(p->duration_s))
		pb__int(&out, PROFILE_DURATION_NANOS,
			p->duration_s < 9.2e9 ? (int64_t)(p->duration_s * 1e9 + 0.5) : INT64_MAX);
	/* Every task is counted: one event (a task) per sample unit, no sampling. */
	pp_value_type(&out, &m, PROFILE_PERIOD_TYPE, t->s_tasks, t->s_count);
	pb__int(&out, PROFILE_PERIOD, 1);
	for (size_t i = 0; i < t->ncomments; i++)
		pb__int(&out, PROFILE_COMMENT, t->comments[i]);
	pb__int(&out, PROFILE_DEFAULT_SAMPLE_TYPE, t->s_tasks);
	pp_flush(gz, &out, true);
	pb_buf__free(&out);
	pb_buf__free(&m);
	pb_buf__free(&sub);
}

static void pp_free(struct pprof_tables *t)
{
	for (size_t i = 0; i < t->n_owned; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->strs);
	free(t->funcs);
	free(t->lines);
	free(t->locs);
	free(t->maps);
	free(t->stack);
	free(t->samples);
	free(t->group);
	prof_dedupe__free(&t->str_ix);
	prof_dedupe__free(&t->func_ix);
	prof_dedupe__free(&t->loc_ix);
	prof_dedupe__free(&t->map_ix);
}

int profile__pprof(const struct profile *p, FILE *f)
{
	struct pprof_tables t = {0};
	struct prof_str thr = {0};
	struct pb_gzip gz;
	int err;

	prof_dedupe__init(&t.str_ix);
	prof_dedupe__init(&t.func_ix);
	prof_dedupe__init(&t.loc_ix);
	prof_dedupe__init(&t.map_ix);
	pp_build(&t, p, &thr);
	err = pb_gzip__open(&gz, f);
	if (!err) {
		pp_write(&t, p, &gz);
		err = pb_gzip__close(&gz);
	}
	pp_free(&t);
	prof_str__free(&thr);
	return err;
}
