// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* HotSpot's compressed line number tables read as Method::line_number_from_bci reads them,
 * from memory strand does not trust: cut short, an escape at the end, no terminator. */
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

int main(void)
{
	test_line_table();
	return unit_summary();
}
