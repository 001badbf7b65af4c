/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What CPython's own headers say of each offset sym/python.h reads by (python_layout.c). */
#ifndef STRAND_TEST_PYTHON_LAYOUT_H
#define STRAND_TEST_PYTHON_LAYOUT_H

struct python_layout_check {
	const char *what; /* the macro of sym/python.h */
	long long ours, theirs;
};

/* The checks into out, at most max: how many; -1 when CPython 3.11's headers were not there
 * to compile against. */
int python_layout_checks(struct python_layout_check *out, int max);

#endif /* STRAND_TEST_PYTHON_LAYOUT_H */
