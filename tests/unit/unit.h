/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A minimal assertion kit for strand's unit tests: failures print file:line and carry on. */
#ifndef STRAND_UNIT_H
#define STRAND_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define UNIT_CHECK(cond, fmt, ...)                                                                 \
	({                                                                                         \
		int unit_ok_ = !!(cond);                                                           \
		if (unit_ok_) {                                                                    \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			fprintf(stderr, "%s:%d: FAIL: " fmt "\n", __FILE__, __LINE__,              \
				##__VA_ARGS__);                                                    \
		}                                                                                  \
		unit_ok_;                                                                          \
	})

#define ASSERT_TRUE(cond) UNIT_CHECK(cond, "%s", #cond)

#define ASSERT_EQ(a, b)                                                                            \
	({                                                                                         \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                      \
		UNIT_CHECK(unit_a_ == unit_b_, "%s == %s (%lld vs %lld, 0x%llx vs 0x%llx)", #a,    \
			   #b, unit_a_, unit_b_, unit_a_, unit_b_);                                \
	})

#define ASSERT_STREQ(a, b)                                                                         \
	({                                                                                         \
		const char *unit_a_ = (a), *unit_b_ = (b);                                         \
		UNIT_CHECK(unit_a_ &&unit_b_ && !strcmp(unit_a_, unit_b_),                         \
			   "%s == %s (\"%s\" vs \"%s\")", #a, #b, unit_a_ ? unit_a_ : "(null)",    \
			   unit_b_ ? unit_b_ : "(null)");                                          \
	})

/* Ends main: prints the tally, non-zero exit status when anything failed. */
static inline int unit_summary(void)
{
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif /* STRAND_UNIT_H */
