// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protobuf encoder and gzip stream behind the pprof output: see pprof_pb.h. */
#include "report/fmt/pprof_pb.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pb_buf__free(struct pb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Room for n more bytes; doubling keeps appends amortized O(1). */
static uint8_t *pb_buf__room(struct pb_buf *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap - b->len < n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

static void pb_buf__append(struct pb_buf *b, const void *data, size_t n)
{
	if (!n)
		return;
	memcpy(pb_buf__room(b, n), data, n);
	b->len += n;
}

size_t pb__varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void pb__varint(struct pb_buf *b, uint64_t v)
{
	uint8_t *p = pb_buf__room(b, 10), *start = p;

	/* Seven bits a byte, low first; the high bit says another byte follows. */
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len += (size_t)(p - start);
}

void pb__key(struct pb_buf *b, uint32_t field, enum pb_wire wire)
{
	pb__varint(b, (uint64_t)field << 3 | wire);
}

void pb__uint(struct pb_buf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb__key(b, field, PB_VARINT);
	pb__varint(b, v);
}

void pb__int(struct pb_buf *b, uint32_t field, int64_t v)
{
	pb__uint(b, field, (uint64_t)v);
}

void pb__bool(struct pb_buf *b, uint32_t field, bool v)
{
	pb__uint(b, field, v ? 1 : 0);
}

void pb__bytes(struct pb_buf *b, uint32_t field, const void *data, size_t n)
{
	pb__key(b, field, PB_LEN);
	pb__varint(b, n);
	pb_buf__append(b, data, n);
}

void pb__string(struct pb_buf *b, uint32_t field, const char *s)
{
	pb__bytes(b, field, s, s ? strlen(s) : 0);
}

void pb__message(struct pb_buf *b, uint32_t field, const struct pb_buf *m)
{
	pb__bytes(b, field, m->data, m->len);
}

void pb__packed(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n)
{
	size_t size = 0;

	if (!n)
		return;
	/* The length comes first, so it is added up before any element is written. */
	for (size_t i = 0; i < n; i++)
		size += pb__varint_size(v[i]);
	pb__key(b, field, PB_LEN);
	pb__varint(b, size);
	for (size_t i = 0; i < n; i++)
		pb__varint(b, v[i]);
}

int pb_gzip__open(struct pb_gzip *g, FILE *f)
{
	memset(g, 0, sizeof(*g));
	g->f = f;
	/* 15 + 16: the largest window, and a gzip header and trailer rather than zlib's. */
	if (deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	g->open = true;
	return 0;
}

/* Runs deflate over what is in z's input until it is all taken (or, finishing, the end). */
static void pb_gzip__run(struct pb_gzip *g, int flush)
{
	uint8_t out[16384];
	int rc;

	do {
		g->z.next_out = out;
		g->z.avail_out = sizeof(out);
		rc = deflate(&g->z, flush);
		if (rc == Z_STREAM_ERROR) {
			g->err = g->err ? g->err : -EINVAL;
			return;
		}
		size_t n = sizeof(out) - g->z.avail_out;

		errno = 0;
		if (n && !g->err && fwrite(out, 1, n, g->f) != n)
			g->err = errno ? -errno : -EIO;
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
}

void pb_gzip__write(struct pb_gzip *g, struct pb_buf *b)
{
	size_t off = 0;

	/* avail_in is 32 bits wide: feed a very large buffer in pieces. */
	while (g->open && off < b->len) {
		size_t n = b->len - off;

		if (n > 1u << 30)
			n = 1u << 30;
		g->z.next_in = b->data + off;
		g->z.avail_in = (uInt)n;
		pb_gzip__run(g, Z_NO_FLUSH);
		off += n;
	}
	pb_buf__reset(b);
}

int pb_gzip__close(struct pb_gzip *g)
{
	if (!g->open)
		return g->err ? g->err : -EINVAL;
	g->z.next_in = NULL;
	g->z.avail_in = 0;
	pb_gzip__run(g, Z_FINISH);
	deflateEnd(&g->z);
	g->open = false;
	errno = 0;
	if (!g->err && fflush(g->f))
		g->err = errno ? -errno : -EIO;
	if (!g->err && ferror(g->f))
		g->err = -EIO;
	return g->err;
}
