// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The goroutine part of the text report, from the report document: groups read like Go's
 * own `goroutine N [chan receive, 5 minutes]`, with where they wait, "created by" and the
 * evidence; then the spawn sites (`go` statements) with their counts, fan-out and shape. */
#include "lib/util.h"
#include "report/report_doc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_GROUPS	  16
#define TEXT_MAX_SITES	  12
#define TEXT_WAIT_FRAMES  6
#define TEXT_SPAWN_FRAMES 6
#define SPARK_WIDTH	  24

/* The main goroutine is created by the runtime's start-up code, not by a go statement. */
/* The runtime's frames under a goroutine's first function: nothing to learn there. */
static bool below_main(const json_t *fr)
{
	const char *fn = doc_str(fr, "function");

	return fn && (!strcmp(fn, "runtime.main") || !strcmp(fn, "runtime.goexit"));
}

/* Heap walks for unreachable waits, when one was tried. */
static void walks_text(const json_t *w, FILE *f)
{
	if (!w || (!doc_int(w, "count") && !doc_str(w, "problem")))
		return;
	fprintf(f, "    heap walks for unreachable waits: %" PRId64, doc_int(w, "count"));
	if (doc_int(w, "count"))
		fprintf(f, ", the last %.0f ms, %" PRId64 " objects, %.1f MiB read",
			doc_num(w, "last_seconds") * 1e3, doc_int(w, "objects"),
			(double)doc_int(w, "bytes") / 1048576.0);
	if (doc_str(w, "problem"))
		fprintf(f, "; %s", doc_str(w, "problem"));
	fputc('\n', f);
}

static void text_runtimes(const json_t *gr, FILE *f)
{
	const json_t *rt;
	size_t i;

	json_array_foreach (doc_arr(gr, "runtimes"), i, rt) {
		bool exited = doc_bool(rt, "exited");

		if (!doc_str(rt, "layout"))
			continue;
		fprintf(f, "  pid %" PRId64 ": %s, runtime layout %s, %s%s\n", doc_int(rt, "pid"),
			doc_str(rt, "go_version") ?: "Go version unknown", doc_str(rt, "layout"),
			exited ? "exited"
			: doc_bool(rt, "probes")
				? (doc_bool(rt, "exact_waits")
					   ? "runtime probes attached (exact waits, spawn stacks)"
					   : "spawn probes attached, waits timed by the scans")
				: "snapshots only (waits timed by the scans)",
			!exited && doc_int(doc_obj(rt, "sudog_offsets"), "c") < 0
				? "; channels of waits unknown"
				: "");
		if (doc_str(rt, "problem"))
			fprintf(f, "    note: %s\n", doc_str(rt, "problem"));
		if (doc_str(doc_obj(rt, "probes_shed"), "why"))
			fprintf(f, "    overhead: %s (last %.1f s ago)\n",
				doc_str(doc_obj(rt, "probes_shed"), "why"),
				doc_num(doc_obj(rt, "probes_shed"), "last_seconds_ago"));
		walks_text(doc_obj(rt, "heap_walks"), f);
	}
}

static void text_wait(const json_t *g, FILE *f)
{
	char state[96];
	double oldest = doc_num(g, "blocked_oldest_seconds");
	double newest = doc_num(g, "blocked_newest_seconds");
	bool exact = doc_has(g, "blocked_oldest_seconds");

	if (doc_str(g, "sync_wait"))
		snprintf(state, sizeof(state), "%s in %s", doc_str(g, "state") ?: "?",
			 doc_str(g, "sync_wait"));
	else if (doc_str(g, "chan_elem"))
		snprintf(state, sizeof(state), "%s on chan %s", doc_str(g, "state") ?: "?",
			 doc_str(g, "chan_elem"));
	else
		snprintf(state, sizeof(state), "%s", doc_str(g, "state") ?: "?");
	if (exact)
		fprintf(f, "[%s, blocked %.1f s%s", state, oldest,
			doc_bool(g, "blocked_since_before_attach") ||
					doc_bool(g, "blocked_at_least")
				? "+ (at least)"
				: "");
	else
		fprintf(f, "[%s, seen %.1f s", state, doc_num(g, "seen_seconds"));
	if (exact && newest + 0.05 < oldest)
		fprintf(f, " .. %.1f s", newest);
	fputc(']', f);
}

static void text_bytes(FILE *f, int64_t bytes)
{
	if (bytes >= 10 << 20)
		fprintf(f, "%" PRId64 " MiB", (bytes + (1 << 19)) >> 20);
	else
		fprintf(f, "%" PRId64 " KiB", (bytes + 1023) >> 10);
}

static void text_group(const json_t *g, const json_t *s, FILE *f)
{
	const char *verdict = doc_str(g, "verdict");
	const json_t *stack = doc_arr(g, "wait_stack");
	char buf[256];

	fprintf(f, "  %-8s %5" PRId64 "  ", verdict ?: "", doc_int(g, "count"));
	text_wait(g, f);
	fprintf(f, "  pid %" PRId64 "  site %s\n", doc_int(g, "pid"), doc_str(g, "site") ?: "?");
	if (doc_has(g, "wait_site")) {
		doc_frame__format(doc_obj(g, "wait_site"), buf, sizeof(buf));
		fprintf(f, "           waiting at %s\n", buf);
	}
	for (size_t k = 0; k < json_array_size(stack) && k < TEXT_WAIT_FRAMES; k++) {
		doc_frame__format(json_array_get(stack, k), buf, sizeof(buf));
		fprintf(f, "             %s\n", buf);
	}
	if (s && doc_go_site_is_main(s)) {
		fprintf(f, "           the main goroutine (runs main.main)\n");
	} else {
		doc_frame__format(doc_obj(g, "created_at"), buf, sizeof(buf));
		fprintf(f, "           created by %s\n", buf);
	}
	if (verdict && !strcmp(verdict, "stranded") && doc_int(g, "stack_bytes")) {
		fprintf(f, "           pins ");
		text_bytes(f, doc_int(g, "stack_bytes"));
		fprintf(f, " of goroutine stacks");
		if (doc_int(g, "heap_measured")) {
			fprintf(f, " and about ");
			text_bytes(f, doc_int(g, "heap_bytes"));
			fprintf(f, " of heap they point at (measured on %" PRId64 ")",
				doc_int(g, "heap_measured"));
		}
		fputc('\n', f);
	}
	doc_print_list(f, "evidence:", doc_arr(g, "evidence"), "           ");
}

static void text_callers(const json_t *s, FILE *f)
{
	const json_t *callers = doc_arr(s, "callers"), *c;
	char buf[256];
	size_t i;

	if (json_array_size(callers) < 2)
		return;
	fprintf(f, "       its function called from %zu places%s:\n", json_array_size(callers),
		doc_int(s, "callers_not_listed") ? " (and more)" : "");
	json_array_foreach (callers, i, c) {
		const json_t *stack = doc_arr(c, "spawn_stack");

		if (json_array_size(stack) > 1)
			doc_frame__format(json_array_get(stack, 1), buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "?");
		fprintf(f, "         %6" PRId64 "  %s\n", doc_int(c, "spawned"), buf);
	}
}

static void text_site(const json_t *s, FILE *f)
{
	const json_t *stack = doc_arr(s, "spawn_stack");
	char buf[256], spark[SPARK_WIDTH * 4 + 1];

	fprintf(f, "  %-4s pid %" PRId64 "  %" PRId64 " live  peak %" PRId64,
		doc_str(s, "id") ?: "?", doc_int(s, "pid"), doc_int(s, "live"),
		doc_int(s, "peak_live"));
	if (doc_has(s, "spawned"))
		fprintf(f, "  %" PRId64 " spawned  %" PRId64 " exited", doc_int(s, "spawned"),
			doc_int(s, "exited"));
	doc_print_fanout(f, s);
	doc_sparkline(doc_obj(s, "live_over_time"), SPARK_WIDTH, spark, sizeof(spark));
	fprintf(f, "  %s\n", spark);
	if (doc_go_site_is_main(s)) {
		fprintf(f, "       the main goroutine (runs main.main)\n");
		return;
	}
	doc_frame__format(doc_obj(s, "start"), buf, sizeof(buf));
	fprintf(f, "       runs %s\n", buf);
	doc_frame__format(doc_obj(s, "created_at"), buf, sizeof(buf));
	fprintf(f, "       created by %s\n", buf);
	for (size_t k = 1; k < json_array_size(stack) && k < TEXT_SPAWN_FRAMES; k++) {
		if (below_main(json_array_get(stack, k)))
			break;
		doc_frame__format(json_array_get(stack, k), buf, sizeof(buf));
		fprintf(f, "         %s\n", buf);
	}
	text_callers(s, f);
	if (doc_bool(s, "runaway"))
		doc_print_list(f, "RUNAWAY SPAWN:", doc_arr(s, "runaway_evidence"), "       ");
}

static int cmp_sites(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	if (doc_bool(x, "runaway") != doc_bool(y, "runaway"))
		return doc_bool(x, "runaway") ? -1 : 1;
	if (doc_int(x, "live") != doc_int(y, "live"))
		return doc_int(x, "live") > doc_int(y, "live") ? -1 : 1;
	return doc_int(x, "spawned") > doc_int(y, "spawned")   ? -1
	       : doc_int(x, "spawned") < doc_int(y, "spawned") ? 1
							       : 0;
}

static void text_sites(const json_t *gr, bool full, FILE *f)
{
	const json_t *sites = doc_arr(gr, "sites"), *s;
	const json_t **user = xcalloc(json_array_size(sites) + 1, sizeof(*user));
	size_t n = 0, shown = 0, gone = 0, i;

	json_array_foreach (sites, i, s)
		if (!doc_bool(s, "runtime"))
			user[n++] = s;
	if (n)
		qsort(user, n, sizeof(*user), cmp_sites);
	fprintf(f,
		"\nGoroutine spawn sites (go statements), runaways first, by live goroutines "
		"(%zu)\n",
		n);
	for (i = 0; i < n; i++) {
		/* a site all of whose goroutines came and went, unremarkably, is no news */
		if (!doc_int(user[i], "live") && !doc_bool(user[i], "runaway")) {
			gone++;
			continue;
		}
		if (shown++ < TEXT_MAX_SITES || full)
			text_site(user[i], f);
	}
	if (shown > TEXT_MAX_SITES && !full)
		fprintf(f, "  ... %zu more sites (--full lists them all)\n",
			shown - TEXT_MAX_SITES);
	if (gone)
		fprintf(f, "  and %zu sites whose goroutines all exited (use --json for them)\n",
			gone);
	free(user);
}

void report_doc__go_text(const struct report_doc *d, FILE *f)
{
	const json_t *gr = doc_obj(d->root, "goroutines"), *g;
	int64_t procs = doc_int(gr, "processes"), runtime = 0;
	size_t shown = 0, i;

	if (procs <= 0)
		return;
	fprintf(f, "\nGoroutines: %" PRId64 " live in %" PRId64 " Go process%s",
		doc_int(gr, "live"), procs, procs == 1 ? "" : "es");
	if (doc_int(gr, "invalid_entries"))
		fprintf(f, " (%" PRId64 " list entries unreadable)",
			doc_int(gr, "invalid_entries"));
	fprintf(f, ", by spawn site, state and wait site\n");
	if (doc_int(gr, "untracked"))
		fprintf(f,
			"  %" PRId64 " goroutines not tracked (limit reached, --max-goroutines): "
			"counted at their spawn sites, not in the groups below\n",
			doc_int(gr, "untracked"));
	text_runtimes(gr, f);
	json_array_foreach (doc_arr(gr, "groups"), i, g) {
		if (doc_bool(g, "runtime")) {
			runtime += doc_int(g, "count");
			continue;
		}
		if (shown++ < TEXT_MAX_GROUPS || d->full)
			text_group(g, doc_by_id(doc_arr(gr, "sites"), doc_str(g, "site")), f);
	}
	if (shown > TEXT_MAX_GROUPS && !d->full)
		fprintf(f, "  ... %zu more groups (--full lists them all)\n",
			shown - TEXT_MAX_GROUPS);
	if (runtime)
		fprintf(f, "  and %" PRId64 " goroutines of the Go runtime itself\n", runtime);
	text_sites(gr, d->full, f);
}
