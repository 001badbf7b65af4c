// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/libcpaths.h"
#include "lib/util.h"
#include "sym/procmaps.h"
#include "sys/procfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LIBC_PATHS_FOR_NS   500000000ULL
#define LIBC_BIRTH_SLACK_NS 1000000ULL

/* The path of the mapping in ml as the probes must name it: through the process's root, so a
 * container's own libc is the one probed; a library replaced on disk since (an upgrade)
 * through the mapping itself, as the file at the path is another one. */
static void probe_path(pid_t pid, const char *dir, const struct map_line *ml, char *path,
		       size_t size)
{
	if (pid > 0 && str_ends_with(ml->path, " (deleted)"))
		snprintf(path, size, "%s/map_files/%" PRIx64 "-%" PRIx64, dir, ml->start, ml->end);
	else if (pid > 0)
		snprintf(path, size, "%s/root%s", dir, ml->path);
	else
		snprintf(path, size, "%s", ml->path);
}

struct libc_search {
	pid_t pid;
	const char *dir;
	struct libc_paths *out;
};

static int note_libc(void *ctx, const struct map_line *ml)
{
	struct libc_search *s = ctx;
	const char *base;

	if (!ml->path || ml->path[0] != '/')
		return 0;
	base = strrchr(ml->path, '/') + 1;
	if (!s->out->pthread[0] && !strncmp(base, "libpthread", 10))
		probe_path(s->pid, s->dir, ml, s->out->pthread, sizeof(s->out->pthread));
	else if (!s->out->libc[0] && (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5)))
		probe_path(s->pid, s->dir, ml, s->out->libc, sizeof(s->out->libc));
	return s->out->libc[0] && s->out->pthread[0];
}

static int read_libc_paths(pid_t pid, struct libc_paths *out)
{
	char dir[64];
	struct libc_search s = {pid, dir, out};
	int err;

	out->libc[0] = out->pthread[0] = '\0';
	if (pid > 0)
		procfs__dir(pid, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "/proc/self");
	if ((err = procmaps__each_file(pid > 0 ? pid : 0, note_libc, &s)))
		return err;
	if (!out->libc[0])
		return -ENOENT;
	if (!out->pthread[0]) /* glibc >= 2.34: pthread_create lives in libc */
		memcpy(out->pthread, out->libc, sizeof(out->pthread));
	return 0;
}

int libc_paths__find(struct libc_paths *c, pid_t pid, bool pthread, char *path, size_t size)
{
	uint64_t birth = pid > 0 ? procfs__birth_ns(pid) : 0;

	if (pid <= 0)
		pid = -1;
	/* the start, from clock ticks since boot, moves by the conversion's microseconds */
	if (c->pid != pid || birth > c->birth + LIBC_BIRTH_SLACK_NS ||
	    c->birth > birth + LIBC_BIRTH_SLACK_NS ||
	    now_mono_ns() - c->read_ns > LIBC_PATHS_FOR_NS) {
		c->pid = pid;
		c->birth = birth;
		c->err = read_libc_paths(pid, c);
		c->read_ns = now_mono_ns();
	}
	if (!c->err)
		snprintf(path, size, "%s", pthread ? c->pthread : c->libc);
	return c->err;
}
