// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of /proc read as it is: a thread's stat line, and a process's memory read in blocks
 * across holes. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/util.h"
#include "sys/procfs.h"
#include "unit.h"

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

int main(void)
{
	test_proc_stat();
	test_read_blocks();
	return unit_summary();
}
