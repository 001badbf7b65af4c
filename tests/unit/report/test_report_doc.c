// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the report document: the tree built directly is its JSON text parsed, and one
 * process's report out of a machine's. */
#include <jansson.h>
#include <stdlib.h>

#include "collect/model.h"
#include "lib/util.h"
#include "report/report.h"
#include "report/report_doc.h"
#include "unit.h"

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

int main(void)
{
	test_report_doc_is_its_text_parsed();
	test_report_of_one_process();
	return unit_summary();
}
