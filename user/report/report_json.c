// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The JSON report: an API, documented in docs/json-schema.md; names here are stable. */
#include "collect/wait_decode.h"
#include "collect/waits.h"
#include "lib/json_writer.h"
#include "lib/util.h"
#include "report/report.h"
#include "report/report_doc.h"
#include "verdicts/thread_roles.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#define JSON_SCHEMA_VERSION 1

static void site_json(struct json *j, const struct reported_site *rs)
{
	const struct site *s = rs->site;
	char id[16];

	snprintf(id, sizeof(id), "s%u", s->id);
	json__begin_object(j, NULL);
	json__string(j, "id", id);
	json__string(j, "kind", task_kind__name(s->kind));
	json__int(j, "pid", s->pid);
	json__bool(j, "before_attach", s->before_attach);
	json__bool(j, "stack_known", !s->before_attach && !s->unresolved);
	json__uint(j, "live", s->live);
	json__uint(j, "spawned", s->spawned);
	json__uint(j, "exited", s->exited);
	json__uint(j, "peak_live", s->peak_live);
	json__double(j, "spawn_rate", rs->rate);
	json__uint(j, "parents", s->parents);
	json__uint(j, "max_children_per_parent", s->max_children);
	json__uint(j, "max_live_children_per_parent", s->max_live_children);
	json__string(j, "start_routine", s->start_routine ? s->start_frame.function : NULL);
	if (s->start_routine)
		frame__json(j, "start_routine_frame", &s->start_frame);
	else
		json__null(j, "start_routine_frame");
	json__int(j, "spawn_frame_index", s->depth ? site__spawn_frame(s) : -1);
	runaway__json(j, &rs->runaway);
	timeline__json(j, "live_over_time", &s->live_over_time);
	json__bool(j, "stack_truncated", s->truncated);
	json__begin_array(j, "spawn_stack");
	for (int i = 0; i < s->depth; i++)
		frame__json(j, NULL, &s->stack[i]);
	json__end_array(j);
	json__end_object(j);
}

/* The names of a group's threads listed, digits folded: a Java executor's threads are
 * "pool-3-thread-1", "pool-27-thread-1", ... and read as one name, "pool-N-thread-N". */
static void thread_names_json(struct json *j, struct model *m, const struct wait_group *g)
{
	char names[GROUP_MAX_TIDS][sizeof(((struct task *)0)->name)];
	int n = 0;

	json__begin_array(j, "thread_names");
	for (int t = 0; t < g->ntids; t++) {
		const struct task *task = model__task(m, g->tids[t]);
		char name[sizeof(((struct task *)0)->name)];
		size_t k = 0;
		bool seen = false;

		if (!task || !task->name[0])
			continue;
		/* a number is folded, but not one that is part of a word's abbreviation ("G1
		 * Conc#0", "C2 CompilerThread0": its letter before it is a capital) */
		for (const char *c = task->name; *c && k < sizeof(name) - 1; c++)
			if (!isdigit((unsigned char)*c) ||
			    (c > task->name && isupper((unsigned char)c[-1])))
				name[k++] = *c;
			else if (!k || name[k - 1] != 'N' || !isdigit((unsigned char)c[-1]))
				name[k++] = 'N';
		name[k] = '\0';
		for (int i = 0; i < n && !seen; i++)
			seen = !strcmp(names[i], name);
		if (!seen) {
			memcpy(names[n++], name, sizeof(name));
			json__string(j, NULL, name);
		}
	}
	json__end_array(j);
}

static void groups_json(struct json *j, const struct report *r)
{
	const struct detection *d = r->detection;
	char id[16];

	json__begin_object(j, "verdicts");
	json__bool(j, "scanned", d != NULL);
	json__double(j, "threshold_seconds", (double)r->threshold_ns / 1e9);
	json__uint(j, "runaway_threshold", r->runaway);
	json__uint(j, "blocked", d ? d->blocked : 0);
	json__uint(j, "deadlock", d ? d->deadlocked : 0);
	json__uint(j, "stranded", d ? d->stranded : 0);
	json__uint(j, "idle", d ? d->idle : 0);
	json__uint(j, "candidate", d ? d->candidates : 0);
	json__double(j, "seen_seconds_before_exit", r->detection_age_s);
	json__end_object(j);
	json__begin_array(j, "groups");
	for (size_t i = 0; d && i < d->n; i++) {
		const struct wait_group *g = &d->groups[i];
		const struct site *s = g->site;

		if (r->only_pid && g->pid != r->only_pid)
			continue;

		json__begin_object(j, NULL);
		json__string(j, "verdict", verdict__name(g->verdict));
		json__bool(j, "proven", g->proven);
		if (g->role) {
			json__begin_object(j, "role");
			json__string(j, "runtime", g->role->runtime);
			json__string(j, "role", g->role->role);
			json__end_object(j);
		} else {
			json__null(j, "role");
		}
		json__string(j, "kind", s ? task_kind__name(s->kind) : "thread");
		json__int(j, "pid", g->pid);
		json__uint(j, "count", g->count);
		json__string(j, "wait_kind", wait_kind__name(g->kind));
		json__string(j, "wait_reason", g->reason);
		json__double(j, "oldest_seconds", g->oldest_s);
		json__double(j, "newest_seconds", g->newest_s);
		json__bool(j, "since_before_attach", g->estimated);
		snprintf(id, sizeof(id), "s%u", s ? s->id : 0);
		json__string(j, "site", id);
		if (g->go_site) {
			snprintf(id, sizeof(id), "g%u", g->go_site);
			json__string(j, "go_site", id);
		} else {
			json__null(j, "go_site");
		}
		stack__json(j, "spawn_stack", s ? s->stack : NULL, s ? s->depth : 0);
		stack__json(j, "wait_stack", g->wait_stack, g->wait_depth);
		json__int(j, "wait_frame_index",
			  frames__program_frame(g->wait_stack, g->wait_depth));
		json__begin_array(j, "evidence");
		for (int e = 0; e < g->nevidence; e++)
			json__string(j, NULL, g->evidence[e]);
		json__end_array(j);
		json__begin_array(j, "tids");
		for (int t = 0; t < g->ntids; t++)
			json__int(j, NULL, g->tids[t]);
		json__end_array(j);
		thread_names_json(j, r->model, g);
		json__end_object(j);
	}
	json__end_array(j);
}

static void tasks_json(struct json *j, const struct report *r)
{
	size_t n;
	struct task **tasks = model__sorted_tasks(r->model, &n);
	struct hashmap written; /* site -> tasks of it written */
	char id[16];

	hashmap__init(&written);
	json__begin_array(j, "tasks");
	for (size_t i = 0; i < n; i++) {
		const struct task *t = tasks[i];

		if (r->only_pid && t->pid != r->only_pid)
			continue;
		if (r->tasks_per_site) {
			uint64_t key = (uintptr_t)t->site;
			uintptr_t k = (uintptr_t)hashmap__get(&written, key);

			if (k >= r->tasks_per_site)
				continue;
			hashmap__set(&written, key, (void *)(k + 1));
		}
		json__begin_object(j, NULL);
		json__int(j, "tid", t->tid);
		json__int(j, "pid", t->pid);
		json__string(j, "kind", task_kind__name(t->kind));
		json__string(j, "name", t->name);
		snprintf(id, sizeof(id), "s%u", t->site ? t->site->id : 0);
		json__string(j, "site", id);
		json__bool(j, "before_attach", t->before_attach);
		json__string(j, "state", t->state ? (char[2]){t->state, 0} : "?");
		if (t->wait) {
			char obj[32];

			snprintf(obj, sizeof(obj), "0x%llx", (unsigned long long)t->wait->object);
			json__string(j, "wait_reason", t->wait->reason);
			json__string(j, "wait_object", obj);
			json__double(j, "blocked_seconds",
				     (double)(r->now_ns - t->wait->since_ns) / 1e9);
		} else {
			json__null(j, "wait_reason");
			json__null(j, "wait_object");
			json__null(j, "blocked_seconds");
		}
		json__string(j, "go_role", t->go_role);
		if (t->goid) {
			char site[16];

			snprintf(site, sizeof(site), "g%u", t->go_site);
			json__uint(j, "goid", t->goid);
			json__string(j, "go_site", site);
		}
		if (t->parent_tid)
			json__int(j, "parent_tid", t->parent_tid);
		else
			json__null(j, "parent_tid");
		json__double(j, "age_seconds",
			     t->birth_ns && t->birth_ns < r->now_ns
				     ? (double)(r->now_ns - t->birth_ns) / 1e9
				     : 0);
		json__end_object(j);
	}
	json__end_array(j);
	hashmap__free(&written);
	free(tasks);
}

static void drops_json(struct json *j, const struct report *r)
{
	const struct model_drops *d = &r->model->drops;

	json__begin_object(j, "drops");
	json__uint(j, "ringbuf", r->counters[STRAND_CNT_RINGBUF_DROPS]);
	json__uint(j, "stack_copy_failures", r->counters[STRAND_CNT_STACK_FAILS]);
	json__uint(j, "map_full", r->counters[STRAND_CNT_MAP_FULL]);
	json__uint(j, "unwind_failures", r->stacks.unwind_failures);
	json__uint(j, "coarse_attributed", d->coarse_attributed);
	json__uint(j, "unresolved_spawns", d->unresolved_spawns);
	json__uint(j, "unknown_exits", d->unknown_exits);
	json__uint(j, "task_limit", d->task_limit);
	json__uint(j, "goroutine_states_full", r->counters[STRAND_CNT_GO_STATE_FULL]);
	json__uint(j, "bad_records", r->stats.bad_records);
	json__end_object(j);
}

/* Where and when the trace ran: a report read back weeks later on another machine says. */
static void host_json(struct json *j, const struct report *r)
{
	json__begin_object(j, "host");
	json__string(j, "name", r->host);
	if (r->kernel[0]) {
		json__string(j, "kernel", r->kernel);
		json__string(j, "machine", r->machine);
	}
	json__double(j, "started_unix_seconds", r->started_unix_s);
	json__end_object(j);
}

/* The report, into the text or the tree j writes. */
static void write_json(struct json *jw, const struct report *r)
{
	const struct model *m = r->model;
	struct json j = *jw;
	uint64_t key;
	void *val;

	json__begin_object(&j, NULL);
	json__int(&j, "version", JSON_SCHEMA_VERSION);
	json__string(&j, "strand_version", STRAND_VERSION);
	json__bool(&j, "final", r->final);
	json__double(&j, "duration_seconds", r->duration_s);
	json__bool(&j, "all_processes", r->all_processes);
	host_json(&j, r);
	json__begin_array(&j, "targets");
	for (size_t i = 0; hashmap__next(&m->procs, &i, &key, &val);) {
		const struct process *p = val;

		if (r->only_pid && p->pid != r->only_pid)
			continue;
		json__begin_object(&j, NULL);
		json__int(&j, "pid", p->pid);
		json__string(&j, "comm", p->comm);
		if (p->exe)
			json__string(&j, "exe", p->exe);
		else
			json__null(&j, "exe");
		json__string(&j, "exec_path", p->exec_path);
		json__bool(&j, "exited", p->exited);
		if (p->exited)
			json__int(&j, "exit_code", p->exit_code >> 8);
		else
			json__null(&j, "exit_code");
		json__end_object(&j);
	}
	json__end_array(&j);
	json__begin_object(&j, "totals");
	json__uint(&j, "live", m->tasks.len + m->untracked.len);
	json__uint(&j, "spawned", m->spawned);
	json__uint(&j, "exited", m->exited);
	json__uint(&j, "before_attach", m->before_attach);
	json__end_object(&j);
	drops_json(&j, r);
	json__begin_object(&j, "stats");
	json__uint(&j, "records", r->stats.records);
	json__uint(&j, "stack_samples", r->stacks.samples);
	json__uint(&j, "stack_samples_known", r->stacks.memo_hits);
	json__double(&j, "unwind_seconds", (double)r->stacks.unwind_ns / 1e9);
	json__uint(&j, "kernel_spawns_seen", r->counters[STRAND_CNT_SPAWNS_SEEN]);
	json__uint(&j, "kernel_unlearned_spawns", r->counters[STRAND_CNT_UNLEARNED]);
	json__double(&j, "cpu_seconds", r->cpu_s);
	json__uint(&j, "max_rss_kib", r->max_rss_kib);
	json__double(&j, "scan_every_seconds", r->scan_every_s);
	json__double(&j, "scan_gap_seconds", r->scan_gap_s);
	json__double(&j, "scan_cpu_seconds", r->scan_cpu_s);
	json__uint(&j, "task_scans_in_halves", r->scans_in_halves);
	json__uint(&j, "first_scan_prefaulted_bytes", r->prefaulted_ahead);
	json__uint(&j, "task_stacks_copied", r->task_stacks_copied);
	json__end_object(&j);
	json__begin_array(&j, "warnings");
	for (int i = 0; i < r->nwarnings; i++)
		json__string(&j, NULL, r->warnings[i]);
	json__end_array(&j);
	groups_json(&j, r);
	if (r->goroutines)
		go_tracker__json(r->goroutines, &j, r->only_pid);
	json__begin_array(&j, "sites");
	for (size_t i = 0; i < r->nsites; i++)
		if (!r->only_pid || r->sites[i].site->pid == r->only_pid)
			site_json(&j, &r->sites[i]);
	json__end_array(&j);
	tasks_json(&j, r);
	json__end_object(&j);
	*jw = j;
}

void report__json(FILE *f, const struct report *r)
{
	struct json j;

	json__init(&j, f);
	write_json(&j, r);
	fflush(f);
}

/* The document every other format is rendered from, built as the JSON text would parse. */
int report__doc(const struct report *r, struct report_doc *doc)
{
	struct json j;

	json__init_tree(&j);
	write_json(&j, r);
	*doc = (struct report_doc){.root = json__take_tree(&j)};
	if (!doc->root) {
		say("internal error: the report document is empty");
		return -EBADMSG;
	}
	return 0;
}
