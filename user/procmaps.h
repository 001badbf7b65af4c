/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-process views of /proc: the memory mappings of each traced process (which ELF file is
 * loaded where), cached and refreshed when an address falls outside what is known, and the
 * libdw session (Dwfl) built from them that the unwinder and symbolizer share.
 */
#ifndef STRAND_PROCMAPS_H
#define STRAND_PROCMAPS_H

#include <stdint.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

struct proc_maps;

struct proc_maps *proc_maps__new(void);
void proc_maps__free(struct proc_maps *pm);

/*
 * The Dwfl describing the modules of pid, reported from /proc/pid/maps (through
 * /proc/pid/root for processes in other mount namespaces) on first use. If addr is
 * non-zero and no module covers it, the mappings are re-read once (a dlopen since).
 * Returns NULL when the process is gone and nothing was cached for it. This session never
 * loads a separate debug file: for unwinding (.eh_frame) and finding modules.
 */
Dwfl *proc_maps__dwfl(struct proc_maps *pm, pid_t pid, uint64_t addr);

/* The process exec'd or exited. */
void proc_maps__forget(struct proc_maps *pm, pid_t pid);

/* Parses one /proc/PID/maps line; exposed for the fuzzer and unit tests. */
struct map_line {
	uint64_t start, end, offset;
	char perms[5];
	uint64_t inode;
	const char *path; /* points into the line, NULL for anonymous mappings */
};
int map_line__parse(char *line, struct map_line *out);

#endif /* STRAND_PROCMAPS_H */
