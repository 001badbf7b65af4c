// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The goroutine state table the probes share with user space (go_slots): tags, buckets, and
 * user space's reads and clean-up, on a table filled the way the probes fill it. */
#include "unit.h"

#include <stdlib.h>

#include "probes/goslots.h"

/* What the probes' go_claim does: the first free way of the tag's bucket. */
static bool claim(struct go_slots *s, pid_t pid, uint64_t goid, uint64_t park_ns)
{
	uint64_t tag = strand_go_tag((uint32_t)pid, goid);
	struct strand_go_bucket *b = &s->buckets[strand_go_bucket_of(tag, s->mask)];

	for (int w = 0; w < STRAND_GO_WAYS; w++)
		if (!b->ways[w].tag) {
			b->ways[w] = (struct strand_go_state){.tag = tag, .park_ns = park_ns};
			return true;
		}
	return false;
}

static void test_tags_and_buckets(void)
{
	uint64_t a = strand_go_tag(1234, 7), b = strand_go_tag(1234, 8);

	ASSERT_TRUE(a != 0 && a != b);
	ASSERT_TRUE(strand_go_tag(1234, 7) != strand_go_tag(1235, 7));
	/* a burst of spawns walks the table, not all over it */
	ASSERT_EQ(strand_go_bucket_of(b, 1023), (strand_go_bucket_of(a, 1023) + 1) & 1023);
	/* processes start at different places */
	ASSERT_TRUE(strand_go_bucket_of(strand_go_tag(100, 1), 65535) !=
		    strand_go_bucket_of(strand_go_tag(101, 1), 65535));
	ASSERT_EQ(go_slots__buckets_for(0), 65536);
	ASSERT_EQ(go_slots__buckets_for(1), 1);
	ASSERT_EQ(go_slots__buckets_for(1000), 256);
	ASSERT_EQ(go_slots__buckets_for(1025), 512);
}

static void test_find_clear_used(void)
{
	struct go_slots s = {.mask = 63};
	struct strand_go_state st;
	int stored = 0;

	s.buckets = calloc(s.mask + 1, sizeof(*s.buckets));
	for (uint64_t g = 1; g <= 100; g++)
		stored += claim(&s, 500, g, g * 10);
	for (uint64_t g = 1; g <= 100; g++)
		stored += claim(&s, 501, g, g * 100);
	ASSERT_EQ(stored, 200);
	ASSERT_EQ(go_slots__used(&s), 200);
	ASSERT_TRUE(go_slots__find(&s, 500, 42, &st) && st.park_ns == 420);
	ASSERT_TRUE(go_slots__find(&s, 501, 42, &st) && st.park_ns == 4200);
	ASSERT_TRUE(!go_slots__find(&s, 500, 101, &st));
	ASSERT_TRUE(!go_slots__find(&s, 502, 42, &st));
	ASSERT_TRUE(!go_slots__find(&s, 500, 0, &st));
	/* a full bucket refuses: 64 buckets x 4 ways hold 256, the 4 ids that share one a 5th */
	for (uint64_t g = 1000; g < 1000 + 5 * 64; g += 64)
		stored += claim(&s, 700, g, 1);
	ASSERT_EQ(stored, 200 + 2); /* two ways of that bucket were already taken */
	go_slots__clear_pid(&s, 500);
	ASSERT_EQ(go_slots__used(&s), 102);
	ASSERT_TRUE(!go_slots__find(&s, 500, 42, &st));
	ASSERT_TRUE(go_slots__find(&s, 501, 42, &st));
	free(s.buckets);
	s.buckets = NULL;
	ASSERT_TRUE(!go_slots__find(&s, 501, 42, &st));
	ASSERT_EQ(go_slots__used(&s), 0);
}

int main(void)
{
	test_tags_and_buckets();
	test_find_clear_used();
	return unit_summary();
}
