/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Code a JIT made, named by the map it writes for perf: /tmp/perf-PID.map, a line per
 * piece of code, "START SIZE name" (hex), appended to as code is made (Node.js with
 * --perf-basic-prof, a JVM after `jcmd PID Compiler.perfmap`, .NET, LuaJIT ...). Read in
 * the process's own root and under its own pid (a container's).
 */
#ifndef STRAND_PERFMAP_H
#define STRAND_PERFMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct perfmap;

/* pid's map, when it has written one; NULL when not. */
struct perfmap *perfmap__open(pid_t pid);
void perfmap__free(struct perfmap *m);

/* The name of the code at pc, NULL when the map says none; the map is read again when it
 * has grown since. Valid until the next call. */
const char *perfmap__name(struct perfmap *m, uint64_t pc);

/* Pure: one line of a map, line[0..n) with no newline; false when it is no such line. The
 * name is the rest of the line, at *name for *name_len bytes. */
bool perfmap__parse_line(const char *line, size_t n, uint64_t *start, uint64_t *size,
			 const char **name, size_t *name_len);

#endif /* STRAND_PERFMAP_H */
