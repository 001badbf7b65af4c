// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the engine's own rules: how far apart scans are, and what the guardian releases. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/guardian.h"
#include "lib/util.h"
#include "unit.h"

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
	test_scan_pacing();
	return unit_summary();
}
