// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "report/report_out.h"
#include "lib/output.h"
#include "lib/util.h"
#include "report/report_doc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int take_view(void *opts, const struct opt *e, const char *arg)
{
	struct report_outputs *o = opts;

	o->view_given = true;
	if (prof_view__parse(arg, &o->view)) {
		say("invalid --view '%s': expected spawn, wait or combined", arg);
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

const struct opt report_outputs__options[] = {
	{"svg", 0, OPT_STRING(struct report_outputs, svg), .arg = "FILE",
	 .help = "an interactive flame graph of the tasks (self-contained SVG)"},
	{"pprof", 0, OPT_STRING(struct report_outputs, pprof), .arg = "FILE",
	 .help = "a gzipped pprof profile (go tool pprof -top FILE)"},
	{"folded", 0, OPT_STRING(struct report_outputs, folded), .arg = "FILE",
	 .help = "folded stacks (flamegraph.pl, speedscope)"},
	{"speedscope", 0, OPT_STRING(struct report_outputs, speedscope), .arg = "FILE",
	 .help = "speedscope's JSON format"},
	{"view", 0, OPT_CALL(take_view), .arg = "VIEW",
	 .help = "the stacks of those files: spawn (where tasks came from), wait\n"
		 "(where they wait now) or combined (the spawn stack below the\n"
		 "wait stack, like Go's \"created by\"; the default)"},
	{0},
};

bool report_outputs__any(const struct report_outputs *o)
{
	return o->folded || o->svg || o->pprof || o->speedscope;
}

static bool is_stdout(const char *path)
{
	return path && !strcmp(path, "-");
}

bool report_outputs__to_stdout(const struct report_outputs *o)
{
	return is_stdout(o->folded) || is_stdout(o->svg) || is_stdout(o->pprof) ||
	       is_stdout(o->speedscope);
}

int report_outputs__check(const struct report_outputs *o)
{
	const char *const paths[] = {o->folded, o->svg, o->pprof, o->speedscope};
	int on_stdout = 0;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!paths[i])
			continue;
		if (is_stdout(paths[i])) {
			on_stdout++;
			continue;
		}
		if (output__check(paths[i]))
			return STRAND_EXIT_ERROR;
	}
	if (on_stdout > 1) {
		say("only one output can go to stdout ('-')");
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

static int write_one(const char *path, const char *what, const struct profile *p,
		     int (*render)(const struct profile *, FILE *))
{
	struct output out;
	int err, code;

	if (!path)
		return 0;
	if ((code = output__open(&out, path)))
		return code;
	err = render(p, out.f);
	code = output__close(&out);
	if (err && !code) { /* the renderer's own failure, not a write's */
		say("cannot write the %s to '%s': %s", what, path, strerror(-err));
		code = STRAND_EXIT_ERROR;
	}
	return code;
}

int report_outputs__write(const struct report_outputs *o, const struct report_doc *doc)
{
	struct profile p;
	int code = 0;

	if (!report_outputs__any(o))
		return 0;
	report_doc__profile(doc, o->view_given ? o->view : PROF_VIEW_COMBINED, &p);
	code |= write_one(o->folded, "folded stacks", &p, profile__folded);
	code |= write_one(o->svg, "flame graph", &p, profile__svg);
	code |= write_one(o->pprof, "pprof profile", &p, profile__pprof);
	code |= write_one(o->speedscope, "speedscope profile", &p, profile__speedscope);
	profile__free(&p);
	return code ? STRAND_EXIT_ERROR : 0;
}
