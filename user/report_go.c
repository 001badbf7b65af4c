// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The goroutine part of the text and JSON reports: groups read like Go's own
 * `goroutine N [chan receive, 5 minutes]`, with "created by" and the evidence. */
#include "golayout.h"
#include "goroutines.h"
#include "json_writer.h"
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <string.h>

#define MAX_RUNTIMES 64

static const char *verdict_name(enum go_verdict v)
{
	return v == GO_VERDICT_STRANDED ? "stranded" : v == GO_VERDICT_IDLE ? "idle" : NULL;
}

static void text_runtimes(struct go_tracker *t, FILE *f)
{
	struct go_runtime_info rt[MAX_RUNTIMES];
	size_t n = go_tracker__runtimes(t, rt, MAX_RUNTIMES);

	for (size_t i = 0; i < n; i++) {
		const struct go_layout *l = rt[i].layout;

		if (!l)
			continue;
		fprintf(f, "  pid %d: %s, runtime layout %s, %s\n", rt[i].pid,
			l->version[0] ? l->version : "Go version unknown", l->source,
			rt[i].probes ? "runtime probes attached (exact waits, spawn stacks)"
				     : "snapshots only (waits timed by the scans)");
		if (rt[i].problem)
			fprintf(f, "    note: %s\n", rt[i].problem);
	}
}

static void text_wait(const struct go_group *g, FILE *f)
{
	if (g->blocked_oldest_s >= 0 && g->blocked_newest_s >= 0)
		fprintf(f, "[%s, blocked %.1f s%s", g->state, g->blocked_oldest_s,
			g->blocked_before_attach ? "+ (since before attach)" : "");
	else
		fprintf(f, "[%s, seen %.1f s", g->state, g->oldest_wait_s);
	if (g->blocked_oldest_s >= 0 && g->blocked_newest_s >= 0 &&
	    g->blocked_newest_s + 0.05 < g->blocked_oldest_s)
		fprintf(f, " .. %.1f s", g->blocked_newest_s);
	fputc(']', f);
}

void go_tracker__text(struct go_tracker *t, FILE *f)
{
	uint64_t live, invalid, runtime = 0;
	char buf[256];
	int procs;
	size_t n;
	const struct go_group *groups = go_tracker__groups(t, &n);

	go_tracker__totals(t, &live, &invalid, &procs);
	if (!procs)
		return;
	fprintf(f, "\nGoroutines: %" PRIu64 " live in %d Go process%s", live, procs,
		procs == 1 ? "" : "es");
	if (invalid)
		fprintf(f, " (%" PRIu64 " list entries unreadable)", invalid);
	fprintf(f, ", by creation site and state\n");
	text_runtimes(t, f);
	for (size_t i = 0; i < n; i++) {
		const struct go_group *g = &groups[i];

		if (g->runtime) {
			runtime += g->count;
			continue;
		}
		fprintf(f, "  %-8s %5" PRIu64 "  ", verdict_name(g->verdict) ?: "", g->count);
		text_wait(g, f);
		fprintf(f, "  pid %d\n", g->pid);
		if (g->start.function && !strcmp(g->start.function, "runtime.main")) {
			/* created by the runtime's start-up code, not by a go statement */
			fprintf(f, "           the main goroutine (runs main.main)\n");
		} else {
			frame__format(&g->start, buf, sizeof(buf));
			fprintf(f, "           runs %s\n", buf);
			frame__format(&g->created_at, buf, sizeof(buf));
			fprintf(f, "           created by %s\n", buf);
		}
		for (int k = 1; k < g->spawn_depth; k++) {
			frame__format(&g->spawn_stack[k], buf, sizeof(buf));
			fprintf(f, "             %s\n", buf);
		}
		if (g->site_spawned >= 0)
			fprintf(f,
				"           this go statement: %" PRId64 " spawned, %" PRId64
				" exited while traced\n",
				g->site_spawned, g->site_exited);
		if (g->nevidence)
			fprintf(f, "           evidence:\n");
		for (int k = 0; k < g->nevidence; k++)
			fprintf(f, "             - %s\n", g->evidence[k]);
	}
	if (runtime)
		fprintf(f, "  and %" PRIu64 " goroutines of the Go runtime itself\n", runtime);
}

static void runtimes_json(struct go_tracker *t, struct json *j)
{
	struct go_runtime_info rt[MAX_RUNTIMES];
	size_t n = go_tracker__runtimes(t, rt, MAX_RUNTIMES);

	json__begin_array(j, "runtimes");
	for (size_t i = 0; i < n; i++) {
		const struct go_layout *l = rt[i].layout;

		json__begin_object(j, NULL);
		json__int(j, "pid", rt[i].pid);
		json__string(j, "go_version", l && l->version[0] ? l->version : NULL);
		json__string(j, "layout", l ? l->source : NULL);
		json__string(j, "problem", rt[i].problem);
		json__bool(j, "probes", rt[i].probes);
		if (l) {
			json__begin_object(j, "g_offsets");
			json__int(j, "goid", l->goid);
			json__int(j, "gopc", l->gopc);
			json__int(j, "startpc", l->startpc);
			json__int(j, "atomicstatus", l->atomicstatus);
			json__int(j, "waitreason", l->waitreason);
			json__int(j, "parent_goid", l->parent_goid);
			json__int(j, "sched_pc", l->sched_pc);
			json__end_object(j);
			json__int(j, "wait_reasons", l->nwait_reasons);
		}
		json__end_object(j);
	}
	json__end_array(j);
}

static void group_json(const struct go_group *g, struct json *j)
{
	json__begin_object(j, NULL);
	json__int(j, "pid", g->pid);
	json__string(j, "kind", "goroutine");
	json__bool(j, "runtime", g->runtime);
	json__string(j, "verdict", verdict_name(g->verdict));
	json__string(j, "state", g->state);
	json__uint(j, "count", g->count);
	json__uint(j, "blocked_long", g->blocked_long);
	json__uint(j, "orphans", g->orphans);
	json__uint(j, "peak", g->peak);
	json__double(j, "seen_seconds", g->oldest_wait_s);
	if (g->blocked_oldest_s >= 0) {
		json__double(j, "blocked_oldest_seconds", g->blocked_oldest_s);
		json__double(j, "blocked_newest_seconds", g->blocked_newest_s);
		json__bool(j, "blocked_since_before_attach", g->blocked_before_attach);
	}
	if (g->site_spawned >= 0) {
		json__int(j, "site_spawned", g->site_spawned);
		json__int(j, "site_exited", g->site_exited);
	}
	frame__json(j, "created_at", &g->created_at);
	frame__json(j, "start", &g->start);
	stack__json(j, "spawn_stack", g->spawn_stack, g->spawn_depth);
	json__begin_array(j, "evidence");
	for (int k = 0; k < g->nevidence; k++)
		json__string(j, NULL, g->evidence[k]);
	json__end_array(j);
	json__begin_array(j, "goids");
	for (int k = 0; k < g->ngoids; k++)
		json__uint(j, NULL, g->goids[k]);
	json__end_array(j);
	json__end_object(j);
}

void go_tracker__json(struct go_tracker *t, struct json *j)
{
	uint64_t live, invalid;
	int procs;
	size_t n;
	const struct go_group *groups = go_tracker__groups(t, &n);

	go_tracker__totals(t, &live, &invalid, &procs);
	json__begin_object(j, "goroutines");
	json__int(j, "processes", procs);
	json__uint(j, "live", live);
	json__uint(j, "invalid_entries", invalid);
	json__uint(j, "stranded", go_tracker__stranded(t));
	runtimes_json(t, j);
	json__begin_array(j, "groups");
	for (size_t i = 0; i < n; i++)
		group_json(&groups[i], j);
	json__end_array(j);
	json__end_object(j);
}
