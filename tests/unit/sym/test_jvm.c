// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HotSpot's compressed line number tables read as Method::line_number_from_bci reads them,
 * and a compiled method's scopes as ScopeDesc decodes them, from memory strand does not
 * trust: cut short, an escape at the end, no terminator, chains that do not go back. */
#include <stdlib.h>
#include <string.h>

#include "sym/jvm.h"
#include "unit.h"

/* (bci 0, line 10) escaped, (+5, +1) in a byte, (+300, +2) escaped with a two-byte number
 * (600, UNSIGNED5: 216 6), then the end */
static const uint8_t table[] = {0xFF, 0, 20, 5 << 3 | 1, 0xFF, 216, 6, 4, 0};

/* a copy of exactly n bytes, so that ASan sees a read past them */
static int line_in_copy(size_t n, int bci)
{
	uint8_t *t = malloc(n ? n : 1);
	int line;

	memcpy(t, table, n);
	line = jvm__line_of(t, n, bci);
	free(t);
	return line;
}

static void test_line_table(void)
{
	ASSERT_EQ(line_in_copy(sizeof(table), 0), 10);
	ASSERT_EQ(line_in_copy(sizeof(table), 3), 10); /* between two: the one before */
	ASSERT_EQ(line_in_copy(sizeof(table), 5), 11);
	ASSERT_EQ(line_in_copy(sizeof(table), 100), 11);
	ASSERT_EQ(line_in_copy(sizeof(table), 305), 13);
	ASSERT_EQ(line_in_copy(sizeof(table), 400), 13);
	/* cut anywhere: what was read counts, nothing past the end is */
	for (size_t n = 0; n < sizeof(table); n++)
		ASSERT_TRUE(line_in_copy(n, 305) >= 0);
	ASSERT_EQ(line_in_copy(5, 100), 11); /* the escape's numbers cut off */
	ASSERT_EQ(line_in_copy(6, 400), 11); /* a two-byte number cut in half */
	ASSERT_EQ(line_in_copy(0, 0), 0);
}

/* Scopes data: at 1 the compiled method itself (no sender, metadata 1, bci 5), at 4 a method
 * inlined into it (sender 1, metadata 2, bci 300: UNSIGNED5 of 301 is 237 1), at 8 one
 * inlined into that (sender 4, metadata 3, bci -1: stored 0), each scope's offsets and
 * more after its three numbers (left out: decode_body reads them later) */
static const uint8_t scopes[] = {0, 0, 1, 6, 1, 2, 237, 1, 4, 3, 0};

static int scopes_in_copy(size_t n, int32_t off, struct jvm_scope *out, int max)
{
	uint8_t *t = malloc(n ? n : 1);
	int k;

	memcpy(t, scopes, n);
	k = jvm__scopes(t, n, off, out, max);
	free(t);
	return k;
}

static void test_scopes(void)
{
	struct jvm_scope s[JVM_MAX_SCOPES];
	uint8_t loop[] = {0, 1, 1, 1, 0}; /* at 1: its own sender */

	ASSERT_EQ(scopes_in_copy(sizeof(scopes), 8, s, JVM_MAX_SCOPES), 3);
	ASSERT_EQ(s[0].method_index, 3u);
	ASSERT_EQ(s[0].bci, -1);
	ASSERT_EQ(s[1].method_index, 2u);
	ASSERT_EQ(s[1].bci, 300);
	ASSERT_EQ(s[2].method_index, 1u);
	ASSERT_EQ(s[2].bci, 5);
	ASSERT_EQ(scopes_in_copy(sizeof(scopes), 4, s, JVM_MAX_SCOPES), 2);
	ASSERT_EQ(scopes_in_copy(sizeof(scopes), 8, s, 1), 1);		    /* as many as asked */
	ASSERT_EQ(scopes_in_copy(sizeof(scopes), 0, s, JVM_MAX_SCOPES), 0); /* no scope */
	ASSERT_EQ(scopes_in_copy(sizeof(scopes), -5, s, JVM_MAX_SCOPES), 0);
	ASSERT_EQ(scopes_in_copy(sizeof(scopes), 99, s, JVM_MAX_SCOPES), 0); /* past the end */
	/* cut anywhere: whole scopes count, nothing past the end is read */
	for (size_t n = 0; n <= sizeof(scopes); n++)
		ASSERT_TRUE(scopes_in_copy(n, 8, s, JVM_MAX_SCOPES) <= 3);
	ASSERT_EQ(scopes_in_copy(7, 4, s, JVM_MAX_SCOPES), 0); /* bci's number cut in half */
	ASSERT_EQ(jvm__scopes(loop, sizeof(loop), 1, s, JVM_MAX_SCOPES), 1);
}

int main(void)
{
	test_line_table();
	test_scopes();
	return unit_summary();
}
