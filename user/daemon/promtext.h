/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Prometheus text exposition: label values, whose bytes come from the traced system. */
#ifndef STRAND_PROMTEXT_H
#define STRAND_PROMTEXT_H

#include <stdio.h>

/* A label value: at most max bytes (never cutting a UTF-8 sequence), \ " and newline
 * escaped, a byte that is not UTF-8 U+FFFD (the exposition must be UTF-8). */
void prom__label(FILE *f, const char *value, int max);

#endif /* STRAND_PROMTEXT_H */
