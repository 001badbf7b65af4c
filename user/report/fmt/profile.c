// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What every profile format shares: a frame's one line of text, the classes' names. */
#include "report/fmt/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

const char *prof_class__name(enum prof_class c)
{
	static const char *const names[PROF_CLASSES] = {
		[PROF_RUNNING] = "running",   [PROF_BLOCKED] = "blocked", [PROF_IDLE] = "idle",
		[PROF_STRANDED] = "stranded", [PROF_RUNAWAY] = "runaway",
	};

	return (unsigned)c < PROF_CLASSES ? names[c] : "?";
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The same text as the terminal report's frames (report.c, frame__format), so a frame reads
 * alike in every output: the file's base name only, the full path is in the richer formats. */
void prof_frame__format(const struct prof_frame *fr, char *buf, size_t size)
{
	const char *mod = fr->module ? basename_of(fr->module) : "?";

	if (!size)
		return;
	if (fr->function && fr->file && fr->line > 0)
		snprintf(buf, size, "%s (%s:%d)%s", fr->function, basename_of(fr->file), fr->line,
			 fr->inlined ? " [inlined]" : "");
	else if (fr->function && fr->file)
		snprintf(buf, size, "%s (%s)%s", fr->function, basename_of(fr->file),
			 fr->inlined ? " [inlined]" : "");
	else if (fr->function)
		snprintf(buf, size, "%s [%s]", fr->function, mod);
	else
		snprintf(buf, size, "0x%" PRIx64 " [%s]", fr->address, mod);
}

int prof_view__parse(const char *name, enum prof_view *out)
{
	if (!strcmp(name, "spawn"))
		*out = PROF_VIEW_SPAWN;
	else if (!strcmp(name, "wait"))
		*out = PROF_VIEW_WAIT;
	else if (!strcmp(name, "combined"))
		*out = PROF_VIEW_COMBINED;
	else
		return -EINVAL;
	return 0;
}
