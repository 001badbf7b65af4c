/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Symbols and debug data of a binary, opened once per build and shared by every process
 * that maps it. Debian's C library has ~30 MB of compressed debug sections that libdw
 * inflates whole when it opens them (~40 ms): read per process, a daemon paid that for
 * every short-lived shell command and kept a copy per live process.
 *
 * A build stays open while a process that asked for it lives, and for a grace period after
 * the last one went (a machine's churn of short processes would otherwise reopen it each
 * time); at most DEBUG_FILES_MAX are open, the least recently used dropped first.
 */
#ifndef STRAND_DEBUGFILES_H
#define STRAND_DEBUGFILES_H

#include <stdint.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

#define DEBUG_FILES_MAX 32

struct debug_files;

struct debug_files_stats {
	uint64_t open;	  /* builds open now */
	uint64_t opened;  /* builds opened, in all */
	uint64_t dropped; /* closed: no user left past the grace period, or the cache full */
	uint64_t failed;  /* a binary that could not be opened again (its process gone) */
};

struct debug_files *debug_files__new(void);
void debug_files__free(struct debug_files *df);

/*
 * The module of build modkey in a session of its own, with its separate debug file when one
 * is installed, opened from path (the binary as the process maps it, e.g. under
 * /proc/PID/root, valid now) the first time; pid is noted as one of its users. *bias: what
 * to add to an address relative to the binary's load bias. NULL when path cannot be read.
 */
Dwfl_Module *debug_files__module(struct debug_files *df, uint64_t modkey, const char *path,
				 pid_t pid, Dwarf_Addr *bias);

/* pid exited or exec'd: it no longer uses what it asked for. */
void debug_files__forget(struct debug_files *df, pid_t pid);

void debug_files__stats(const struct debug_files *df, struct debug_files_stats *out);

#endif /* STRAND_DEBUGFILES_H */
