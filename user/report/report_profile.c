// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report document as a profile (profile.h): every task, thread or goroutine, a sample
 * over its stack, in the view asked for. Goroutines come from their groups, which hold
 * every live goroutine; threads from their groups (those with a verdict) and the tasks
 * list for the rest, which have no wait stack in the document: their wait view ends in a
 * frame naming what they do ("[running]", "[futex wait]").
 */
#include "lib/hashmap.h"
#include "lib/util.h"
#include "report/report_doc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 6
#define MAX_DEPTH  256

struct builder {
	struct profile *p;
	size_t cap;
	/* every frame and frame array made, freed with the profile */
	void **owned;
	size_t nowned, owned_cap;
};

static void *own(struct builder *b, void *ptr)
{
	if (b->nowned == b->owned_cap) {
		b->owned_cap = b->owned_cap ? b->owned_cap * 2 : 64;
		b->owned = xrealloc(b->owned, b->owned_cap * sizeof(*b->owned));
	}
	b->owned[b->nowned++] = ptr;
	return ptr;
}

static uint64_t parse_hex(const char *s)
{
	return s ? strtoull(s, NULL, 16) : 0;
}

static void frame_of(const json_t *fr, struct prof_frame *out)
{
	out->function = doc_str(fr, "function");
	out->file = doc_str(fr, "file");
	out->line = (int)doc_int(fr, "line");
	out->module = doc_str(fr, "module");
	out->address = parse_hex(doc_str(fr, "address"));
	out->inlined = doc_bool(fr, "inlined");
}

/* A path of frames, root first, growing. */
struct path {
	struct prof_frame f[MAX_DEPTH];
	int n;
};

/* Appends a stack the document writes innermost first (from index from on), root first. */
static void push_stack(struct path *p, const json_t *stack, size_t from)
{
	size_t n = json_array_size(stack);

	for (size_t i = n; i > from && p->n < MAX_DEPTH; i--)
		frame_of(json_array_get(stack, i - 1), &p->f[p->n++]);
}

static void push_frame(struct path *p, const json_t *fr)
{
	if (p->n < MAX_DEPTH && json_is_object(fr) &&
	    (doc_str(fr, "function") || doc_str(fr, "address")))
		frame_of(fr, &p->f[p->n++]);
}

/* A frame naming what a task does, for a task whose stack is not known. */
static void push_word(struct builder *b, struct path *p, const char *what)
{
	char *name;

	if (p->n >= MAX_DEPTH || !what)
		return;
	name = own(b, xcalloc(strlen(what) + 3, 1));
	sprintf(name, "[%s]", what);
	memset(&p->f[p->n], 0, sizeof(p->f[0]));
	p->f[p->n++].function = name;
}

static bool same_function(const struct prof_frame *a, const struct prof_frame *b)
{
	return a->function && b->function && !strcmp(a->function, b->function) &&
	       !strcmp(a->file ?: "", b->file ?: "");
}

static struct prof_sample *add_sample(struct builder *b, const struct path *path)
{
	struct profile *p = b->p;
	struct prof_frame *frames;
	const struct prof_frame **ptrs;
	struct prof_sample *s;

	if (p->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		p->samples = xrealloc(p->samples, b->cap * sizeof(*p->samples));
	}
	s = &p->samples[p->n++];
	memset(s, 0, sizeof(*s));
	frames = own(b, xcalloc((size_t)path->n + 1, sizeof(*frames)));
	ptrs = own(b, xcalloc((size_t)path->n + 1, sizeof(*ptrs)));
	memcpy(frames, path->f, (size_t)path->n * sizeof(*frames));
	for (int i = 0; i < path->n; i++)
		ptrs[i] = &frames[i];
	s->frames = ptrs;
	s->depth = path->n;
	return s;
}

static enum prof_class class_of(const char *verdict, bool blocked_long, bool runaway)
{
	if (verdict && (!strcmp(verdict, "stranded") || !strcmp(verdict, "deadlock")))
		return PROF_STRANDED;
	if (verdict && !strcmp(verdict, "idle"))
		return PROF_IDLE;
	if (runaway)
		return PROF_RUNAWAY;
	return blocked_long ? PROF_BLOCKED : PROF_RUNNING;
}

/* A thread site's spawn path: main down to the call that spawned, then the start routine.
 * Whether the path ends with the start routine. */
static bool thread_spawn_path(struct builder *b, struct path *p, const json_t *site)
{
	int64_t first = doc_int(site, "spawn_frame_index");
	int before;

	if (!site)
		return false;
	if (doc_bool(site, "before_attach") && !json_array_size(doc_arr(site, "spawn_stack"))) {
		push_word(b, p, "spawned before attach");
		return false;
	}
	push_stack(p, doc_arr(site, "spawn_stack"), first > 0 ? (size_t)first : 0);
	before = p->n;
	push_frame(p, doc_obj(site, "start_routine_frame"));
	return p->n > before;
}

static void thread_path(struct builder *b, struct path *p, enum prof_view view, const json_t *site,
			const json_t *wait_stack, const char *doing)
{
	bool start = false;

	p->n = 0;
	if (view != PROF_VIEW_WAIT)
		start = thread_spawn_path(b, p, site);
	if (view == PROF_VIEW_SPAWN)
		return;
	if (!json_array_size(wait_stack)) {
		push_word(b, p, doing);
		return;
	}
	/* Combined, the wait stack from the start routine up replaces the routine's frame:
	 * the library's frames that called it (clone, start_thread) would only come between. */
	if (view == PROF_VIEW_COMBINED && start) {
		for (size_t k = json_array_size(wait_stack); k-- > 0;) {
			struct prof_frame fr;

			frame_of(json_array_get(wait_stack, k), &fr);
			if (!same_function(&p->f[p->n - 1], &fr))
				continue;
			p->n--;
			for (size_t i = k + 1; i-- > 0 && p->n < MAX_DEPTH;)
				frame_of(json_array_get(wait_stack, i), &p->f[p->n++]);
			return;
		}
	}
	push_stack(p, wait_stack, 0);
}

static void thread_samples(struct builder *b, const json_t *r, enum prof_view view)
{
	const json_t *sites = doc_arr(r, "sites"), *g, *t;
	struct path *path = xcalloc(1, sizeof(*path));
	struct hashmap grouped; /* tids in groups: not counted again from the tasks list */
	size_t i, k;

	hashmap__init(&grouped);
	json_array_foreach (doc_arr(r, "groups"), i, g) {
		const json_t *site = doc_by_id(sites, doc_str(g, "site")), *tid;
		struct prof_sample *s;
		int64_t count = doc_int(g, "count");

		thread_path(b, path, view, site, doc_arr(g, "wait_stack"),
			    doc_str(g, "wait_reason"));
		s = add_sample(b, path);
		s->tasks = count > 0 ? (uint64_t)count : 0;
		s->blocked_ns =
			(uint64_t)((doc_num(g, "oldest_seconds") + doc_num(g, "newest_seconds")) /
				   2 * 1e9 * (double)s->tasks);
		s->verdict = doc_str(g, "verdict");
		s->class = class_of(s->verdict, true, false);
		s->kind = doc_str(g, "kind") ?: "thread";
		s->wait_reason = doc_str(g, "wait_reason");
		s->site = doc_str(g, "site");
		s->pid = (int)doc_int(g, "pid");
		json_array_foreach (doc_arr(g, "tids"), k, tid)
			hashmap__set(&grouped, (uint64_t)json_integer_value(tid), (void *)1);
	}
	/* the rest, one sample per task: merging equal stacks is the formats' work */
	json_array_foreach (doc_arr(r, "tasks"), i, t) {
		const json_t *site = doc_by_id(sites, doc_str(t, "site"));
		const char *state = doc_str(t, "state"), *reason = doc_str(t, "wait_reason");
		struct prof_sample *s;

		if (hashmap__get(&grouped, (uint64_t)doc_int(t, "tid")))
			continue;
		thread_path(b, path, view, site, NULL,
			    reason			   ? reason
			    : state && !strcmp(state, "R") ? "running"
							   : "thread");
		s = add_sample(b, path);
		s->tasks = 1;
		s->blocked_ns = (uint64_t)(doc_num(t, "blocked_seconds") * 1e9);
		s->class = class_of(NULL, false, site && doc_bool(site, "runaway"));
		s->kind = doc_str(t, "kind") ?: "thread";
		s->wait_reason = reason;
		s->site = doc_str(t, "site");
		s->pid = (int)doc_int(t, "pid");
	}
	hashmap__free(&grouped);
	free(path);
}

/* A goroutine's spawn path: main down to the go statement, then the goroutine's function;
 * its wait stack from that function up. */
static void goroutine_samples(struct builder *b, const json_t *r, enum prof_view view)
{
	const json_t *gr = doc_obj(r, "goroutines"), *sites = doc_arr(gr, "sites"), *g;
	struct path *path = xcalloc(1, sizeof(*path));
	size_t i;

	json_array_foreach (doc_arr(gr, "groups"), i, g) {
		const json_t *site = doc_by_id(sites, doc_str(g, "site"));
		const json_t *spawn = doc_arr(site, "spawn_stack");
		const char *verdict = doc_str(g, "verdict");
		struct prof_sample *s;
		int64_t count = doc_int(g, "count");
		double secs = doc_has(g, "blocked_oldest_seconds")
				      ? (doc_num(g, "blocked_oldest_seconds") +
					 doc_num(g, "blocked_newest_seconds")) /
						2
				      : 0;

		path->n = 0;
		if (view != PROF_VIEW_WAIT) {
			if (json_array_size(spawn))
				push_stack(path, spawn, 0);
			else if (!doc_go_site_is_main(g))
				push_frame(path, doc_obj(g, "created_at"));
			push_frame(path, doc_obj(g, "start"));
		}
		if (view != PROF_VIEW_SPAWN) {
			int before = path->n;

			push_stack(path, doc_arr(g, "wait_stack"), 0);
			/* the wait stack's outermost frame is the goroutine's function again, at
			 * the line it is at rather than its first: that one stays */
			if (view == PROF_VIEW_COMBINED && before > 0 && path->n > before &&
			    same_function(&path->f[before - 1], &path->f[before])) {
				memmove(&path->f[before - 1], &path->f[before],
					(size_t)(path->n - before) * sizeof(path->f[0]));
				path->n--;
				before--;
			}
			if (path->n == before)
				push_word(b, path, doc_str(g, "state"));
		}
		s = add_sample(b, path);
		s->tasks = count > 0 ? (uint64_t)count : 0;
		s->blocked_ns = (uint64_t)(secs * 1e9 * (double)s->tasks);
		s->verdict = verdict;
		s->class = class_of(verdict, doc_int(g, "blocked_long") > 0,
				    site && doc_bool(site, "runaway"));
		s->kind = "goroutine";
		s->wait_reason = doc_str(g, "state");
		s->site = doc_str(g, "site");
		s->pid = (int)doc_int(g, "pid");
	}
	free(path);
}

static void add_series(struct builder *b, const json_t *site, const char *what)
{
	struct profile *p = b->p;
	const json_t *tl = doc_obj(site, "live_over_time"), *v;
	uint32_t *vals;
	char *name, frame[256];
	size_t i;

	if (p->nseries == MAX_SERIES || json_array_size(doc_arr(tl, "samples")) < 2)
		return;
	vals = own(b, xcalloc(json_array_size(doc_arr(tl, "samples")), sizeof(*vals)));
	json_array_foreach (doc_arr(tl, "samples"), i, v)
		vals[i] = json_is_integer(v) ? (uint32_t)json_integer_value(v) : 0;
	doc_frame__format(doc_obj(site, what), frame, sizeof(frame));
	name = own(b, xcalloc(300, 1));
	snprintf(name, 300, "%s %s", doc_str(site, "id") ?: "?", frame);
	p->series[p->nseries++] = (struct prof_series){
		.name = name,
		.seconds = doc_num(tl, "seconds"),
		.v = vals,
		.n = (uint32_t)json_array_size(doc_arr(tl, "samples")),
	};
}

static int cmp_peak(const void *a, const void *b)
{
	int64_t x = doc_int(*(const json_t *const *)a, "peak_live");
	int64_t y = doc_int(*(const json_t *const *)b, "peak_live");

	return x > y ? -1 : x < y;
}

/* The timeline: the sites with the most tasks at once, goroutines' and threads'. */
static void series(struct builder *b, const json_t *r)
{
	const json_t *all[2] = {doc_arr(doc_obj(r, "goroutines"), "sites"), doc_arr(r, "sites")};
	size_t n = json_array_size(all[0]) + json_array_size(all[1]), k = 0, i;
	const json_t **sites = xcalloc(n + 1, sizeof(*sites)), *s;

	for (int l = 0; l < 2; l++)
		json_array_foreach (all[l], i, s)
			if (!doc_bool(s, "runtime") && !doc_bool(s, "before_attach") &&
			    doc_int(s, "peak_live") > 0)
				sites[k++] = s;
	if (k)
		qsort(sites, k, sizeof(*sites), cmp_peak);
	b->p->series = own(b, xcalloc(MAX_SERIES, sizeof(*b->p->series)));
	for (i = 0; i < k; i++)
		add_series(b, sites[i],
			   doc_go_site_is_main(sites[i])     ? "start"
			   : doc_has(sites[i], "created_at") ? "created_at"
							     : "start_routine_frame");
	free(sites);
}

void report_doc__profile(const struct report_doc *d, enum prof_view view, struct profile *p)
{
	const json_t *r = d->root;
	struct builder b = {.p = p};
	char *title = NULL;
	const json_t *t;
	size_t i, len = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	p->view = view;
	p->duration_s = doc_num(r, "duration_seconds");
	p->threshold_ns = (uint64_t)(doc_num(doc_obj(r, "verdicts"), "threshold_seconds") * 1e9);
	p->start_unix_ns = (uint64_t)(doc_num(doc_obj(r, "host"), "started_unix_seconds") * 1e9);
	if (!doc_bool(r, "all_processes"))
		p->main_module = doc_str(json_array_get(doc_arr(r, "targets"), 0), "exe");
	thread_samples(&b, r, view);
	goroutine_samples(&b, r, view);
	series(&b, r);
	for (i = 0; i < p->n; i++)
		p->totals[p->samples[i].class] += p->samples[i].tasks;
	f = open_memstream(&title, &len);
	if (f) {
		fprintf(f, "strand: ");
		json_array_foreach (doc_arr(r, "targets"), i, t) {
			if (i == 3) {
				fprintf(f, " and %zu more",
					json_array_size(doc_arr(r, "targets")) - 3);
				break;
			}
			fprintf(f, "%spid %" PRId64 " (%s)", i ? ", " : "", doc_int(t, "pid"),
				doc_str(t, "comm") ?: "?");
		}
		fprintf(f, ", %.1f s on %s", p->duration_s,
			doc_str(doc_obj(r, "host"), "name") ?: "?");
		fclose(f);
		p->title = own(&b, title);
	}
	/* what the builder made goes with the profile */
	p->owned = b.owned;
	p->nowned = b.nowned;
}

void profile__free(struct profile *p)
{
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p->samples);
	memset(p, 0, sizeof(*p));
}
