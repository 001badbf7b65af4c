// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/taskiter.h"
#include "lib/util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
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

/* The record at buf + off, copied to rec (a stack's length may unalign the next): 1 when it
 * and its stack are whole in buf's first len bytes, 0 when they come with the next read,
 * -EBADMSG when it does not hold together. Records are checked, not trusted. */
static int next_record(const uint8_t *buf, size_t len, size_t off, struct strand_task_record *rec)
{
	if (len - off < sizeof(*rec))
		return 0;
	memcpy(rec, buf + off, sizeof(*rec));
	if (rec->magic != STRAND_RECORD_MAGIC || rec->stack_len > STRAND_STACK_BYTES)
		return -EBADMSG;
	return len - off - sizeof(*rec) >= rec->stack_len;
}

/* Takes the complete records among buf's first len bytes; returns how many bytes they
 * took, or -EBADMSG. */
static ssize_t take_records(const uint8_t *buf, size_t len, void *state, int *n)
{
	struct record_reader *r = state;
	struct strand_task_record rec;
	size_t off = 0;
	int got;

	while ((got = next_record(buf, len, off, &rec)) > 0) {
		off += sizeof(rec);
		r->fn(r->ctx, &rec, rec.stack_len ? buf + off : NULL);
		off += rec.stack_len;
		(*n)++;
	}
	return got < 0 ? got : (ssize_t)off;
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

/* ---- two halves read side by side ------------------------------------------------------ */

#define HANDOVER_CHUNKS 4 /* whole records read ahead by the second half's reader */

/* The second half's output, read on a thread of its own and handed over in chunks of whole
 * records: records are only ever taken (fn) on the caller's thread. */
struct handover {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	uint8_t *chunk[HANDOVER_CHUNKS];
	size_t len[HANDOVER_CHUNKS];
	size_t first, count; /* a ring */
	bool done, stop;     /* stop: the caller gave up, the reader leaves */
	int err;
	int link_fd;
};

/* The bytes of buf's first len that hold whole records; -EBADMSG for one that does not. */
static ssize_t whole_records(const uint8_t *buf, size_t len)
{
	struct strand_task_record rec;
	size_t off = 0;
	int got;

	while ((got = next_record(buf, len, off, &rec)) > 0)
		off += sizeof(rec) + rec.stack_len;
	return got < 0 ? got : (ssize_t)off;
}

static int hand_over(struct handover *h, const uint8_t *buf, size_t len)
{
	uint8_t *chunk = xmalloc(len);

	memcpy(chunk, buf, len);
	pthread_mutex_lock(&h->lock);
	while (h->count == HANDOVER_CHUNKS && !h->stop)
		pthread_cond_wait(&h->changed, &h->lock);
	if (h->stop) {
		pthread_mutex_unlock(&h->lock);
		free(chunk);
		return -ECANCELED;
	}
	h->chunk[(h->first + h->count) % HANDOVER_CHUNKS] = chunk;
	h->len[(h->first + h->count) % HANDOVER_CHUNKS] = len;
	h->count++;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* The second half's take: its whole records handed over as they come. */
static ssize_t hand_over_records(const uint8_t *buf, size_t len, void *state, int *n)
{
	ssize_t whole = whole_records(buf, len);

	(void)n; /* the records are counted where they are taken */
	if (whole <= 0)
		return whole;
	return hand_over(state, buf, (size_t)whole) ? -ECANCELED : whole;
}

static void *read_half(void *arg)
{
	struct handover *h = arg;
	uint8_t *buf = NULL;
	int err = run_iter(h->link_fd, &buf, hand_over_records, h);

	free(buf);
	pthread_mutex_lock(&h->lock);
	h->err = err < 0 ? err : 0;
	h->done = true;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Takes the chunks handed over so far; with wait, until the reader is done. */
static int take_handed(struct handover *h, bool wait, struct record_reader *r, int *n)
{
	int err = 0;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->count && !err) {
			uint8_t *chunk = h->chunk[h->first];
			size_t len = h->len[h->first];

			h->first = (h->first + 1) % HANDOVER_CHUNKS;
			h->count--;
			pthread_cond_broadcast(&h->changed);
			pthread_mutex_unlock(&h->lock);
			/* whole records, checked by the reader */
			if (take_records(chunk, len, r, n) != (ssize_t)len)
				err = -EBADMSG;
			free(chunk);
			pthread_mutex_lock(&h->lock);
		}
		if (err || !wait || h->done)
			break;
		pthread_cond_wait(&h->changed, &h->lock);
	}
	if (!err && h->done && !h->count)
		err = h->err;
	pthread_mutex_unlock(&h->lock);
	return err;
}

/* The first half's take: its records, then whatever the second's reader handed over. */
struct both_halves {
	struct record_reader r;
	struct handover *h;
};

static ssize_t take_both(const uint8_t *buf, size_t len, void *state, int *n)
{
	struct both_halves *b = state;
	ssize_t used = take_records(buf, len, &b->r, n);
	int err = used < 0 ? 0 : take_handed(b->h, false, &b->r, n);

	return err ? err : used;
}

int task_iter__records_halves(const int link_fds[2], uint8_t **buf, task_record_fn fn, void *ctx)
{
	struct handover h = {.lock = PTHREAD_MUTEX_INITIALIZER,
			     .changed = PTHREAD_COND_INITIALIZER,
			     .link_fd = link_fds[1]};
	struct both_halves both = {{fn, ctx}, &h};
	pthread_t reader;
	int n, handed;

	if (pthread_create(&reader, NULL, read_half, &h)) { /* one after the other, then */
		n = task_iter__records(link_fds[0], buf, fn, ctx);
		handed = n < 0 ? 0 : task_iter__records(link_fds[1], buf, fn, ctx);
		return n < 0 ? n : handed < 0 ? handed : n + handed;
	}
	n = run_iter(link_fds[0], buf, take_both, &both);
	/* the other half to its end, unless this one failed; then its reader is let go */
	handed = n < 0 ? 0 : take_handed(&h, true, &both.r, &n);
	pthread_mutex_lock(&h.lock);
	h.stop = true;
	pthread_cond_broadcast(&h.changed);
	pthread_mutex_unlock(&h.lock);
	pthread_join(reader, NULL);
	for (; h.count; h.count--, h.first = (h.first + 1) % HANDOVER_CHUNKS)
		free(h.chunk[h.first]);
	return n < 0 ? n : handed < 0 ? handed : n;
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
