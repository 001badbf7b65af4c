/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A report's output file, or the standard output: a stdio stream that remembers the first
 * error of any write under it, so that "No space left on device" is said as such once the
 * stream is closed, however many flushes happened in between. Nothing written is lost
 * silently: output__close says what failed and returns the exit code.
 */
#ifndef STRAND_OUTPUT_H
#define STRAND_OUTPUT_H

#include <stdio.h>

struct output {
	FILE *f;
	const char *name; /* the path, or "-" */
	int fd;
	int err; /* the first write's errno */
};

/* Refuses, before any work, a path that cannot be written: empty, a directory, or in a
 * directory that does not exist or cannot be written. 0 or STRAND_EXIT_ERROR (said). */
int output__check(const char *path);

/* path NULL or "-": the standard output (what stdout buffered is written first). 0, or
 * STRAND_EXIT_ERROR with the reason said. */
int output__open(struct output *o, const char *path);
/* Flushes and closes (the standard output's fd stays open); 0 or STRAND_EXIT_ERROR, said
 * with the file's name and the first error. */
int output__close(struct output *o);

#endif /* STRAND_OUTPUT_H */
