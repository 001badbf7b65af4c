// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/demangle.h"

#include <stdlib.h>
#include <string.h>

/* libstdc++'s (the Itanium C++ ABI's, which GCC and clang mangle by): declared here, as
 * <cxxabi.h> is C++ only. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *demangle(const char *name)
{
	int status = 0;
	char *plain;

	/* the ABI's names start with _Z; a plain C name such as "_Zen" fails to demangle */
	if (!name || strncmp(name, "_Z", 2))
		return NULL;
	plain = __cxa_demangle(name, NULL, NULL, &status);
	if (status) {
		free(plain);
		return NULL;
	}
	return plain;
}
