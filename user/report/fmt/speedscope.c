// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A profile in speedscope's own file format (https://www.speedscope.app/file-format-schema.json):
 * the frames once, in "shared", and one "sampled" profile whose samples are lists of frame
 * indexes, root first, weighed by their tasks (unit "none": a count, not a time).
 */
#include "lib/json_writer.h"
#include "lib/util.h"
#include "report/fmt/pprof_text.h"
#include "report/fmt/profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

struct ss_frame {
	char *name, *file; /* valid UTF-8; file NULL when unknown */
	int line;	   /* 0: unknown */
};

struct ss_tables {
	struct ss_frame *frames;
	size_t nframes, capframes;
	struct prof_dedupe ix;
	uint32_t *stacks; /* every written sample's frame indexes, root first */
	size_t nstacks, capstacks;
	struct prof_str name, file;
};

/* speedscope's frame name: the function, with its module when no source file says where;
 * or what is known of a frame with no function. The file and line go in fields of their own. */
static void ss_name(const struct prof_frame *fr, struct prof_str *out)
{
	prof_str__reset(out);
	if (!prof_text__known(fr)) {
		prof_text__unknown(fr, out);
		return;
	}
	prof_str__append_utf8(out, fr->function);
	if (!fr->file && fr->module) {
		prof_str__append(out, " [", 2);
		prof_str__append_utf8(out, prof_text__basename(fr->module));
		prof_str__append(out, "]", 1);
	}
}

static uint32_t ss_frame(struct ss_tables *t, const struct prof_frame *fr)
{
	const char *name, *file = NULL;
	int line = prof_text__known(fr) && fr->line > 0 ? fr->line : 0;
	uint64_t h;

	ss_name(fr, &t->name);
	name = prof_str__get(&t->name);
	if (prof_text__known(fr) && fr->file) {
		prof_str__reset(&t->file);
		prof_str__append_utf8(&t->file, fr->file);
		file = prof_str__get(&t->file);
	}
	h = prof_hash__u64(prof_hash__str(prof_hash__str(0, name), file), (uint64_t)line);
	for (uint32_t i = prof_dedupe__first(&t->ix, h); i != PROF_NONE;
	     i = prof_dedupe__next(&t->ix, i)) {
		const struct ss_frame *o = &t->frames[i];

		if (o->line == line && !strcmp(o->name, name) &&
		    (o->file && file ? !strcmp(o->file, file) : o->file == file))
			return i;
	}
	uint32_t i = prof_dedupe__add(&t->ix, h);

	if (t->nframes == t->capframes) {
		t->capframes = t->capframes ? t->capframes * 2 : 64;
		t->frames = xrealloc(t->frames, t->capframes * sizeof(*t->frames));
	}
	t->frames[t->nframes++] = (struct ss_frame){
		.name = xstrdup(name), .file = file ? xstrdup(file) : NULL, .line = line};
	return i;
}

static void ss_push(struct ss_tables *t, uint32_t v)
{
	if (t->nstacks == t->capstacks) {
		t->capstacks = t->capstacks ? t->capstacks * 2 : 256;
		t->stacks = xrealloc(t->stacks, t->capstacks * sizeof(*t->stacks));
	}
	t->stacks[t->nstacks++] = v;
}

static bool ss_written(const struct prof_sample *s)
{
	/* A sample of no tasks weighs nothing: speedscope has nothing to draw for it. */
	return s->tasks > 0;
}

int profile__speedscope(const struct profile *p, FILE *f)
{
	struct ss_tables t = {0};
	const char *title = p->title && *p->title ? p->title : "strand";
	struct prof_str name = {0};
	uint64_t total = 0;
	struct json j;
	int err = 0;

	prof_dedupe__init(&t.ix);
	for (size_t i = 0; i < p->n; i++) {
		const struct prof_sample *s = &p->samples[i];
		int depth;
		const struct prof_frame *const *frames = prof_text__frames(s, &depth);

		if (!ss_written(s))
			continue;
		for (int k = 0; k < depth; k++)
			ss_push(&t, ss_frame(&t, frames[k] ? frames[k] : &prof_text__no_frame));
		total = total + s->tasks < total ? UINT64_MAX : total + s->tasks;
	}
	prof_str__append_utf8(&name, title);

	json__init(&j, f);
	json__begin_object(&j, NULL);
	json__string(&j, "$schema", SPEEDSCOPE_SCHEMA);
	json__string(&j, "exporter", "strand@" STRAND_VERSION);
	json__string(&j, "name", prof_str__get(&name));
	json__int(&j, "activeProfileIndex", 0);
	json__begin_object(&j, "shared");
	json__begin_array(&j, "frames");
	for (size_t i = 0; i < t.nframes; i++) {
		json__begin_object(&j, NULL);
		json__string(&j, "name", t.frames[i].name);
		if (t.frames[i].file)
			json__string(&j, "file", t.frames[i].file);
		if (t.frames[i].line)
			json__int(&j, "line", t.frames[i].line);
		json__end_object(&j);
	}
	json__end_array(&j);
	json__end_object(&j);
	json__begin_array(&j, "profiles");
	json__begin_object(&j, NULL);
	json__string(&j, "type", "sampled");
	json__string(&j, "name", prof_str__get(&name));
	json__string(&j, "unit", "none");
	/* A sampled profile spans its total weight: speedscope sizes the time axis by it. */
	json__uint(&j, "startValue", 0);
	json__uint(&j, "endValue", total);
	json__begin_array(&j, "samples");
	size_t at = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct prof_sample *s = &p->samples[i];
		int depth;

		prof_text__frames(s, &depth);
		if (!ss_written(s))
			continue;
		json__begin_array(&j, NULL);
		for (int k = 0; k < depth; k++)
			json__uint(&j, NULL, t.stacks[at++]);
		json__end_array(&j);
	}
	json__end_array(&j);
	json__begin_array(&j, "weights");
	for (size_t i = 0; i < p->n; i++)
		if (ss_written(&p->samples[i]))
			json__uint(&j, NULL, p->samples[i].tasks);
	json__end_array(&j);
	json__end_object(&j);
	json__end_array(&j);
	json__end_object(&j);

	errno = 0;
	if (fflush(f) || ferror(f))
		err = errno ? -errno : -EIO;
	for (size_t i = 0; i < t.nframes; i++) {
		free(t.frames[i].name);
		free(t.frames[i].file);
	}
	free(t.frames);
	free(t.stacks);
	prof_dedupe__free(&t.ix);
	prof_str__free(&t.name);
	prof_str__free(&t.file);
	prof_str__free(&name);
	return err;
}
