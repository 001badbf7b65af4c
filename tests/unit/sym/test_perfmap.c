// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A JIT's perf map: its lines parsed (hex with or without 0x, the name the rest of the
 * line, nonsense refused) and a map of this very process's, named where perf looks for it,
 * read as the JIT appends to it (a line half written is left for later). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/perfmap.h"
#include "unit.h"

static bool parse(const char *line, uint64_t *start, uint64_t *size, char *name, size_t cap)
{
	const char *n;
	size_t len;

	if (!perfmap__parse_line(line, strlen(line), start, size, &n, &len))
		return false;
	snprintf(name, cap, "%.*s", (int)len, n);
	return true;
}

static void test_lines(void)
{
	uint64_t start, size;
	char name[128];

	ASSERT_TRUE(parse("7f9bc0035940 378 JS:~startWorker /srv/w.js:14:21", &start, &size, name,
			  sizeof(name)));
	ASSERT_EQ(start, 0x7f9bc0035940ULL);
	ASSERT_EQ(size, 0x378ULL);
	ASSERT_STREQ(name, "JS:~startWorker /srv/w.js:14:21");
	ASSERT_TRUE(parse("0x00007F00 0x80 java.lang.Thread::start()V", &start, &size, name,
			  sizeof(name)));
	ASSERT_EQ(start, 0x7f00ULL);
	ASSERT_STREQ(name, "java.lang.Thread::start()V");
	ASSERT_TRUE(!parse("7f00 80", &start, &size, name, sizeof(name)));	/* no name */
	ASSERT_TRUE(!parse("7f00 0 stub", &start, &size, name, sizeof(name)));	/* no size */
	ASSERT_TRUE(!parse("7g00 80 stub", &start, &size, name, sizeof(name))); /* not hex */
	ASSERT_TRUE(
		!parse("11112222333344445 8 x", &start, &size, name, sizeof(name))); /* > 64 bits */
	ASSERT_TRUE(!parse("ffffffffffffffff 2 wraps", &start, &size, name, sizeof(name)));
	ASSERT_TRUE(!parse("", &start, &size, name, sizeof(name)));
}

static void test_map_of_this_process(void)
{
	char path[64];
	struct perfmap *m;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	unlink(path);
	ASSERT_TRUE(perfmap__open(getpid()) == NULL); /* none written */
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (!f)
		return;
	fputs("1000 100 first\n3000 10 JS:*second /a.js:1:1\nnot a line\n", f);
	fflush(f);
	m = perfmap__open(getpid());
	ASSERT_TRUE(m != NULL);
	if (m) {
		ASSERT_STREQ(perfmap__name(m, 0x1000), "first");
		ASSERT_STREQ(perfmap__name(m, 0x10ff), "first");
		ASSERT_TRUE(perfmap__name(m, 0x1100) == NULL);
		ASSERT_TRUE(perfmap__name(m, 0xfff) == NULL);
		ASSERT_STREQ(perfmap__name(m, 0x3005), "JS:*second /a.js:1:1");
		/* the JIT writes on: a whole line is read, a half one waits for its end */
		fputs("5000 20 third\n6000 20 fou", f);
		fflush(f);
		ASSERT_STREQ(perfmap__name(m, 0x5010), "third");
		ASSERT_TRUE(perfmap__name(m, 0x6000) == NULL);
		fputs("rth\n", f);
		fflush(f);
		ASSERT_STREQ(perfmap__name(m, 0x6000), "fourth");
		perfmap__free(m);
	}
	fclose(f);
	unlink(path);
}

int main(void)
{
	test_lines();
	test_map_of_this_process();
	return unit_summary();
}
