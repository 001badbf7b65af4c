/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-process views of /proc: the memory mappings of each traced process (which ELF file is
 * loaded where), cached and refreshed when an address falls outside what is known, and the
 * libdw session (Dwfl) built from them that the unwinder and symbolizer share.
 */
#ifndef STRAND_PROCMAPS_H
#define STRAND_PROCMAPS_H

#include <stdbool.h>
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
	/* procmaps__each_file: a mapping of no file lies between this one and the last file
	 * mapping (false for the first) */
	bool after_other;
};
int map_line__parse(char *line, struct map_line *out);

/*
 * Calls fn for each mapping of a file in pid (0: strand itself), in address order, until
 * it returns nonzero. Mappings of no file (the heap, thread stacks: a process of 100k
 * threads has 200k of them) are not listed, and on Linux >= 6.11 not even read: the kernel
 * is asked for file mappings one by one (PROCMAP_QUERY) rather than for the text of them
 * all. Returns 0, or -errno (-ESRCH: gone).
 */
int procmaps__each_file(pid_t pid, int (*fn)(void *ctx, const struct map_line *ml), void *ctx);

#endif /* STRAND_PROCMAPS_H */
