// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/promtext.h"
#include "lib/util.h"

#include <stdbool.h>

void prom__label(FILE *f, const char *value, int max)
{
	int n = 0;

	for (const unsigned char *p = (const unsigned char *)value; *p;) {
		int len = *p < 0x80 ? 1 : utf8_seq_len(p);
		bool bad = !len; /* not UTF-8 (the exposition must be): U+FFFD for the byte */

		if (n + (bad ? 3 : len) > max)
			break;
		n += bad ? 3 : len;
		if (bad)
			fputs("\xef\xbf\xbd", f);
		else if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fwrite(p, 1, (size_t)len, f);
		p += bad ? 1 : len;
	}
}
