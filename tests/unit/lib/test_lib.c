// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of strand's own library: durations, the JSON writer, the hash map, the key index,
 * evidence rows, the prefault reserve. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/hashmap.h"
#include "lib/json_writer.h"
#include "lib/keyindex.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "unit.h"

static void test_durations(void)
{
	ASSERT_EQ(duration__parse("500ms"), 500000000LL);
	ASSERT_EQ(duration__parse("30s"), 30000000000LL);
	ASSERT_EQ(duration__parse("5m"), 300000000000LL);
	ASSERT_EQ(duration__parse("1h"), 3600000000000LL);
	ASSERT_EQ(duration__parse("2.5s"), 2500000000LL);
	ASSERT_EQ(duration__parse("7"), 7000000000LL);
	ASSERT_EQ(duration__parse("10x"), -1);
	ASSERT_EQ(duration__parse("-3s"), -1);
	ASSERT_EQ(duration__parse(""), -1);
	ASSERT_EQ(duration__parse("s"), -1);
	ASSERT_EQ(duration__parse("1e30h"), -1);

	uint32_t v;

	ASSERT_TRUE(parse_u32("42", &v) && v == 42);
	ASSERT_TRUE(!parse_u32("42x", &v));
	ASSERT_TRUE(!parse_u32("-1", &v));
	ASSERT_TRUE(!parse_u32("99999999999", &v));
	ASSERT_TRUE(!parse_u32("", &v));

	double pct;

	ASSERT_TRUE(parse_percent("1", &pct) && pct == 1.0);
	ASSERT_TRUE(parse_percent("0.5%", &pct) && pct == 0.5);
	ASSERT_TRUE(parse_percent("100", &pct) && pct == 100.0);
	ASSERT_TRUE(!parse_percent("0", &pct));
	ASSERT_TRUE(!parse_percent("101", &pct));
	ASSERT_TRUE(!parse_percent("1%%", &pct));
	ASSERT_TRUE(!parse_percent("nan", &pct));
	ASSERT_TRUE(!parse_percent("", &pct));
}

static void test_json_escaping(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json__init(&j, f);
	json__begin_object(&j, NULL);
	json__string(&j, "s", "a\"b\\c\n\x01");
	json__string(&j, "null", NULL);
	json__begin_array(&j, "empty");
	json__end_array(&j);
	json__begin_array(&j, "list");
	json__int(&j, NULL, -3);
	json__double(&j, NULL, 1.5);
	json__end_array(&j);
	json__end_object(&j);
	fclose(f);
	ASSERT_STREQ(buf, "{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"null\": null,\n"
			  "  \"empty\": [],\n  \"list\": [\n    -3,\n    1.500\n  ]\n}\n");
	free(buf);
}

static void test_hashmap(void)
{
	struct hashmap m;
	uint64_t key, sum = 0;
	void *val;
	size_t n = 0;

	hashmap__init(&m);
	for (uint64_t i = 1; i <= 10000; i++)
		hashmap__set(&m, i, (void *)(uintptr_t)(i * 2));
	for (uint64_t i = 1; i <= 10000; i += 2)
		ASSERT_EQ((uintptr_t)hashmap__del(&m, i), i * 2);
	ASSERT_EQ(m.len, 5000);
	ASSERT_TRUE(hashmap__get(&m, 3) == NULL);
	ASSERT_EQ((uintptr_t)hashmap__get(&m, 4), 8);
	/* churn through tombstones: the table must not fill up with them */
	for (uint64_t round = 0; round < 20; round++) {
		for (uint64_t i = 0; i < 1000; i++)
			hashmap__set(&m, 1000000 + round * 1000 + i, (void *)1);
		for (uint64_t i = 0; i < 1000; i++)
			hashmap__del(&m, 1000000 + round * 1000 + i);
	}
	ASSERT_EQ(m.len, 5000);
	for (size_t i = 0; hashmap__next(&m, &i, &key, &val);) {
		n++;
		sum += key;
	}
	ASSERT_EQ(n, 5000);
	ASSERT_EQ(sum, 5000ULL * 5001); /* 2 + 4 + ... + 10000 */
	hashmap__free(&m);
}

/* The sorted index: keys added in any order (a few past what one radix digit holds, one in
 * the top bits) are found with their values, absent ones are not; reuse empties it. */
static void test_key_index(void)
{
	struct key_index ix = {0};
	uint64_t keys[2000];
	uint32_t v = 0;
	int found = 0;

	key_index__reset(&ix, 10);
	for (int i = 0; i < 2000; i++) {
		keys[i] = (uint64_t)((i * 7919) % 2000) * 3 + 5;
		key_index__add(&ix, keys[i], (uint32_t)i);
	}
	keys[1999] = 1ULL << 62;
	ix.e[1999].key = keys[1999];
	key_index__sort(&ix);
	for (int i = 0; i < 2000; i++)
		found += key_index__get(&ix, keys[i], &v) && v == (uint32_t)i;
	ASSERT_EQ(found, 2000);
	ASSERT_TRUE(!key_index__get(&ix, 4, &v));
	ASSERT_TRUE(!key_index__get(&ix, 6008, &v));
	/* a million goroutines' ids come a bucket at a time, each batch in any order */
	key_index__reset(&ix, 0);
	for (uint32_t i = 0; i < 100000; i++)
		key_index__add(&ix, (uint64_t)i * 48271 % 2147483647 | (uint64_t)(i % 3) << 40, i);
	key_index__sort(&ix);
	found = 1;
	for (size_t i = 1; i < ix.n; i++)
		found &= ix.e[i - 1].key < ix.e[i].key;
	ASSERT_TRUE(found && ix.n == 100000);
	key_index__reset(&ix, 3);
	key_index__add(&ix, 9, 1);
	key_index__sort(&ix);
	ASSERT_TRUE(!key_index__get(&ix, 5, &v));
	ASSERT_TRUE(key_index__get(&ix, 9, &v) && v == 1);
	key_index__free(&ix);
}

/* An index filled in two parts at once: the second in a view of its room, joined after to
 * follow the first's entries wherever the first stopped; every key found once sorted. */
static void test_key_index_view(void)
{
	struct key_index ix = {0}, view;
	uint32_t v = 0;
	int found = 0;

	key_index__reset(&ix, 100);
	for (uint32_t i = 0; i < 40; i++) /* fewer than the first part's room */
		key_index__add(&ix, 1000 - i, i);
	view = key_index__view(&ix, 50, 50);
	for (uint32_t i = 0; i < 30; i++)
		key_index__add(&view, 2000 + i, 100 + i);
	ASSERT_TRUE(view.e == ix.e + 50 && view.cap == 50);
	key_index__join(&ix, &view);
	ASSERT_EQ(ix.n, 70);
	key_index__sort(&ix);
	for (uint32_t i = 0; i < 40; i++)
		found += key_index__get(&ix, 1000 - i, &v) && v == i;
	for (uint32_t i = 0; i < 30; i++)
		found += key_index__get(&ix, 2000 + i, &v) && v == 100 + i;
	ASSERT_EQ(found, 70);
	ASSERT_TRUE(!key_index__get(&ix, 1500, &v));
	key_index__free(&ix);
}

/* Scans are spaced only when one costs more than 100 ms and one a second would cost more
 * than their budget of a CPU; a period asked for stays when they are cheap, however short. */
/* A verdict's evidence: a row each, cut to the row's width, nothing past the last row. */
static void test_evidence_rows(void)
{
	char rows[2][8];
	int n = 0;

	EVIDENCE_ADD(rows, n, "%d threads", 12);
	EVIDENCE_ADD(rows, n, "%s", "longer than a row");
	EVIDENCE_ADD(rows, n, "%s", "one too many");
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(rows[0], "12 thre");
	ASSERT_STREQ(rows[1], "longer ");
}

struct reserving {
	size_t len;
};

static void *reserve_on_thread(void *arg)
{
	prefault__reserve(((struct reserving *)arg)->len);
	return NULL;
}

/* Pages of [p, p + len) in memory now. */
static size_t resident_pages(void *p, size_t len)
{
	unsigned char vec[BIG_PAGE / 4096 * 8];
	size_t n = 0, pages = len / 4096;

	if (pages > sizeof(vec) || mincore(p, len, vec))
		return 0;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

/* The first scan's reserve: faulted in ahead by its own thread, carved in order, zeroed,
 * trimmed and released; one a process. */
static void test_prefault_reserve(void)
{
	struct reserving r = {6 * BIG_PAGE + 100};
	pthread_t thread;
	uint8_t *a, *b, *c, *d;
	bool zero = true;

	if (cpus_usable() < 2) { /* nothing is reserved then */
		prefault__reserve(r.len);
		ASSERT_TRUE(prefault__carve(BIG_PAGE) == NULL);
		return;
	}
	ASSERT_TRUE(prefault__carve(BIG_PAGE) == NULL); /* none made yet */
	ASSERT_EQ(pthread_create(&thread, NULL, reserve_on_thread, &r), 0);
	pthread_join(thread, NULL); /* it returns once all of it is faulted in */
	ASSERT_TRUE(prefault__carve(BIG_PAGE + 4096) == NULL); /* whole huge pages only */
	a = prefault__carve(BIG_PAGE);
	b = map_zeroed(2 * BIG_PAGE, true); /* the big tables' allocator carves too */
	ASSERT_TRUE(a != NULL);
	ASSERT_EQ((uintptr_t)a % BIG_PAGE, 0);
	ASSERT_TRUE(b == a + BIG_PAGE);
	ASSERT_EQ(resident_pages(a, BIG_PAGE), BIG_PAGE / 4096); /* faulted in ahead */
	for (size_t i = 0; i < 3 * BIG_PAGE; i++)
		zero &= a[i] == 0;
	ASSERT_TRUE(zero);
	memset(a, 0xab, 3 * BIG_PAGE);
	ASSERT_TRUE(prefault__carve(4 * BIG_PAGE) == NULL); /* 3 left */
	prefault__trim(BIG_PAGE);			    /* 1 kept, 2 let go */
	ASSERT_TRUE(prefault__carve(2 * BIG_PAGE) == NULL);
	c = prefault__carve(BIG_PAGE);
	ASSERT_TRUE(c == a + 3 * BIG_PAGE);
	c[BIG_PAGE - 1] = 1;
	unmap_zeroed(b, 2 * BIG_PAGE); /* a carved piece is unmapped as any other */
	prefault__release();
	ASSERT_TRUE(prefault__carve(BIG_PAGE) == NULL);
	/* one a process: a second is refused */
	ASSERT_EQ(pthread_create(&thread, NULL, reserve_on_thread, &r), 0);
	pthread_join(thread, NULL);
	ASSERT_TRUE(prefault__carve(BIG_PAGE) == NULL);
	d = map_zeroed(BIG_PAGE, true);
	ASSERT_TRUE(d != NULL && d[0] == 0);
	ASSERT_EQ(a[0], 0xab);
	unmap_zeroed(d, BIG_PAGE);
	unmap_zeroed(a, BIG_PAGE);
	unmap_zeroed(c, BIG_PAGE);
}

int main(void)
{
	test_durations();
	test_json_escaping();
	test_hashmap();
	test_key_index();
	test_key_index_view();
	test_evidence_rows();
	test_prefault_reserve();
	return unit_summary();
}
