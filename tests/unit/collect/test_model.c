// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the model: tasks and sites accounted as events arrive, and the task limit. */
#include <stdlib.h>

#include "collect/model.h"
#include "lib/util.h"
#include "unit.h"

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

/* A spawn no exact key finds goes to the first site seen under its coarse key, else to the
 * process's unresolved site, each counted; a process forgotten (the daemon) takes its
 * coarse keys along, so a new process at its pid never lands on a site that is gone. */
static void test_fallback_sites(void)
{
	struct model m;
	uint64_t path[] = {0x1000, 0x2000};
	bool is_new;
	struct site *a, *s;

	model__init(&m, 0);
	model__process(&m, 100, "srv");
	a = model__site_by_path(&m, 100, TASK_THREAD, 0x77, path, 2, &is_new);
	ASSERT_TRUE(!model__coarse_learned(&m, 100, 0xc0));
	model__learn_coarse(&m, 100, 0xc0, a);
	model__learn_coarse(&m, 100, 0xc0,
			    model__site_by_path(&m, 100, TASK_THREAD, 0x78, path, 2,
						&is_new)); /* the first stays */
	ASSERT_TRUE(model__coarse_learned(&m, 100, 0xc0));
	ASSERT_TRUE(model__fallback_site(&m, 100, TASK_THREAD, 0xc0) == a);
	ASSERT_EQ(m.drops.coarse_attributed, 1);
	s = model__fallback_site(&m, 100, TASK_THREAD, 0xc1);
	ASSERT_TRUE(s && s != a && s->unresolved);
	ASSERT_EQ(m.drops.unresolved_spawns, 1);
	ASSERT_TRUE(model__fallback_site(&m, 100, TASK_THREAD, 0xc2) == s);
	/* another process's coarse key is its own */
	ASSERT_TRUE(model__fallback_site(&m, 101, TASK_THREAD, 0xc0) != a);

	model__process_exit(&m, 100, 0);
	model__forget_process(&m, 100);
	ASSERT_TRUE(!model__coarse_learned(&m, 100, 0xc0));
	model__process(&m, 100, "srv");
	s = model__fallback_site(&m, 100, TASK_THREAD, 0xc0);
	ASSERT_TRUE(s && s->unresolved && s->pid == 100);
	model__free(&m);
}

int main(void)
{
	test_model_accounting();
	test_model_task_limit();
	test_fallback_sites();
	return unit_summary();
}
