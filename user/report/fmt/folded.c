// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Folded stacks, "frame;frame;frame count" a line, root first, the count in tasks: the input
 * of flamegraph.pl and one of speedscope's formats. Samples with the same text are one line
 * (those of one stack in other states or kinds are merged), sorted, so that two runs over
 * one trace give the same file.
 */
#include "lib/util.h"
#include "report/fmt/pprof_text.h"
#include "report/fmt/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct fold_line {
	char *stack;
	uint64_t count;
};

/*
 * The readers split a line at ';' and take the count after its last space (speedscope:
 * /^(.*) (\d+)$/ a line), so a name keeps its spaces but not a ';' (a ',' instead); line
 * breaks and other control characters are spaces already (prof_str__append_line).
 */
static void fold_clean(struct prof_str *line, const char *text)
{
	size_t start = line->len;

	prof_str__append(line, text, strlen(text));
	for (char *c = line->s + start; (c = strchr(c, ';')); c++)
		*c = ',';
}

/* "function (file.c:41)", "function (file.c)", "function [module]", or an unknown frame. */
static void fold_frame(const struct prof_frame *fr, struct prof_str *text)
{
	prof_str__reset(text);
	if (!prof_text__known(fr)) {
		prof_text__unknown(fr, text);
		return;
	}
	prof_str__append_line(text, fr->function);
	if (fr->file) {
		prof_str__append(text, " (", 2);
		prof_str__append_line(text, prof_text__basename(fr->file));
		if (fr->line > 0)
			prof_str__printf(text, ":%d", fr->line);
		prof_str__append(text, ")", 1);
	} else if (fr->module) {
		prof_str__append(text, " [", 2);
		prof_str__append_line(text, prof_text__basename(fr->module));
		prof_str__append(text, "]", 1);
	}
}

static int fold_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fold_line *)a)->stack, ((const struct fold_line *)b)->stack);
}

int profile__folded(const struct profile *p, FILE *f)
{
	struct fold_line *lines = xcalloc(p->n ? p->n : 1, sizeof(*lines));
	struct prof_str line = {0}, text = {0};
	size_t n = 0;
	int err = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct prof_sample *s = &p->samples[i];
		int depth;
		const struct prof_frame *const *frames = prof_text__frames(s, &depth);

		/* A line of no tasks draws nothing and flamegraph.pl would count it anyway. */
		if (!s->tasks)
			continue;
		prof_str__reset(&line);
		for (int k = 0; k < depth; k++) {
			fold_frame(frames[k] ? frames[k] : &prof_text__no_frame, &text);
			if (k)
				prof_str__append(&line, ";", 1);
			fold_clean(&line, prof_str__get(&text));
		}
		lines[n].stack = xstrdup(prof_str__get(&line));
		lines[n++].count = s->tasks;
	}
	qsort(lines, n, sizeof(*lines), fold_cmp);
	errno = 0;
	for (size_t i = 0; i < n;) {
		uint64_t count = 0;
		size_t j = i;

		for (; j < n && !strcmp(lines[j].stack, lines[i].stack); j++)
			count = count + lines[j].count < count ? UINT64_MAX
							       : count + lines[j].count;
		if (fprintf(f, "%s %" PRIu64 "\n", lines[i].stack, count) < 0 && !err)
			err = errno ? -errno : -EIO;
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].stack);
	free(lines);
	prof_str__free(&line);
	prof_str__free(&text);
	if (!err && (fflush(f) || ferror(f)))
		err = errno ? -errno : -EIO;
	return err;
}
