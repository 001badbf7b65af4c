// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "libcpaths.h"
#include "procfs.h"
#include "procmaps.h"
#include "util.h"

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

static int read_libc_paths(pid_t pid, struct libc_paths *out)
{
	char dir[64], maps_path[80], line[PATH_MAX + 256];
	FILE *f;

	out->libc[0] = out->pthread[0] = '\0';
	if (pid > 0)
		procfs__dir(pid, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "/proc/self");
	snprintf(maps_path, sizeof(maps_path), "%s/maps", dir);
	f = fopen(maps_path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && !(out->libc[0] && out->pthread[0])) {
		struct map_line ml;
		const char *base;

		line[strcspn(line, "\n")] = '\0';
		if (map_line__parse(line, &ml) || !ml.path || ml.path[0] != '/')
			continue;
		base = strrchr(ml.path, '/') + 1;
		if (!out->pthread[0] && !strncmp(base, "libpthread", 10))
			probe_path(pid, dir, &ml, out->pthread, sizeof(out->pthread));
		else if (!out->libc[0] &&
			 (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5)))
			probe_path(pid, dir, &ml, out->libc, sizeof(out->libc));
	}
	fclose(f);
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
