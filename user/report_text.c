// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The terminal report: summary, spawn sites by live count with their stacks, drops. */
#include "report.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_SITES	12
#define TEXT_MAX_FRAMES 16

static void print_summary(FILE *f, const struct report *r)
{
	const struct model *m = r->model;
	uint64_t key;
	void *val;

	fprintf(f, "strand: %s after %.1f s\n", r->final ? "final report" : "tracing",
		r->duration_s);
	size_t exited = 0;

	for (size_t i = 0; hashmap__next(&m->procs, &i, &key, &val);) {
		const struct process *p = val;

		if (!p->exited)
			continue;
		exited++;
		if (!r->all_processes)
			fprintf(f, "  process %d (%s) exited during the trace, status %d\n", p->pid,
				p->comm, p->exit_code >> 8);
	}
	if (r->all_processes)
		fprintf(f, "  processes: %zu traced, %zu exited during the trace\n", m->procs.len,
			exited);
	fprintf(f,
		"  threads: %zu live (%" PRIu64 " from before attach), %" PRIu64
		" spawned and %" PRIu64 " exited during the trace\n",
		m->tasks.len, m->before_attach, m->spawned, m->exited);
}

static void print_stack(FILE *f, const struct site *s)
{
	int first = site__spawn_frame(s), shown = 0;
	char buf[512];

	for (int i = first; i < s->depth && shown < TEXT_MAX_FRAMES; i++, shown++) {
		frame__format(&s->stack[i], buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
		/* below main is the C runtime's start-up: nothing to learn there */
		if (s->stack[i].function && strcmp(s->stack[i].function, "main") == 0)
			break;
	}
	if (s->depth - first > TEXT_MAX_FRAMES)
		fprintf(f, "        ... %d more frames\n", s->depth - first - TEXT_MAX_FRAMES);
	if (s->truncated)
		fprintf(f, "        (stack truncated: copy too short or no unwind info)\n");
	if (first > 0) {
		frame__format(&s->stack[first - 1], buf, sizeof(buf));
		fprintf(f, "      via %s\n", buf);
	}
}

/* What the Go runtime uses a thread for: "[M: idle]", "[M: syscall for goroutine 42 (g7)]". */
static void print_go_role(FILE *f, const struct task *t)
{
	if (!t->go_role)
		return;
	if (t->goid)
		fprintf(f, "  [M: %s for goroutine %llu (g%u)]", t->go_role,
			(unsigned long long)t->goid, t->go_site);
	else
		fprintf(f, "  [M: %s]", t->go_role);
}

static void print_before_attach(FILE *f, const struct report *r, const struct site *s)
{
	size_t n;
	struct task **tasks = model__sorted_tasks(r->model, &n);
	int shown = 0;

	fprintf(f, "      threads that existed before strand attached:\n");
	for (size_t i = 0; i < n; i++) {
		const struct task *t = tasks[i];

		if (t->site != s)
			continue;
		if (shown++ == 10) {
			fprintf(f, "        ... and %" PRIu64 " more\n", s->live - 10);
			break;
		}
		fprintf(f, "        tid %-7d %-16s age %7.1f s  %s", t->tid, t->name,
			(double)(r->now_ns - t->birth_ns) / 1e9,
			t->wait		  ? t->wait->reason
			: t->state == 'R' ? "running"
					  : "");
		print_go_role(f, t);
		fputc('\n', f);
	}
	free(tasks);
}

static void print_site(FILE *f, const struct report *r, const struct site *s)
{
	char buf[512], spark[24 * 4 + 1];
	struct runaway_verdict v;

	fprintf(f, "  s%-3u pid %d  %" PRIu64 " live", s->id, s->pid, s->live);
	if (s->before_attach) {
		fprintf(f, "  (before attach)\n");
		print_before_attach(f, r, s);
		return;
	}
	fprintf(f, "  %" PRIu64 " spawned  %" PRIu64 " exited  peak %" PRIu64 "  %.1f/s",
		s->spawned, s->exited, s->peak_live, site__rate(s, r));
	if (s->parents)
		fprintf(f, "  fan-out max %" PRIu64 " (%u parent%s)", s->max_children, s->parents,
			s->parents == 1 ? "" : "s");
	timeline__sparkline(&s->live_over_time, 24, spark, sizeof(spark));
	fprintf(f, "  %s  %s\n", task_kind__name(s->kind), spark);
	if (site__runaway(s, r, &v)) {
		fprintf(f, "      RUNAWAY SPAWN:\n");
		for (int i = 0; i < v.n; i++)
			fprintf(f, "        - %s\n", v.evidence[i]);
	}
	if (s->start_routine) {
		frame__format(&s->start_frame, buf, sizeof(buf));
		fprintf(f, "      start routine: %s\n", buf);
	}
	if (s->unresolved) {
		fprintf(f, "      spawn stack unknown (sample lost or not unwindable)\n");
		return;
	}
	fprintf(f, "      spawned at:\n");
	print_stack(f, s);
}

static void print_drops(FILE *f, const struct report *r)
{
	const struct model_drops *d = &r->model->drops;
	const struct {
		const char *what;
		uint64_t n;
	} drops[] = {
		{"events lost (ring buffer full)", r->counters[STRAND_CNT_RINGBUF_DROPS]},
		{"stack copies failed", r->counters[STRAND_CNT_STACK_FAILS]},
		{"kernel map updates refused (map full)", r->counters[STRAND_CNT_MAP_FULL]},
		{"stacks not unwound", d->unwind_failures},
		{"spawns attributed by coarse site key", d->coarse_attributed},
		{"spawns with unknown stack", d->unresolved_spawns},
		{"exits of threads never seen", d->unknown_exits},
		{"threads not tracked (limit reached)", d->task_limit},
		{"malformed records", r->stats.bad_records},
	};
	bool any = false;

	for (size_t i = 0; i < ARRAY_SIZE(drops); i++) {
		if (!drops[i].n)
			continue;
		fprintf(f, "%s%" PRIu64 " %s", any ? ", " : "  drops: ", drops[i].n, drops[i].what);
		any = true;
	}
	fprintf(f, any ? "\n" : "  drops: none\n");
	for (int i = 0; i < r->nwarnings; i++)
		fprintf(f, "  warning: %s\n", r->warnings[i]);
}

/* Frames of a wait stack from the first one outside the C library, up to the thread's
 * start (the spawn stack says where it came from). */
static void print_wait_stack(FILE *f, const struct wait_group *g)
{
	struct site view = {.stack = g->wait_stack, .depth = g->wait_depth};
	int first = site__spawn_frame(&view), shown = 0;
	char buf[512];

	if (!g->wait_depth) {
		fprintf(f, "      waiting at: (stack not captured)\n");
		return;
	}
	fprintf(f, "      waiting at:\n");
	if (first > 0) {
		frame__format(&g->wait_stack[first - 1], buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
	}
	for (int i = first; i < g->wait_depth && shown < 6; i++, shown++) {
		if (g->wait_stack[i].module && strstr(g->wait_stack[i].module, "/libc.so"))
			break; /* start_thread, clone3: the thread's own start */
		frame__format(&g->wait_stack[i], buf, sizeof(buf));
		fprintf(f, "        %s\n", buf);
	}
}

static void print_group(FILE *f, const struct wait_group *g)
{
	const struct site *s = g->site;
	char buf[512];

	fprintf(f, "  %-8s %" PRIu64 " thread%s of pid %d, %s\n", verdict__name(g->verdict),
		g->count, g->count == 1 ? "" : "s", g->pid, g->reason);
	fprintf(f, "      blocked for %.1f s (oldest) to %.1f s (newest)%s; tids", g->oldest_s,
		g->newest_s, g->estimated ? ", some since before attach" : "");
	for (int i = 0; i < g->ntids; i++)
		fprintf(f, " %d", g->tids[i]);
	fprintf(f, "%s\n", g->count > (uint64_t)g->ntids ? " ..." : "");
	print_wait_stack(f, g);
	if (g->go_site) {
		fprintf(f, "      threads of goroutines from site g%u, in system calls for them\n",
			g->go_site);
	} else if (s && !s->before_attach && s->depth) {
		int first = site__spawn_frame(s);

		frame__format(&s->stack[first], buf, sizeof(buf));
		fprintf(f, "      spawned at: %s (site s%u)\n", buf, s->id);
	} else if (s && s->before_attach) {
		fprintf(f, "      spawned before strand attached\n");
	}
	fprintf(f, "      evidence:\n");
	for (int i = 0; i < g->nevidence; i++)
		fprintf(f, "        - %s\n", g->evidence[i]);
}

static void print_detection(FILE *f, const struct report *r)
{
	const struct detection *d = r->detection;

	if (!d)
		return;
	fprintf(f,
		"  blocked now: %" PRIu64 " threads; past the %.0f s threshold: %" PRIu64
		" deadlocked, %" PRIu64 " stranded, %" PRIu64 " idle\n",
		d->blocked, (double)r->threshold_ns / 1e9, d->deadlocked, d->stranded, d->idle);
	if (r->detection_age_s > 0)
		fprintf(f, "  (as the last scan saw them, %.1f s before the target exited)\n",
			r->detection_age_s);
	for (int pass = 0; pass < 2; pass++) {
		bool any = false;

		for (size_t i = 0; i < d->n; i++) {
			const struct wait_group *g = &d->groups[i];

			if ((pass == 0) != (g->verdict != VERDICT_IDLE))
				continue;
			if (!any)
				fprintf(f, "\n%s\n",
					pass == 0 ? "Stranded and deadlocked threads"
						  : "Idle threads (blocked long, healthy)");
			any = true;
			print_group(f, g);
		}
	}
}

void report__text(FILE *f, const struct report *r)
{
	size_t n;
	struct site **sites = model__sorted_sites(r->model, &n);

	print_summary(f, r);
	print_drops(f, r);
	print_detection(f, r);
	if (r->goroutines)
		go_tracker__text(r->goroutines, f);
	fprintf(f, "\nSpawn sites, by live threads (%zu)\n", n);
	for (size_t i = 0; i < n && i < TEXT_MAX_SITES; i++)
		print_site(f, r, sites[i]);
	if (n > TEXT_MAX_SITES)
		fprintf(f, "  ... %zu more sites (use --json for all)\n", n - TEXT_MAX_SITES);
	free(sites);
	fflush(f);
}
