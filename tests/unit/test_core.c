// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the pieces with no kernel in them: durations, JSON, hash map, model, /proc,
 * what the guardian releases. */
#include <errno.h>
#include <pthread.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/guardian.h"
#include "lib/hashmap.h"
#include "lib/keyindex.h"
#include "probes/load_error.h"
#include "lib/json_writer.h"
#include "collect/model.h"
#include "report/report.h"
#include "report/report_doc.h"
#include "lib/prefault.h"
#include "sys/procfs.h"
#include "unit.h"
#include "lib/util.h"

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

static void test_model_accounting(void)
{
	struct model m;
	uint64_t path_a[] = {0x1000, 0x2000, 0x3000}, path_b[] = {0x1000, 0x2000, 0x4000};
	bool is_new;
	struct site *a, *b, *again;

	model__init(&m, 0);
	model__add_existing(&m, 100, 100, "main", 1);
	a = model__site_by_path(&m, 100, TASK_THREAD, 0x77, path_a, 3, &is_new);
	ASSERT_TRUE(is_new);
	b = model__site_by_path(&m, 100, TASK_THREAD, 0x77, path_b, 3, &is_new);
	ASSERT_TRUE(is_new && a != b);
	again = model__site_by_path(&m, 100, TASK_THREAD, 0x77, path_a, 3, &is_new);
	ASSERT_TRUE(!is_new && again == a);
	/* the same path in another process is another site */
	again = model__site_by_path(&m, 101, TASK_THREAD, 0x77, path_a, 3, &is_new);
	ASSERT_TRUE(is_new && again != a);

	for (int i = 0; i < 5; i++)
		model__spawn(&m, a, 100, 200 + i, 100, 10 + i);
	model__spawn(&m, a, 100, 300, 201, 20);
	model__spawn(&m, b, 100, 400, 100, 30);
	model__find_process(&m, 100)->listed_ns = 5;
	model__exit(&m, 100, 200, 40, 10);
	model__exit(&m, 100, 201, 41, 11);
	model__exit(&m, 100, 999, 42, 6); /* never seen, born after the listing began */
	model__exit(&m, 100, 998, 43, 0); /* never seen, born when? */
	/* alive when the listing began, gone before it was listed: nothing lost */
	model__exit(&m, 100, 997, 44, 4);
	ASSERT_EQ(a->spawned, 6);
	ASSERT_EQ(a->exited, 2);
	ASSERT_EQ(a->live, 4);
	ASSERT_EQ(a->peak_live, 6);
	ASSERT_EQ(a->parents, 2);
	ASSERT_EQ(a->max_children, 5);
	ASSERT_EQ(b->live, 1);
	ASSERT_EQ(m.drops.unknown_exits, 2);
	ASSERT_EQ(m.spawned, 7);
	ASSERT_EQ(m.exited, 3);
	ASSERT_EQ(m.before_attach, 2);
	ASSERT_TRUE(m.before_attach == 2 &&
		    model__find_process(&m, 100)->before_site->exited == 1 &&
		    model__find_process(&m, 100)->before_site->live == 1);
	ASSERT_EQ(m.tasks.len, 6); /* 1 before attach + 5 */

	size_t n;
	struct site **sorted = model__sorted_sites(&m, &n);

	ASSERT_EQ(n, 3); /* before-attach, a, b; the empty site of pid 101 is left out */
	ASSERT_TRUE(n == 3 && sorted[0] == a);
	free(sorted);
	model__free(&m);
}

static void test_model_task_limit(void)
{
	struct model m;
	uint64_t path[] = {1};
	bool is_new;
	struct site *s;

	model__init(&m, 3);
	s = model__site_by_path(&m, 1, TASK_THREAD, 0, path, 1, &is_new);
	for (int i = 0; i < 5; i++)
		model__spawn(&m, s, 1, 10 + i, 1, 1);
	ASSERT_EQ(m.tasks.len, 3);
	ASSERT_EQ(m.drops.task_limit, 2);
	ASSERT_EQ(s->spawned, 5); /* counts stay right past the limit */
	model__free(&m);
}

static void test_proc_stat(void)
{
	char name[16], state;
	uint64_t ticks;
	const char *line = "1234 (we(ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 "
			   "0 3 0 987654 1000000 100 18446744073709551615";

	ASSERT_EQ(procfs__parse_stat(line, name, sizeof(name), &state, &ticks), 0);
	ASSERT_STREQ(name, "we(ird) name");
	ASSERT_EQ(state, 'S');
	ASSERT_EQ(ticks, 987654);
	ASSERT_TRUE(procfs__parse_stat("1234 (x) S 1 2", name, sizeof(name), &state, &ticks) < 0);
	ASSERT_TRUE(procfs__parse_stat("garbage", name, sizeof(name), &state, &ticks) < 0);
	ASSERT_TRUE(procfs__parse_stat("1 (x)", name, sizeof(name), &state, &ticks) < 0);
}

/* Blocks read from a process: runs that follow each other in memory, or lie a small gap
 * apart (objects of one size class), are read as one range, and a block that cannot be read
 * (a page unmapped inside a range) is zeroes, the rest of its range read. */
static void test_read_blocks(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *mem =
		mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t addrs[11];
	uint8_t out[11 * 64];
	size_t good;

	if (!ASSERT_TRUE(mem != MAP_FAILED))
		return;
	for (long i = 0; i < 3 * page; i++)
		mem[i] = (uint8_t)(i / 64 + 1 + i % 7);
	/* three in a row ending where the hole starts, one inside the hole, two after it and
	 * one a gap past them, one far apart, one before them all */
	addrs[0] = (uintptr_t)mem + page - 3 * 64;
	addrs[1] = addrs[0] + 64;
	addrs[2] = addrs[1] + 64;
	addrs[3] = (uintptr_t)mem + page;
	addrs[4] = (uintptr_t)mem + 2 * page;
	addrs[5] = addrs[4] + 64;
	addrs[6] = addrs[5] + 64 + 100;
	addrs[7] = (uintptr_t)mem + 2 * page + 1024;
	addrs[8] = (uintptr_t)mem;
	/* a gap apart across the hole's start: the first read, the second zeroes */
	addrs[9] = (uintptr_t)mem + page - 64 - 150;
	addrs[10] = (uintptr_t)mem + page + 100;
	ASSERT_EQ(munmap(mem + page, page), 0);
	memset(out, 0xff, sizeof(out));
	good = procfs__read_blocks(getpid(), addrs, 11, 64, 256, out);
	ASSERT_EQ(good, 9);
	for (int b = 0; b < 11; b++) {
		bool hole = b == 3 || b == 10;
		int same = 1;

		for (int k = 0; k < 64; k++)
			same &= out[b * 64 + k] == (hole ? 0 : mem[addrs[b] - (uintptr_t)mem + k]);
		UNIT_CHECK(same, "block %d %s", b, hole ? "zeroed" : "read");
	}
	munmap(mem, page);
	munmap(mem + 2 * page, page);
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

static void test_scan_pacing(void)
{
	const uint64_t ms = 1000000;

	ASSERT_EQ(SCAN_BUDGET_PCT, 3);
	ASSERT_EQ(SCAN_PACED_NS, 100 * ms);
	ASSERT_EQ(engine__scan_gap(1000 * ms, 5 * ms), 1000 * ms);
	/* 3% of a CPU at one a second is 33 ms: a scan of 40 ms is cheap all the same */
	ASSERT_EQ(engine__scan_gap(250 * ms, 40 * ms), 250 * ms);
	ASSERT_EQ(engine__scan_gap(250 * ms, 100 * ms), 250 * ms);
	ASSERT_EQ(engine__scan_gap(250 * ms, 110 * ms), 3630 * ms);
	ASSERT_EQ(engine__scan_gap(1000 * ms, 800 * ms), 26400 * ms);
	ASSERT_EQ(engine__scan_gap(30000 * ms, 800 * ms), 30000 * ms);
}

/* Two report documents say the same, strand's own CPU and memory (read anew by each report)
 * left out. */
static bool same_reports(struct report_doc *a, struct report_doc *b)
{
	if (!a->root || !b->root)
		return false;
	for (int i = 0; i < 2; i++) {
		json_t *stats = json_object_get((i ? b : a)->root, "stats");

		json_object_del(stats, "cpu_seconds");
		json_object_del(stats, "max_rss_kib");
	}
	return json_equal(a->root, b->root);
}

/* The report document is built as a tree, not written and parsed back: it must be what its
 * JSON text parses to, strange bytes in names and rounding of doubles included. */
static void test_report_doc_is_its_text_parsed(void)
{
	struct model m;
	uint64_t path[] = {0x1000, 0x2000};
	struct report r = {0};
	struct report_doc text_doc = {0}, tree_doc = {0};
	char *buf = NULL, why[128];
	size_t len = 0;
	bool is_new;
	struct site *a;
	FILE *f;

	model__init(&m, 0);
	model__add_existing(&m, 100, 100, "bad\xff\xc3(\x01\"q\\", 1);
	a = model__site_by_path(&m, 100, TASK_THREAD, 0x77, path, 2, &is_new);
	for (int i = 0; i < 3; i++)
		model__spawn(&m, a, 100, 200 + i, 100, 10 + i);
	r.model = &m;
	r.now_ns = 5000000000ULL;
	r.duration_s = 1.0005;
	r.scan_gap_s = 2.0 / 3.0;
	report__warn(&r, "caf\xc3\xa9 \xe2\x82");
	f = open_memstream(&buf, &len);
	if (!ASSERT_TRUE(f != NULL))
		return;
	report__json(f, &r);
	fclose(f);
	ASSERT_EQ(report_doc__parse(&text_doc, buf, len, why, sizeof(why)), 0);
	ASSERT_EQ(report__doc(&r, &tree_doc), 0);
	ASSERT_TRUE(same_reports(&text_doc, &tree_doc));
	ASSERT_TRUE(text_doc.root && json_object_size(text_doc.root) > 5);
	report_doc__free(&text_doc);
	report_doc__free(&tree_doc);
	free(buf);
	model__free(&m);
}

/* A report of one process written on its own (the daemon's /report?pid=N) is the machine's
 * report cut down to it. */
static void test_report_of_one_process(void)
{
	struct model m;
	uint64_t path[] = {0x1000, 0x2000};
	struct report r = {0};
	struct report_doc all = {0}, one = {0}, few = {0};
	bool is_new;

	model__init(&m, 0);
	model__add_existing(&m, 100, 100, "first", 1);
	model__add_existing(&m, 300, 300, "second", 1);
	for (pid_t pid = 100; pid <= 300; pid += 200) {
		struct site *s = model__site_by_path(&m, pid, TASK_THREAD, 0x77, path, 2, &is_new);

		for (int i = 0; i < 3; i++)
			model__spawn(&m, s, pid, pid + 1 + i, pid, 10 + i);
	}
	r.model = &m;
	r.now_ns = 5000000000ULL;
	ASSERT_EQ(report__doc(&r, &all), 0);
	r.only_pid = 300;
	ASSERT_EQ(report__doc(&r, &one), 0);
	ASSERT_EQ(json_array_size(json_object_get(all.root, "tasks")), 8);
	ASSERT_EQ(json_array_size(json_object_get(one.root, "tasks")), 4);
	/* a document for the text alone: at most so many tasks of each site */
	r.tasks_per_site = 2;
	ASSERT_EQ(report__doc(&r, &few), 0);
	ASSERT_EQ(json_array_size(json_object_get(few.root, "tasks")), 3); /* 1 + 2 of 3 */
	report_doc__free(&few);
	report_doc__only_pid(&all, 300);
	report_doc__only_pid(&one, 300);
	ASSERT_TRUE(same_reports(&all, &one));
	report_doc__free(&all);
	report_doc__free(&one);
	model__free(&m);
}

/* A permission is the user's to grant, a missing feature the kernel's to have; anything else
 * on a kernel that has everything is strand's own failure, never "the kernel lacks ...". */
static void test_load_errors(void)
{
	struct bpf_features all = {true, true, true, true, true, true};
	struct bpf_features f = all;

	f.privileged = false;
	ASSERT_EQ(load_error__explain(-EPERM, "load", &f, NULL), STRAND_EXIT_PERM);
	ASSERT_EQ(load_error__explain(EACCES, "load", &f, NULL), STRAND_EXIT_PERM);
	/* with the capabilities, EACCES is the verifier rejecting a program */
	ASSERT_EQ(load_error__explain(-EACCES, "load", &all, "libbpf: prog 'x': failed\n"),
		  STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-EINVAL, "load", &all, ""), STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-ENOENT, "load", &all, NULL), STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-ENOMEM, "load", &all, NULL), STRAND_EXIT_ERROR);
	f = all;
	f.btf = false;
	ASSERT_EQ(load_error__explain(-EINVAL, "load", &f, NULL), STRAND_EXIT_NO_BPF);
	ASSERT_TRUE(strstr(bpf_features__missing(&f), "BTF") != NULL);
	f = all;
	f.task_storage = false;
	ASSERT_EQ(load_error__explain(-ENOENT, "load", &f, NULL), STRAND_EXIT_NO_BPF);
	ASSERT_TRUE(bpf_features__missing(&all) == NULL);
	/* this machine has them all (the BPF tests run here) */
	bpf_features__probe(&f);
	ASSERT_TRUE(bpf_features__missing(&f) == NULL);
}

/* The guardian sends SIGCONT to the stopped processes of the trees strand traced, and to
 * nothing else: not a stopped process outside them, not a running one inside. */
static void test_guardian_releases_only_held_descendants(void)
{
	const struct proc_entry procs[] = {
		{1, 0, 'S'},	 /* init */
		{100, 1, 'S'},	 /* a root strand traces (its command, or -p) */
		{101, 100, 'T'}, /* its child, held */
		{102, 101, 'T'}, /* a grandchild, held */
		{103, 100, 'R'}, /* running: not touched */
		{200, 1, 'T'},	 /* stopped, but no business of strand's */
		{201, 200, 'T'}, /* ... nor its child */
		{300, 1, 'T'},	 /* a second root, itself held */
		{400, 401, 'T'}, /* a loop of parents (pids reused mid-listing) ends */
		{401, 400, 'S'}, {500, 999, 'T'}, /* a parent not in the listing (gone) */
	};
	const pid_t roots[] = {100, 300};
	pid_t out[16];
	size_t n = guardian__stopped_below(procs, ARRAY_SIZE(procs), roots, ARRAY_SIZE(roots), out,
					   ARRAY_SIZE(out));

	ASSERT_EQ(n, 3);
	ASSERT_EQ(out[0], 101);
	ASSERT_EQ(out[1], 102);
	ASSERT_EQ(out[2], 300);
	/* a full output stops the search, never writes past it */
	ASSERT_EQ(
		guardian__stopped_below(procs, ARRAY_SIZE(procs), roots, ARRAY_SIZE(roots), out, 1),
		1);
	ASSERT_EQ(guardian__stopped_below(procs, ARRAY_SIZE(procs), roots, 0, out, 16), 0);
}

int main(void)
{
	test_guardian_releases_only_held_descendants();
	test_durations();
	test_json_escaping();
	test_hashmap();
	test_model_accounting();
	test_model_task_limit();
	test_proc_stat();
	test_read_blocks();
	test_key_index();
	test_key_index_view();
	test_scan_pacing();
	test_prefault_reserve();
	test_evidence_rows();
	test_report_doc_is_its_text_parsed();
	test_report_of_one_process();
	test_load_errors();
	return unit_summary();
}
