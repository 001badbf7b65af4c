// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The goroutine part of the JSON report (docs/json-schema.md, "goroutines"): what the
 * tracker knows of each Go runtime, its sites and its groups. */
#include "golayout.h"
#include "goroutines.h"
#include "json_writer.h"
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNTIMES 64

static void runtimes_json(struct go_tracker *t, struct json *j, pid_t only)
{
	struct go_runtime_info rt[MAX_RUNTIMES];
	size_t n = go_tracker__runtimes(t, rt, MAX_RUNTIMES);

	json__begin_array(j, "runtimes");
	for (size_t i = 0; i < n; i++) {
		const struct go_layout *l = rt[i].layout;

		if (only && rt[i].pid != only)
			continue;
		json__begin_object(j, NULL);
		json__int(j, "pid", rt[i].pid);
		json__string(j, "go_version", l && l->version[0] ? l->version : NULL);
		json__string(j, "layout", l ? l->source : NULL);
		json__string(j, "problem", rt[i].problem);
		json__bool(j, "probes", rt[i].probes);
		json__bool(j, "exact_waits", rt[i].exact_waits);
		if (rt[i].probes_shed) {
			json__begin_object(j, "probes_shed");
			json__string(j, "why", rt[i].probes_shed);
			json__double(j, "last_seconds_ago", rt[i].probes_shed_ago);
			json__end_object(j);
		}
		json__bool(j, "exited", rt[i].exited);
		json__begin_object(j, "heap_walks");
		json__uint(j, "count", rt[i].walks);
		json__double(j, "last_seconds", (double)rt[i].walk_ns / 1e9);
		json__uint(j, "objects", rt[i].walk_objects);
		json__uint(j, "bytes", rt[i].walk_bytes);
		json__string(j, "problem", rt[i].walk_problem);
		json__end_object(j);
		if (l) {
			json__begin_object(j, "g_offsets");
			json__int(j, "goid", l->goid);
			json__int(j, "gopc", l->gopc);
			json__int(j, "startpc", l->startpc);
			json__int(j, "atomicstatus", l->atomicstatus);
			json__int(j, "waitreason", l->waitreason);
			json__int(j, "parent_goid", l->parent_goid);
			json__int(j, "waitsince", l->waitsince);
			json__int(j, "tracking_seq", l->tracking_seq);
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
		json__bool(j, "counts_partial", s->counts_partial);
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
	json__string(j, "chan_elem", g->chan_elem[0] ? g->chan_elem : NULL);
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
		json__bool(j, "blocked_at_least",
			   g->blocked_runtime_dated || g->blocked_scan_dated);
	}
	if (g->runtime_age_s > 0)
		json__double(j, "runtime_age_seconds", g->runtime_age_s);
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

void go_tracker__json(struct go_tracker *t, struct json *j, pid_t only)
{
	uint64_t live, invalid, untracked;
	int procs;
	size_t n, nsites;
	const struct go_group *groups = go_tracker__groups(t, &n);
	const struct go_site *sites = go_tracker__sites(t, &nsites);

	go_tracker__totals(t, &live, &invalid, &untracked, &procs);
	json__begin_object(j, "goroutines");
	json__int(j, "processes", procs);
	json__uint(j, "live", live);
	json__uint(j, "invalid_entries", invalid);
	json__uint(j, "untracked", untracked);
	json__uint(j, "stranded", go_tracker__stranded(t));
	runtimes_json(t, j, only);
	json__begin_array(j, "sites");
	for (size_t i = 0; i < nsites; i++)
		if (!only || sites[i].pid == only)
			site_json(&sites[i], j);
	json__end_array(j);
	json__begin_array(j, "groups");
	for (size_t i = 0; i < n; i++)
		if (!only || groups[i].pid == only)
			group_json(&groups[i], &sites[groups[i].site], j);
	json__end_array(j);
	json__end_object(j);
}
