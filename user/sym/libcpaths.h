/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a process's C library is, as the probes on it must name the file: through the
 * process's root (a container's own libc), or through the mapping itself when the file on
 * disk was replaced (an upgrade). Read once for the probes attached to one process one after
 * the other: its maps can be 200k lines long (a process of 100k threads).
 */
#ifndef STRAND_LIBCPATHS_H
#define STRAND_LIBCPATHS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The last process read; zeroed: none. */
struct libc_paths {
	pid_t pid;	  /* 0: none read; -1: strand's own */
	uint64_t birth;	  /* the process's start: a pid reused is another process */
	uint64_t read_ns; /* when: kept a moment only, as an exec maps another library */
	int err;	  /* 0, or why no C library was found */
	char libc[PATH_MAX];
	char pthread[PATH_MAX]; /* the file defining pthread_create: libpthread before 2.34 */
};

/* The C library mapped in pid (-1: strand's) into path: with pthread, the file that defines
 * pthread_create (glibc >= 2.34 keeps it in libc.so.6, older ones in libpthread.so.0); else
 * libc itself. 0, -ENOENT (none mapped: a static binary) or -errno. */
int libc_paths__find(struct libc_paths *c, pid_t pid, bool pthread, char *path, size_t size);

#endif /* STRAND_LIBCPATHS_H */
