// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "taskiter.h"
#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Room for the iterator's output read at a time: records are handled as they come, so a
 * hundred thousand blocked threads' stacks are never all in memory at once. */
#define SCAN_BUF_BYTES (1u << 20)

/* A task scan's records as they come: each handed to fn with its stack. */
struct record_reader {
	task_record_fn fn;
	void *ctx;
};

/* Takes the complete records among buf's first len bytes; returns how many bytes they
 * took, or -EBADMSG. Records are checked, not trusted. */
static ssize_t take_records(const uint8_t *buf, size_t len, void *state, int *n)
{
	struct record_reader *r = state;
	size_t off = 0;

	while (len - off >= sizeof(struct strand_task_record)) {
		struct strand_task_record rec; /* copied: a stack's length may unalign the next */

		memcpy(&rec, buf + off, sizeof(rec));
		if (rec.magic != STRAND_RECORD_MAGIC || rec.stack_len > STRAND_STACK_BYTES)
			return -EBADMSG;
		if (len - off - sizeof(rec) < rec.stack_len)
			break; /* its stack comes with the next read */
		off += sizeof(rec);
		r->fn(r->ctx, &rec, rec.stack_len ? buf + off : NULL);
		off += rec.stack_len;
		(*n)++;
	}
	return (ssize_t)off;
}

typedef ssize_t (*take_fn)(const uint8_t *buf, size_t len, void *state, int *n);

/* Runs an iterator link to its end, its output handed to take as it is read. Returns the
 * number of records taken or a negative errno. */
static int run_iter(int link_fd, uint8_t **room, take_fn take, void *state)
{
	int fd = bpf_iter_create(link_fd), n = 0, err = 0;
	size_t len = 0;
	uint8_t *buf;

	_Static_assert(SCAN_BUF_BYTES >
			       2 * (sizeof(struct strand_task_record) + STRAND_STACK_BYTES),
		       "a record and its stack fit the buffer");
	if (fd < 0)
		return -errno;
	if (!*room)
		*room = xcalloc(1, SCAN_BUF_BYTES);
	buf = *room;
	for (;;) {
		ssize_t got = read(fd, buf + len, SCAN_BUF_BYTES - len), used;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		len += (size_t)got;
		used = take(buf, len, state, &n);
		if (used < 0) {
			err = (int)used;
			break;
		}
		memmove(buf, buf + used, len - (size_t)used);
		len -= (size_t)used;
		if (got == 0) { /* the end: nothing may be left half read */
			err = len ? -EBADMSG : 0;
			break;
		}
	}
	close(fd);
	return err ? err : n;
}

int task_iter__records(int link_fd, uint8_t **buf, task_record_fn fn, void *ctx)
{
	struct record_reader r = {fn, ctx};

	return run_iter(link_fd, buf, take_records, &r);
}

struct brief_reader {
	task_brief_fn fn;
	void *ctx;
};

static ssize_t take_briefs(const uint8_t *buf, size_t len, void *state, int *n)
{
	struct brief_reader *r = state;
	size_t off = 0;

	for (; len - off >= sizeof(struct strand_task_brief);
	     off += sizeof(struct strand_task_brief)) {
		struct strand_task_brief b;

		memcpy(&b, buf + off, sizeof(b));
		if (b.magic != STRAND_BRIEF_MAGIC)
			return -EBADMSG;
		b.comm[sizeof(b.comm) - 1] = '\0';
		b.leader_comm[sizeof(b.leader_comm) - 1] = '\0';
		r->fn(r->ctx, &b);
		(*n)++;
	}
	return (ssize_t)off;
}

int task_iter__briefs(int link_fd, uint8_t **buf, task_brief_fn fn, void *ctx)
{
	struct brief_reader r = {fn, ctx};

	return run_iter(link_fd, buf, take_briefs, &r);
}
