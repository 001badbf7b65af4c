// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: a compiled Java method's scopes (HotSpot's compressed debug information), as
 * strand reads them from a JVM's memory to name a compiled frame's inlined methods
 * (sym/jvm_code.c): the input's first four bytes are the offset of the scope asked for, the
 * rest the scopes data. Whatever it says, the chain is bounded, every method index is one
 * of the metadata's and every bytecode index one of a method's, and nothing past the data
 * is read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/jvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jvm_scope scopes[JVM_MAX_SCOPES];
	uint8_t *copy;
	int32_t off;
	int n;

	if (size < 4)
		return 0;
	memcpy(&off, data, sizeof(off));
	copy = malloc(size - 4 ? size - 4 : 1);
	memcpy(copy, data + 4, size - 4);
	n = jvm__scopes(copy, size - 4, off, scopes, JVM_MAX_SCOPES);
	if (n < 0 || n > JVM_MAX_SCOPES)
		abort();
	for (int i = 0; i < n; i++)
		if (!scopes[i].method_index || scopes[i].method_index > JVM_SCOPE_INDEX_MAX ||
		    scopes[i].bci < -1 || scopes[i].bci > 65534)
			abort();
	free(copy);
	return 0;
}
