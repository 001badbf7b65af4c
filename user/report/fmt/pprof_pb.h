/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small protobuf encoder (varints, length-delimited fields, packed repeated fields) and a
 * gzip stream, for pprof's profile.proto. Messages are encoded into growable buffers, so the
 * length that precedes a nested message is always known before it is written: there is no
 * recursion and no second pass over a message.
 */
#ifndef STRAND_PPROF_PB_H
#define STRAND_PPROF_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <zlib.h>

/* The wire types profile.proto needs (64- and 32-bit fixed ones it has none of). */
enum pb_wire {
	PB_VARINT = 0,
	PB_LEN = 2,
};

struct pb_buf {
	uint8_t *data;
	size_t len, cap;
};

void pb_buf__free(struct pb_buf *b);
static inline void pb_buf__reset(struct pb_buf *b)
{
	b->len = 0;
}

size_t pb__varint_size(uint64_t v);
void pb__varint(struct pb_buf *b, uint64_t v);
void pb__key(struct pb_buf *b, uint32_t field, enum pb_wire wire);

/*
 * Scalar fields. proto3 leaves out a field at its default (0, false), and readers take a
 * missing field as its default, so these write nothing for 0. int64 is the varint of its
 * two's complement, as protobuf encodes it (ten bytes for a negative number).
 */
void pb__uint(struct pb_buf *b, uint32_t field, uint64_t v);
void pb__int(struct pb_buf *b, uint32_t field, int64_t v);
void pb__bool(struct pb_buf *b, uint32_t field, bool v);

/* Length-delimited: always written, even empty (string_table[0] is ""). */
void pb__bytes(struct pb_buf *b, uint32_t field, const void *data, size_t n);
void pb__string(struct pb_buf *b, uint32_t field, const char *s);
/* A nested message already encoded in m. */
void pb__message(struct pb_buf *b, uint32_t field, const struct pb_buf *m);
/* A packed repeated varint field (uint64, or int64 cast); nothing when n is 0. */
void pb__packed(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n);

/* gzip (RFC 1952: what pprof and speedscope expect) of a byte stream, written to a FILE. */
struct pb_gzip {
	z_stream z;
	FILE *f;
	int err; /* 0, or the first negative errno */
	bool open;
};

int pb_gzip__open(struct pb_gzip *g, FILE *f);
/* Compresses b's bytes and empties b. */
void pb_gzip__write(struct pb_gzip *g, struct pb_buf *b);
/* Ends the stream (the trailer with CRC and size) and frees zlib's state: 0 or -errno. */
int pb_gzip__close(struct pb_gzip *g);

#endif /* STRAND_PPROF_PB_H */
