// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a CPython 3.11 code object's location table, as strand reads it from a
 * Python process's memory (sym/python.c): the input's first six bytes are the code unit
 * asked for (a signed 16-bit index) and the code object's first line (a signed 32-bit
 * number), the rest the table. Whatever it says, a line is never negative, a frame not begun
 * is at the first line, and nothing past the table is read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/python.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *table;
	int16_t index;
	int32_t first;
	int line;

	if (size < 6)
		return 0;
	memcpy(&index, data, sizeof(index));
	memcpy(&first, data + 2, sizeof(first));
	table = malloc(size - 6 ? size - 6 : 1);
	memcpy(table, data + 6, size - 6);
	line = python__line_of(table, size - 6, first, index);
	if (line < 0 || (index < 0 && line != (first > 0 ? first : 0)))
		abort();
	free(table);
	return 0;
}
