// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a HotSpot method's compressed line number table, as strand reads it from a
 * JVM's memory (sym/jvm.c): the input's first two bytes are the bytecode index asked
 * for, the rest the table. Whatever it says, a line is never negative and nothing past the
 * table is read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/jvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *table;
	uint16_t bci;

	if (size < 2)
		return 0;
	memcpy(&bci, data, sizeof(bci));
	table = malloc(size - 2 ? size - 2 : 1);
	memcpy(table, data + 2, size - 2);
	if (jvm__line_of(table, size - 2, bci) < 0)
		abort();
	free(table);
	return 0;
}
