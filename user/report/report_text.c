// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The terminal report, from the report document: summary, drops, blocked threads by
 * verdict, goroutines, spawn sites by live count with their stacks. */
#include "lib/util.h"
#include "report/report_doc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_SITES	12
#define TEXT_MAX_FRAMES 16
#define TEXT_WAIT_LINES 6
#define SPARK_WIDTH	24

static const char *basename_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

/* The C library's own frames between a call and the kernel (clone3, pthread_create,
 * futex_wait): the same for every thread, they say nothing about who. */
static bool libc_frame(const json_t *fr)
{
	const char *mod = basename_of(doc_str(fr, "module"));

	return mod && (!strncmp(mod, "libc.so", 7) || !strncmp(mod, "libc-", 5) ||
		       !strncmp(mod, "libpthread", 10) || !strncmp(mod, "ld-linux", 8));
}

static void print_summary(FILE *f, const json_t *r)
{
	const json_t *targets = doc_arr(r, "targets"), *p, *tot = doc_obj(r, "totals");
	size_t i, exited = 0;

	fprintf(f, "strand: %s after %.1f s\n", doc_bool(r, "final") ? "final report" : "tracing",
		doc_num(r, "duration_seconds"));
	json_array_foreach (targets, i, p) {
		if (!doc_bool(p, "exited"))
			continue;
		exited++;
		if (!doc_bool(r, "all_processes"))
			fprintf(f,
				"  process %" PRId64
				" (%s) exited during the trace, status %" PRId64 "\n",
				doc_int(p, "pid"), doc_str(p, "comm") ?: "?",
				doc_int(p, "exit_code"));
	}
	if (doc_bool(r, "all_processes"))
		fprintf(f, "  processes: %zu traced, %zu exited during the trace\n",
			json_array_size(targets), exited);
	fprintf(f,
		"  threads: %" PRId64 " live (%" PRId64 " from before attach), %" PRId64
		" spawned and %" PRId64 " exited during the trace\n",
		doc_int(tot, "live"), doc_int(tot, "before_attach"), doc_int(tot, "spawned"),
		doc_int(tot, "exited"));
}

static void print_drops(FILE *f, const json_t *r)
{
	static const struct {
		const char *key, *what;
	} drops[] = {
		{"ringbuf", "events lost (ring buffer full)"},
		{"stack_copy_failures", "stack copies failed"},
		{"map_full", "kernel map updates refused (map full)"},
		{"unwind_failures", "stacks not unwound"},
		{"coarse_attributed", "spawns attributed by coarse site key"},
		{"unresolved_spawns", "spawns with unknown stack"},
		{"unknown_exits", "exits of threads never seen"},
		{"task_limit", "threads not tracked (limit reached)"},
		{"goroutine_states_full",
		 "goroutines whose waits are timed by scans only (state table full, --go-states)"},
		{"bad_records", "malformed records"},
	};
	const json_t *d = doc_obj(r, "drops"), *w;
	bool any = false;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(drops); i++) {
		int64_t n = doc_int(d, drops[i].key);

		if (n <= 0)
			continue;
		fprintf(f, "%s%" PRId64 " %s", any ? ", " : "  drops: ", n, drops[i].what);
		any = true;
	}
	fprintf(f, any ? "\n" : "  drops: none\n");
	json_array_foreach (doc_arr(r, "warnings"), i, w)
		if (json_is_string(w))
			fprintf(f, "  warning: %s\n", json_string_value(w));
}

/* A frame in the program's own language, which a runtime ran (sym/runtimes.c names them). */
static bool language_frame(const json_t *fr)
{
	static const char *const langs[] = {"Python", "interpreted Java", "compiled Java",
					    "JavaScript"};
	const char *mod = doc_str(fr, "module");

	for (size_t i = 0; mod && i < ARRAY_SIZE(langs); i++)
		if (!strcmp(mod, langs[i]))
			return true;
	return false;
}

/* Frames of a wait stack from the first one outside the C library (the one before it
 * named as where the call went), up to the thread's own start; where the stack has frames
 * in the program's language, those (the runtime's own C frames between them say nothing
 * of the program). */
static void print_wait_stack(FILE *f, const json_t *g)
{
	const json_t *stack = doc_arr(g, "wait_stack");
	size_t n = json_array_size(stack), first = 0;
	const json_t *wf = json_object_get(g, "wait_frame_index");
	/* absent from a report of an older strand */
	int64_t own = json_is_integer(wf) ? json_integer_value(wf) : -1, last = -1;
	bool lang = false;
	char buf[512];

	if (!n) {
		fprintf(f, "      waiting at: (stack not captured)\n");
		return;
	}
	while (first < n && libc_frame(json_array_get(stack, first)))
		first++;
	if (first == n)
		first = 0;
	fprintf(f, "      waiting at:\n");
	if (first > 0) {
		doc_frame__format(json_array_get(stack, first - 1), buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
	}
	for (size_t i = first; i < n && !lang; i++)
		lang = language_frame(json_array_get(stack, i));
	for (size_t i = first, shown = 0; i < n && shown < TEXT_WAIT_LINES; i++) {
		const json_t *fr = json_array_get(stack, i);

		if (libc_frame(fr))
			break; /* start_thread, clone3: the thread's own start */
		if (lang && i > first && !language_frame(fr))
			continue;
		doc_frame__format(fr, buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
		shown++;
		last = (int64_t)i;
	}
	/* the program's own frame past its runtime's library (LockSupport.park, Queue.get ...),
	 * where the lines ran out before it */
	if (own > last && own < (int64_t)n) {
		doc_frame__format(json_array_get(stack, (size_t)own), buf, sizeof(buf));
		fprintf(f, "        ...\n        %s\n", buf);
	}
}

static void print_group(FILE *f, const json_t *r, const json_t *g)
{
	const json_t *s = doc_by_id(doc_arr(r, "sites"), doc_str(g, "site")), *v;
	int64_t count = doc_int(g, "count");
	char buf[512];
	size_t i;

	fprintf(f, "  %-8s %" PRId64 " thread%s of pid %" PRId64 ", %s%s\n",
		doc_str(g, "verdict") ?: "blocked", count, count == 1 ? "" : "s", doc_int(g, "pid"),
		doc_str(g, "wait_reason") ?: "?", doc_bool(g, "proven") ? "  [proof]" : "");
	fprintf(f, "      blocked for %.1f s (oldest) to %.1f s (newest)%s; tids",
		doc_num(g, "oldest_seconds"), doc_num(g, "newest_seconds"),
		doc_bool(g, "since_before_attach") ? ", some since before attach" : "");
	json_array_foreach (doc_arr(g, "tids"), i, v)
		fprintf(f, " %" PRId64, (int64_t)json_integer_value(v));
	fprintf(f, "%s\n", (size_t)count > json_array_size(doc_arr(g, "tids")) ? " ..." : "");
	if (json_array_size(doc_arr(g, "thread_names"))) {
		fprintf(f, "      named");
		json_array_foreach (doc_arr(g, "thread_names"), i, v)
			fprintf(f, "%s %s", i ? "," : "", json_string_value(v) ?: "?");
		fprintf(f, "\n");
	}
	print_wait_stack(f, g);
	if (doc_str(g, "go_site")) {
		fprintf(f, "      threads of goroutines from site %s, in system calls for them\n",
			doc_str(g, "go_site"));
	} else if (s && !doc_bool(s, "before_attach") &&
		   json_array_size(doc_arr(s, "spawn_stack"))) {
		int64_t first = doc_int(s, "spawn_frame_index");

		doc_frame__format(json_array_get(doc_arr(s, "spawn_stack"), first > 0 ? first : 0),
				  buf, sizeof(buf));
		fprintf(f, "      spawned at: %s (site %s)\n", buf, doc_str(s, "id"));
	} else if (s && doc_bool(s, "before_attach")) {
		fprintf(f, "      spawned before strand attached\n");
	}
	fprintf(f, "      evidence:\n");
	json_array_foreach (doc_arr(g, "evidence"), i, v)
		fprintf(f, "        - %s\n", json_string_value(v) ?: "");
}

/* A runtime's own threads, one line a group: judged apart, listed so they are seen. */
static void print_role_group(FILE *f, const json_t *g)
{
	const json_t *role = doc_obj(g, "role");
	int64_t count = doc_int(g, "count");

	fprintf(f, "  %-8s %-44.44s %3" PRId64 " thread%s of pid %" PRId64 ", %s, %.0f s\n",
		doc_str(role, "runtime") ?: "?", doc_str(role, "role") ?: "?", count,
		count == 1 ? " " : "s", doc_int(g, "pid"), doc_str(g, "wait_reason") ?: "?",
		doc_num(g, "oldest_seconds"));
}

static const struct {
	const char *verdict; /* NULL: a runtime's own threads */
	const char *title;
} sections[] = {
	{"deadlock", "Deadlocked threads"},
	{"stranded", "Stranded threads"},
	{"candidate", "Blocked long with no verdict (never woken; nothing says forgotten)"},
	{"idle", "Idle threads (blocked long, healthy by the evidence)"},
	{NULL, "Runtime threads (the runtime's own, judged apart)"},
};

static void print_detection(FILE *f, const json_t *r)
{
	const json_t *v = doc_obj(r, "verdicts"), *g;
	size_t i;

	if (!doc_bool(v, "scanned"))
		return;
	fprintf(f,
		"  blocked now: %" PRId64 " threads; past the %.0f s threshold: %" PRId64
		" deadlocked, %" PRId64 " stranded, %" PRId64 " with no verdict, %" PRId64
		" idle\n",
		doc_int(v, "blocked"), doc_num(v, "threshold_seconds"), doc_int(v, "deadlock"),
		doc_int(v, "stranded"), doc_int(v, "candidate"), doc_int(v, "idle"));
	if (doc_num(v, "seen_seconds_before_exit") > 0)
		fprintf(f, "  (as the last scan saw them, %.1f s before the target exited)\n",
			doc_num(v, "seen_seconds_before_exit"));
	for (size_t k = 0; k < ARRAY_SIZE(sections); k++) {
		bool any = false;

		json_array_foreach (doc_arr(r, "groups"), i, g) {
			const char *verdict = doc_str(g, "verdict");
			bool role = json_is_object(json_object_get(g, "role"));

			if (sections[k].verdict
				    ? role || !verdict || strcmp(verdict, sections[k].verdict)
				    : !role)
				continue;
			if (!any)
				fprintf(f, "\n%s\n", sections[k].title);
			any = true;
			if (role)
				print_role_group(f, g);
			else
				print_group(f, r, g);
		}
	}
}

static void print_stack(FILE *f, const json_t *s)
{
	const json_t *stack = doc_arr(s, "spawn_stack");
	int64_t n = (int64_t)json_array_size(stack), first = doc_int(s, "spawn_frame_index");
	char buf[512];

	if (first < 0 || first >= n)
		first = 0;
	for (int64_t i = first, shown = 0; i < n && shown < TEXT_MAX_FRAMES; i++, shown++) {
		const json_t *fr = json_array_get(stack, (size_t)i);
		const char *fn = doc_str(fr, "function");

		doc_frame__format(fr, buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
		/* below main is the C runtime's start-up: nothing to learn there */
		if (fn && !strcmp(fn, "main"))
			break;
	}
	if (n - first > TEXT_MAX_FRAMES)
		fprintf(f, "        ... %" PRId64 " more frames\n", n - first - TEXT_MAX_FRAMES);
	if (doc_bool(s, "stack_truncated"))
		fprintf(f, "        (stack truncated: copy too short or no unwind info)\n");
	if (first > 0) {
		doc_frame__format(json_array_get(stack, (size_t)first - 1), buf, sizeof(buf));
		fprintf(f, "      via %s\n", buf);
	}
}

/* What the Go runtime uses a thread for: "[M: idle]", "[M: syscall for goroutine 42 (g7)]". */
static void print_go_role(FILE *f, const json_t *t)
{
	if (!doc_str(t, "go_role"))
		return;
	if (doc_int(t, "goid"))
		fprintf(f, "  [M: %s for goroutine %" PRId64 " (%s)]", doc_str(t, "go_role"),
			doc_int(t, "goid"), doc_str(t, "go_site") ?: "?");
	else
		fprintf(f, "  [M: %s]", doc_str(t, "go_role"));
}

static void print_before_attach(FILE *f, const json_t *r, const json_t *s, bool full)
{
	const char *id = doc_str(s, "id");
	const json_t *t;
	int shown = 0;
	size_t i;

	fprintf(f, "      threads that existed before strand attached:\n");
	json_array_foreach (doc_arr(r, "tasks"), i, t) {
		const char *state = doc_str(t, "state");

		if (!id || !doc_str(t, "site") || strcmp(doc_str(t, "site"), id))
			continue;
		if (shown++ == REPORT_TEXT_TASKS_PER_SITE && !full) {
			fprintf(f, "        ... and %" PRId64 " more (--full lists them all)\n",
				doc_int(s, "live") - REPORT_TEXT_TASKS_PER_SITE);
			break;
		}
		fprintf(f, "        tid %-7" PRId64 " %-16s age %7.1f s  %s", doc_int(t, "tid"),
			doc_str(t, "name") ?: "?", doc_num(t, "age_seconds"),
			doc_str(t, "wait_reason")      ? doc_str(t, "wait_reason")
			: state && !strcmp(state, "R") ? "running"
						       : "");
		print_go_role(f, t);
		fputc('\n', f);
	}
}

static void print_site(FILE *f, const json_t *s)
{
	char buf[512], spark[SPARK_WIDTH * 4 + 1];

	fprintf(f, "  %-4s pid %" PRId64 "  %" PRId64 " live", doc_str(s, "id") ?: "?",
		doc_int(s, "pid"), doc_int(s, "live"));
	if (doc_bool(s, "before_attach")) {
		fprintf(f, "  (before attach)\n");
		return;
	}
	fprintf(f, "  %" PRId64 " spawned  %" PRId64 " exited  peak %" PRId64 "  %.1f/s",
		doc_int(s, "spawned"), doc_int(s, "exited"), doc_int(s, "peak_live"),
		doc_num(s, "spawn_rate"));
	doc_print_fanout(f, s);
	doc_sparkline(doc_obj(s, "live_over_time"), SPARK_WIDTH, spark, sizeof(spark));
	fprintf(f, "  %s  %s\n", doc_str(s, "kind") ?: "thread", spark);
	if (doc_bool(s, "runaway"))
		doc_print_list(f, "RUNAWAY SPAWN:", doc_arr(s, "runaway_evidence"), "      ");
	if (doc_has(s, "start_routine_frame")) {
		doc_frame__format(doc_obj(s, "start_routine_frame"), buf, sizeof(buf));
		fprintf(f, "      start routine: %s\n", buf);
	}
	if (!doc_bool(s, "stack_known")) {
		fprintf(f, "      spawn stack unknown (sample lost or not unwindable)\n");
		return;
	}
	fprintf(f, "      spawned at:\n");
	print_stack(f, s);
}

void report_doc__text(const struct report_doc *d, FILE *f)
{
	const json_t *r = d->root, *sites = doc_arr(r, "sites"), *s;
	size_t n = json_array_size(sites), i;

	print_summary(f, r);
	print_drops(f, r);
	print_detection(f, r);
	report_doc__go_text(d, f);
	fprintf(f, "\nSpawn sites, by live threads (%zu)\n", n);
	json_array_foreach (sites, i, s) {
		if (i == TEXT_MAX_SITES && !d->full)
			break;
		print_site(f, s);
		if (doc_bool(s, "before_attach"))
			print_before_attach(f, r, s, d->full);
	}
	if (n > TEXT_MAX_SITES && !d->full)
		fprintf(f, "  ... %zu more sites (--full lists them all)\n", n - TEXT_MAX_SITES);
	fflush(f);
}
