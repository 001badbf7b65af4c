/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ground truth for Go frames: a Go program's own traceback, as its runtime prints it (a
 * crash dump or runtime.Stack), parsed into groups: the frames of one physical frame,
 * inlined calls first, with the offset of its pc from the function's entry. Also runs Go
 * programs for the tests and finds MARK comments in their sources.
 */
#ifndef STRAND_GOTRACE_H
#define STRAND_GOTRACE_H

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sym/gopclntab.h"

#define GT_MAX_FRAMES 16

struct gt_frame {
	char function[256], file[512];
	int line;
};

struct gt_group {
	struct gt_frame f[GT_MAX_FRAMES]; /* innermost first, the physical function last */
	int n;
	uint64_t off;	 /* pc - entry of the physical function, as printed after "+" */
	bool created_by; /* a goroutine's creation site (one frame, named as the runtime does) */
	bool top;	 /* the first frame of a goroutine: its pc may be exact, not a return */
};

struct gt_trace {
	struct gt_group *g;
	int n;
};

static inline void gt_trace__free(struct gt_trace *t)
{
	free(t->g);
	t->g = NULL;
	t->n = 0;
}

static inline struct gt_group *gt__add(struct gt_trace *t)
{
	t->g = realloc(t->g, (t->n + 1) * sizeof(*t->g));
	memset(&t->g[t->n], 0, sizeof(t->g[0]));
	return &t->g[t->n++];
}

/* "\tfile:line +0xoff fp=..." into the frame; returns whether an offset was printed. */
static inline bool gt__location(const char *s, struct gt_frame *f, uint64_t *off, bool *has_off)
{
	const char *end = strstr(s, " +0x"), *colon;

	*has_off = end != NULL;
	if (end)
		*off = strtoull(end + 4, NULL, 16);
	else if (!(end = strstr(s, " fp=")))
		end = s + strlen(s);
	for (colon = end; colon > s && *colon != ':'; colon--)
		;
	if (colon == s || (size_t)(colon - s) >= sizeof(f->file))
		return false;
	memcpy(f->file, s, colon - s);
	f->file[colon - s] = '\0';
	f->line = atoi(colon + 1);
	return true;
}

/* Parses a traceback. Frames whose args are "(...)" are inlined; the next frame with a
 * "+0x" (or "()" args and none: pc at the entry) closes the group. */
static inline void gt_trace__parse(struct gt_trace *t, char *text)
{
	struct gt_frame pending[GT_MAX_FRAMES];
	int npending = 0;
	bool top = false, created = false, inlined = false;
	char *save = NULL;

	memset(t, 0, sizeof(*t));
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "goroutine ", 10)) {
			npending = 0;
			top = true;
		} else if (l[0] != '\t' && !strncmp(l, "created by ", 11)) {
			char *in = strstr(l, " in goroutine ");

			if (in)
				*in = '\0';
			snprintf(pending[0].function, sizeof(pending[0].function), "%s", l + 11);
			npending = 1;
			created = true;
			inlined = false;
		} else if (l[0] != '\t') {
			char *paren = strrchr(l, '(');
			size_t len = strlen(l);

			if (!paren || l[len - 1] != ')' || npending == GT_MAX_FRAMES) {
				npending = 0;
				continue;
			}
			inlined = !strcmp(paren, "(...)");
			*paren = '\0';
			snprintf(pending[npending].function, sizeof(pending[0].function), "%s", l);
			npending++;
			created = false;
		} else if (npending) {
			uint64_t off = 0;
			bool has_off;
			struct gt_group *g;

			if (!gt__location(l + 1, &pending[npending - 1], &off, &has_off)) {
				npending = 0;
				continue;
			}
			if (inlined && !created)
				continue;
			g = gt__add(t);
			memcpy(g->f, pending, npending * sizeof(pending[0]));
			g->n = npending;
			g->off = off;
			g->created_by = created;
			g->top = top && !created;
			top = false;
			npending = 0;
		}
	}
}

/* Runs path with argv (path first) under GOTRACEBACK=system, its stdin and stdout pipes. */
static inline pid_t gt_spawn(char *const argv[], int *to_child, int *from_child, bool stderr_too)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) || pipe(out))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (stderr_too)
			dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		setenv("GOTRACEBACK", "system", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

/* Reads fd until a line equal to until (NULL: EOF) or timeout_ms; a malloc'ed string. */
static inline char *gt_read(int fd, const char *until, int timeout_ms)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= timeout_ms || poll(&p, 1, (int)(timeout_ms - ms)) <= 0)
			break;
		if (len + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += r;
		buf[len] = '\0';
		if (until) {
			char want[64];

			snprintf(want, sizeof(want), "\n%s\n", until);
			if (strstr(buf, want))
				break;
		}
	}
	return buf;
}

/* The line of "MARK: name" in the source at path; 0 when absent. */
static inline int gt_marker_line(const char *path, const char *name)
{
	char want[64], line[1024];
	FILE *f = fopen(path, "r");
	int n = 0, found = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "// MARK: %s", name);
	while (!found && fgets(line, sizeof(line), f)) {
		char *m = strstr(line, want);

		n++;
		if (m && (m[strlen(want)] == '\n' || m[strlen(want)] == '\0'))
			found = n;
	}
	fclose(f);
	return found;
}

/* Whether a name as a traceback prints it matches the table's: from Go 1.21 the type
 * arguments of a generic function print as "[...]". */
static inline bool gt_name_eq(const char *printed, const char *name)
{
	const char *dots = strstr(printed, "[...]");
	size_t pre;
	int depth = 0;

	if (!dots)
		return !strcmp(printed, name);
	pre = (size_t)(dots - printed) + 1;
	if (strncmp(printed, name, pre))
		return false;
	for (name += pre, depth = 1; *name && depth; name++)
		depth += *name == '[' ? 1 : *name == ']' ? -1 : 0;
	return !depth && gt_name_eq(dots + 5, name);
}

/* Wrappers the runtime elides (<autogenerated>) may be extra in ours; with runtime.Stack
 * (level 1) so may the runtime's own inlined frames. */
static inline bool gt__skippable(const struct go_frame *f, bool hide_runtime)
{
	return (f->file && !strcmp(f->file, "<autogenerated>")) ||
	       (hide_runtime && f->inlined && !strncmp(f->function, "runtime.", 8));
}

/* Whether frames (innermost first) are the group's, as the runtime printed them. */
static inline bool gt_frames_match(const struct go_frame *f, int n, const struct gt_group *g,
				   bool hide_runtime)
{
	int i = 0;

	for (int j = 0; j < n; j++) {
		if (i < g->n && f[j].function && gt_name_eq(g->f[i].function, f[j].function) &&
		    f[j].file && !strcmp(f[j].file, g->f[i].file) && f[j].line == g->f[i].line &&
		    f[j].inlined == (i < g->n - 1))
			i++;
		else if (!f[j].function || !gt__skippable(&f[j], hide_runtime))
			return false;
	}
	return i == g->n;
}

static inline void gt_print_mismatch(const struct go_frame *f, int n, const struct gt_group *g)
{
	fprintf(stderr, "  runtime says:\n");
	for (int i = 0; i < g->n; i++)
		fprintf(stderr, "    %s %s:%d\n", g->f[i].function, g->f[i].file, g->f[i].line);
	fprintf(stderr, "  strand says:\n");
	for (int j = 0; j < n; j++)
		fprintf(stderr, "    %s %s:%d%s\n", f[j].function ? f[j].function : "?",
			f[j].file ? f[j].file : "?", f[j].line, f[j].inlined ? " [inlined]" : "");
}

/* The unit tests' build directory (build/unit/, where the Go fixtures are), with a trailing
 * slash: a test binary sits in a folder of it named as the code it tests (build/unit/sym/). */
static inline const char *gt_self_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *unit, *slash;

	dir[n > 0 ? n : 0] = '\0';
	unit = strstr(dir, "/build/unit/");
	if (unit)
		unit[strlen("/build/unit/")] = '\0';
	else if ((slash = strrchr(dir, '/')))
		slash[1] = '\0';
	return dir;
}

#endif /* STRAND_GOTRACE_H */
