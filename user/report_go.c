// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The goroutine part of the text and JSON reports: groups read like Go's own
 * `goroutine N [chan receive, 5 minutes]`, with where they wait, "created by" and the
 * evidence; then the spawn sites (`go` statements) with their counts, fan-out and shape. */
#include "golayout.h"
#include "goroutines.h"
#include "json_writer.h"
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNTIMES	  64
#define TEXT_MAX_GROUPS	  16
#define TEXT_MAX_SITES	  12
#define TEXT_WAIT_FRAMES  6
#define TEXT_SPAWN_FRAMES 6
#define SPARK_WIDTH	  24

/* The main goroutine is created by the runtime's start-up code, not by a go statement. */
static bool is_main(const struct go_site *s)
{
	return s->start.function && !strcmp(s->start.function, "runtime.main");
}

/* The runtime's frames under a goroutine's first function: nothing to learn there. */
static bool below_main(const struct sym_frame *f)
{
	return f->function &&
	       (!strcmp(f->function, "runtime.main") || !strcmp(f->function, "runtime.goexit"));
}

static void text_runtimes(struct go_tracker *t, FILE *f)
{
	struct go_runtime_info rt[MAX_RUNTIMES];
	size_t n = go_tracker__runtimes(t, rt, MAX_RUNTIMES);

	for (size_t i = 0; i < n; i++) {
		const struct go_layout *l = rt[i].layout;

		if (!l)
			continue;
		fprintf(f, "  pid %d: %s, runtime layout %s, %s%s\n", rt[i].pid,
			l->version[0] ? l->version : "Go version unknown", l->source,
			rt[i].exited   ? "exited"
			: rt[i].probes ? "runtime probes attached (exact waits, spawn stacks)"
				       : "snapshots only (waits timed by the scans)",
			!rt[i].exited && l->sudog_c < 0 ? "; channels of waits unknown" : "");
		if (rt[i].problem)
			fprintf(f, "    note: %s\n", rt[i].problem);
	}
}

static void text_wait(const struct go_group *g, FILE *f)
{
	char state[96];

	if (g->sync_wait[0])
		snprintf(state, sizeof(state), "%s in %s", g->state, g->sync_wait);
	else
		snprintf(state, sizeof(state), "%s", g->state);
	if (g->blocked_oldest_s >= 0 && g->blocked_newest_s >= 0)
		fprintf(f, "[%s, blocked %.1f s%s", state, g->blocked_oldest_s,
			g->blocked_before_attach ? "+ (since before attach)" : "");
	else
		fprintf(f, "[%s, seen %.1f s", state, g->oldest_wait_s);
	if (g->blocked_oldest_s >= 0 && g->blocked_newest_s >= 0 &&
	    g->blocked_newest_s + 0.05 < g->blocked_oldest_s)
		fprintf(f, " .. %.1f s", g->blocked_newest_s);
	fputc(']', f);
}

static void text_bytes(FILE *f, uint64_t bytes)
{
	if (bytes >= 10u << 20)
		fprintf(f, "%" PRIu64 " MiB", (bytes + (1u << 19)) >> 20);
	else
		fprintf(f, "%" PRIu64 " KiB", (bytes + 1023) >> 10);
}

static void text_group(const struct go_group *g, const struct go_site *s, FILE *f)
{
	char buf[256];

	fprintf(f, "  %-8s %5" PRIu64 "  ", go_verdict__name(g->verdict) ?: "", g->count);
	text_wait(g, f);
	fprintf(f, "  pid %d  site g%u\n", g->pid, s->id);
	if (g->wait_frame >= 0) {
		frame__format(&g->wait_stack[g->wait_frame], buf, sizeof(buf));
		fprintf(f, "           waiting at %s\n", buf);
	}
	for (int k = 0; k < g->wait_depth && k < TEXT_WAIT_FRAMES; k++) {
		frame__format(&g->wait_stack[k], buf, sizeof(buf));
		fprintf(f, "             %s\n", buf);
	}
	if (is_main(s)) {
		fprintf(f, "           the main goroutine (runs main.main)\n");
	} else {
		frame__format(&s->created_at, buf, sizeof(buf));
		fprintf(f, "           created by %s\n", buf);
	}
	if (g->verdict == GO_VERDICT_STRANDED && g->stack_bytes) {
		fprintf(f, "           pins ");
		text_bytes(f, g->stack_bytes);
		fprintf(f, " of goroutine stacks");
		if (g->heap_measured) {
			fprintf(f, " and about ");
			text_bytes(f, g->heap_bytes);
			fprintf(f, " of heap they point at (measured on %d)", g->heap_measured);
		}
		fputc('\n', f);
	}
	if (g->nevidence)
		fprintf(f, "           evidence:\n");
	for (int k = 0; k < g->nevidence; k++)
		fprintf(f, "             - %s\n", g->evidence[k]);
}

static void text_site(const struct go_site *s, FILE *f)
{
	char buf[256], spark[SPARK_WIDTH * 4 + 1];

	fprintf(f, "  g%-3u pid %d  %" PRIu64 " live  peak %" PRIu64, s->id, s->pid, s->live,
		s->peak);
	if (s->spawned >= 0)
		fprintf(f, "  %" PRId64 " spawned  %" PRId64 " exited", s->spawned, s->exited);
	if (s->parents)
		fprintf(f, "  fan-out max %" PRIu64 " (%" PRIu64 " parent%s)", s->max_children,
			s->parents, s->parents == 1 ? "" : "s");
	timeline__sparkline(&s->live_over_time, SPARK_WIDTH, spark, sizeof(spark));
	fprintf(f, "  %s\n", spark);
	if (is_main(s)) {
		fprintf(f, "       the main goroutine (runs main.main)\n");
		return;
	}
	frame__format(&s->start, buf, sizeof(buf));
	fprintf(f, "       runs %s\n", buf);
	frame__format(&s->created_at, buf, sizeof(buf));
	fprintf(f, "       created by %s\n", buf);
	for (int k = 1; k < s->spawn_depth && k < TEXT_SPAWN_FRAMES; k++) {
		if (below_main(&s->spawn_stack[k]))
			break;
		frame__format(&s->spawn_stack[k], buf, sizeof(buf));
		fprintf(f, "         %s\n", buf);
	}
	if (s->ncallers > 1) {
		fprintf(f, "       its function called from %d places%s:\n", s->ncallers,
			s->more_callers ? " (and more)" : "");
		for (int k = 0; k < s->ncallers; k++) {
			const struct go_caller *c = &s->callers[k];

			if (c->depth > 1)
				frame__format(&c->stack[1], buf, sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "0x%" PRIx64, c->pc);
			fprintf(f, "         %6" PRIu64 "  %s\n", c->spawned, buf);
		}
	}
	if (s->runaway.runaway) {
		fprintf(f, "       RUNAWAY SPAWN:\n");
		for (int k = 0; k < s->runaway.n; k++)
			fprintf(f, "         - %s\n", s->runaway.evidence[k]);
	}
}

static int cmp_sites(const void *a, const void *b)
{
	const struct go_site *x = *(const struct go_site *const *)a;
	const struct go_site *y = *(const struct go_site *const *)b;

	if (x->runaway.runaway != y->runaway.runaway)
		return x->runaway.runaway ? -1 : 1;
	if (x->live != y->live)
		return x->live > y->live ? -1 : 1;
	return x->spawned > y->spawned ? -1 : (x->spawned < y->spawned);
}

/* The program's own sites, runaways first, then by live goroutines. Caller frees. */
static const struct go_site **user_sites(struct go_tracker *t, size_t *n)
{
	size_t all;
	const struct go_site *sites = go_tracker__sites(t, &all);
	const struct go_site **out = xcalloc(all + 1, sizeof(*out));

	*n = 0;
	for (size_t i = 0; i < all; i++)
		if (!sites[i].runtime)
			out[(*n)++] = &sites[i];
	if (*n)
		qsort(out, *n, sizeof(*out), cmp_sites);
	return out;
}

void go_tracker__text(struct go_tracker *t, FILE *f)
{
	uint64_t live, invalid, runtime = 0;
	int procs;
	size_t n, nsites, nuser, shown = 0, shown_sites = 0, gone = 0;
	const struct go_group *groups = go_tracker__groups(t, &n);
	const struct go_site *sites = go_tracker__sites(t, &nsites);
	const struct go_site **user;

	go_tracker__totals(t, &live, &invalid, &procs);
	if (!procs)
		return;
	fprintf(f, "\nGoroutines: %" PRIu64 " live in %d Go process%s", live, procs,
		procs == 1 ? "" : "es");
	if (invalid)
		fprintf(f, " (%" PRIu64 " list entries unreadable)", invalid);
	fprintf(f, ", by spawn site, state and wait site\n");
	text_runtimes(t, f);
	for (size_t i = 0; i < n; i++) {
		const struct go_group *g = &groups[i];

		if (g->runtime) {
			runtime += g->count;
			continue;
		}
		if (shown++ == TEXT_MAX_GROUPS) {
			fprintf(f, "  ... more groups (use --json for all)\n");
			continue;
		}
		if (shown <= TEXT_MAX_GROUPS)
			text_group(g, &sites[g->site], f);
	}
	if (runtime)
		fprintf(f, "  and %" PRIu64 " goroutines of the Go runtime itself\n", runtime);
	user = user_sites(t, &nuser);
	fprintf(f,
		"\nGoroutine spawn sites (go statements), runaways first, by live goroutines "
		"(%zu)\n",
		nuser);
	for (size_t i = 0; i < nuser; i++) {
		/* a site all of whose goroutines came and went, unremarkably, is no news */
		if (!user[i]->live && !user[i]->runaway.runaway) {
			gone++;
			continue;
		}
		if (shown_sites++ < TEXT_MAX_SITES)
			text_site(user[i], f);
	}
	if (shown_sites > TEXT_MAX_SITES)
		fprintf(f, "  ... %zu more sites (use --json for all)\n",
			shown_sites - TEXT_MAX_SITES);
	if (gone)
		fprintf(f, "  and %zu sites whose goroutines all exited (use --json for them)\n",
			gone);
	free(user);
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
		json__bool(j, "exited", rt[i].exited);
		if (l) {
			json__begin_object(j, "g_offsets");
			json__int(j, "goid", l->goid);
			json__int(j, "gopc", l->gopc);
			json__int(j, "startpc", l->startpc);
			json__int(j, "atomicstatus", l->atomicstatus);
			json__int(j, "waitreason", l->waitreason);
			json__int(j, "parent_goid", l->parent_goid);
			json__int(j, "sched_pc", l->sched_pc);
			json__int(j, "sched_bp", l->sched_bp);
			json__int(j, "waiting", l->g_waiting);
			json__end_object(j);
			json__begin_object(j, "sudog_offsets");
			json__int(j, "waitlink", l->sudog_waitlink);
			json__int(j, "c", l->sudog_c);
			json__end_object(j);
			json__int(j, "wait_reasons", l->nwait_reasons);
			json__begin_object(j, "threads");
			json__string(j, "layout", l->m_source);
			json__string(j, "problem", l->m_problem[0] ? l->m_problem : NULL);
			json__int(j, "m_curg", l->m_curg);
			json__int(j, "m_procid", l->m_procid);
			json__int(j, "m_alllink", l->m_alllink);
			json__end_object(j);
			json__begin_object(j, "netpoll");
			json__string(j, "layout", l->pd_source);
			json__string(j, "problem", l->pd_problem[0] ? l->pd_problem : NULL);
			json__int(j, "pd_fd", l->pd_fd);
			json__int(j, "pd_rg", l->pd_rg);
			json__int(j, "pd_wg", l->pd_wg);
			json__end_object(j);
		}
		json__end_object(j);
	}
	json__end_array(j);
}

static void site_id(char *buf, size_t size, uint32_t id)
{
	snprintf(buf, size, "g%u", id);
}

static void site_json(const struct go_site *s, struct json *j)
{
	char id[16];

	site_id(id, sizeof(id), s->id);
	json__begin_object(j, NULL);
	json__string(j, "id", id);
	json__int(j, "pid", s->pid);
	json__string(j, "kind", "goroutine");
	json__bool(j, "runtime", s->runtime);
	json__uint(j, "live", s->live);
	json__uint(j, "peak_live", s->peak);
	json__uint(j, "orphans", s->orphans);
	if (s->spawned >= 0) {
		json__int(j, "spawned", s->spawned);
		json__int(j, "exited", s->exited);
		json__uint(j, "parents", s->parents);
		json__uint(j, "max_children_per_parent", s->max_children);
		json__uint(j, "max_children_parent_goid", s->max_parent_goid);
	} else {
		json__null(j, "spawned");
		json__null(j, "exited");
	}
	runaway__json(j, &s->runaway);
	timeline__json(j, "live_over_time", &s->live_over_time);
	frame__json(j, "created_at", &s->created_at);
	frame__json(j, "start", &s->start);
	stack__json(j, "spawn_stack", s->spawn_stack, s->spawn_depth);
	json__begin_array(j, "callers");
	for (int k = 0; k < s->ncallers; k++) {
		json__begin_object(j, NULL);
		json__uint(j, "spawned", s->callers[k].spawned);
		stack__json(j, "spawn_stack", s->callers[k].stack, s->callers[k].depth);
		json__end_object(j);
	}
	json__end_array(j);
	json__uint(j, "callers_not_listed", s->more_callers);
	json__end_object(j);
}

static void group_json(const struct go_group *g, const struct go_site *s, struct json *j)
{
	char id[16];

	site_id(id, sizeof(id), s->id);
	json__begin_object(j, NULL);
	json__int(j, "pid", g->pid);
	json__string(j, "kind", "goroutine");
	json__string(j, "site", id);
	json__bool(j, "runtime", g->runtime);
	json__string(j, "verdict", go_verdict__name(g->verdict));
	json__string(j, "state", g->state);
	json__string(j, "sync_wait", g->sync_wait[0] ? g->sync_wait : NULL);
	json__uint(j, "count", g->count);
	json__uint(j, "blocked_long", g->blocked_long);
	json__uint(j, "served", g->served);
	json__uint(j, "orphans", g->orphans);
	json__uint(j, "creator_returned", g->creator_returned);
	json__uint(j, "objects", g->objects);
	json__uint(j, "max_sharing", g->max_sharing);
	json__uint(j, "unknown_objects", g->unknown_objects);
	json__uint(j, "stack_bytes", g->stack_bytes);
	if (g->heap_measured) {
		json__uint(j, "heap_bytes", g->heap_bytes);
		json__int(j, "heap_measured", g->heap_measured);
	} else {
		json__null(j, "heap_bytes");
	}
	json__uint(j, "peak", g->peak);
	json__double(j, "seen_seconds", g->oldest_wait_s);
	if (g->blocked_oldest_s >= 0) {
		json__double(j, "blocked_oldest_seconds", g->blocked_oldest_s);
		json__double(j, "blocked_newest_seconds", g->blocked_newest_s);
		json__bool(j, "blocked_since_before_attach", g->blocked_before_attach);
	}
	if (s->spawned >= 0) {
		json__int(j, "site_spawned", s->spawned);
		json__int(j, "site_exited", s->exited);
	}
	frame__json(j, "created_at", &s->created_at);
	frame__json(j, "start", &s->start);
	stack__json(j, "spawn_stack", s->spawn_stack, s->spawn_depth);
	if (g->wait_frame >= 0)
		frame__json(j, "wait_site", &g->wait_stack[g->wait_frame]);
	else
		json__null(j, "wait_site");
	stack__json(j, "wait_stack", g->wait_stack, g->wait_depth);
	if (!strcmp(g->state, "IO wait")) {
		static const char *const kinds[] = {"unknown",	"listening", "inbound",
						    "outbound", "pipe",	     "other"};

		json__begin_object(j, "io");
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			json__uint(j, kinds[k], g->net[k]);
		json__uint(j, "answered", g->net_answered);
		json__uint(j, "unanswered", g->net_unanswered);
		json__string(j, "first", g->net_text[0] ? g->net_text : NULL);
		json__string(j, "conversation", g->net_talk[0] ? g->net_talk : NULL);
		json__end_object(j);
	}
	if (g->thread_stranded || g->thread_idle) {
		json__begin_object(j, "threads");
		json__uint(j, "stranded", g->thread_stranded);
		json__uint(j, "idle", g->thread_idle);
		if (g->thread_stranded) {
			json__int(j, "tid", g->thread_tid);
			json__string(j, "wait_reason", g->thread_reason);
		}
		json__end_object(j);
	}
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
	size_t n, nsites;
	const struct go_group *groups = go_tracker__groups(t, &n);
	const struct go_site *sites = go_tracker__sites(t, &nsites);

	go_tracker__totals(t, &live, &invalid, &procs);
	json__begin_object(j, "goroutines");
	json__int(j, "processes", procs);
	json__uint(j, "live", live);
	json__uint(j, "invalid_entries", invalid);
	json__uint(j, "stranded", go_tracker__stranded(t));
	runtimes_json(t, j);
	json__begin_array(j, "sites");
	for (size_t i = 0; i < nsites; i++)
		site_json(&sites[i], j);
	json__end_array(j);
	json__begin_array(j, "groups");
	for (size_t i = 0; i < n; i++)
		group_json(&groups[i], &sites[groups[i].site], j);
	json__end_array(j);
	json__end_object(j);
}
