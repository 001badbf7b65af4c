/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recordings: a trace kept to be reported again later, on another machine, without the
 * target's binaries. A gzip stream of JSON lines: a header line, then one line per snapshot
 * of the report document (already symbolized: every frame is words, not addresses), the
 * last marked final. Each line is flushed to the file as it is written (a sync flush), so a
 * crash or a kill loses at most the time since the last snapshot, and a recording still
 * being written reads as far as it goes.
 *
 *	{"strand_recording": 1, "strand_version": "0.1.0", "created_unix_seconds": ...,
 *	 "command": ["strand", "trace", ...], "snapshot_every_seconds": 5}
 *	{"snapshot": 1, "at_seconds": 5.0, "final": false, "report": {...}}
 *	...
 *	{"snapshot": 9, "at_seconds": 41.2, "final": true, "report": {...}}
 */
#ifndef STRAND_RECORDING_H
#define STRAND_RECORDING_H

#include <stdbool.h>
#include <stddef.h>

#include "report/report_doc.h"

#define RECORDING_VERSION 1

struct recorder;

/* Creates path (replacing it) and writes the header. NULL with *err = -errno. */
struct recorder *recorder__open(const char *path, int argc, char **argv, double every_s, int *err);
/* Appends a snapshot of doc and flushes it to the file. 0 or -errno (the disk is full: the
 * recording stops there, and says so when read). */
int recorder__write(struct recorder *r, const struct report_doc *doc, double at_s, bool final);
/* Closes the stream; 0 or -errno. */
int recorder__close(struct recorder *r);

/* What was read back. */
struct recording {
	json_t *header;		/* NULL when the file was a plain JSON report */
	struct report_doc last; /* the last complete snapshot */
	int snapshots;
	bool final;	/* the trace ended and wrote its final snapshot */
	bool truncated; /* the file ends inside a line or a damaged block */
};

/*
 * Reads path: a recording (compressed or not) or a plain JSON report (strand trace
 * --json), up to its snapshot number upto (1 the first; 0 the last). 0, or -EBADMSG /
 * -errno with the reason in why: not a strand file, a version this strand does not read,
 * nothing complete in it, fewer snapshots than upto.
 */
int recording__read(const char *path, int upto, struct recording *rec, char *why, size_t why_size);
/* Reads from a buffer already in memory (exposed for tests and fuzzing). */
int recording__read_mem(const void *data, size_t len, int upto, struct recording *rec, char *why,
			size_t why_size);
void recording__free(struct recording *rec);

#endif /* STRAND_RECORDING_H */
