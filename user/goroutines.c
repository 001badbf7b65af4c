// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "goroutines.h"
#include "gopclntab.h"
#include "gosnap.h"
#include "hashmap.h"
#include "json_writer.h"
#include "procfs.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LAYOUT_ATTEMPTS 5 /* scans: a process caught starting up has no goroutines yet */

struct go_proc_state {
	pid_t pid;
	bool is_go, maybe_go;
	int attempts;
	char comm[16]; /* when it was tried: a new image (exec) is tried again */
	struct go_process gp;
	struct gopclntab *pcln; /* Go's own line table: file:line for Go frames */
	struct go_snapshot snap;
	struct hashmap seen; /* hash(goid, state) -> first scan that saw it so (ns) */
};

struct go_tracker {
	struct symbolizer *sym;
	struct hashmap procs; /* pid -> struct go_proc_state */
	struct go_group *groups;
	size_t ngroups, cap;
	uint64_t stranded;
	uint64_t now_ns;
};

/* Waits the runtime itself says can never end. */
static const char *const forever_reasons[] = {
	"select (no cases)",
	"chan receive (nil chan)",
	"chan send (nil chan)",
};

struct go_tracker *go_tracker__new(struct symbolizer *sym)
{
	struct go_tracker *t = xcalloc(1, sizeof(*t));

	t->sym = sym;
	hashmap__init(&t->procs);
	return t;
}

static void free_state(struct go_proc_state *st)
{
	gopclntab__close(st->pcln);
	go_snapshot__free(&st->snap);
	hashmap__free(&st->seen);
	free(st);
}

void go_tracker__forget(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__del(&t->procs, (uint64_t)pid);

	if (st)
		free_state(st);
}

void go_tracker__free(struct go_tracker *t)
{
	uint64_t key;
	void *val;

	if (!t)
		return;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &key, &val);)
		free_state(val);
	hashmap__free(&t->procs);
	free(t->groups);
	free(t);
}

static const char *state_of(const struct go_proc_state *st, const struct go_g *g)
{
	uint32_t status = g->status & ~(uint32_t)GO_SCAN;

	if (status == GO_WAITING && g->waitreason < (uint32_t)st->gp.layout.nwait_reasons &&
	    st->gp.layout.wait_reasons[g->waitreason][0])
		return st->gp.layout.wait_reasons[g->waitreason];
	return go_status__name(status);
}

/* A Go frame: the module from the symbolizer, function and file:line from .gopclntab (libdw
 * cannot map Go's line tables). A return address is looked up at pc - 1, its call. */
static void resolve_go(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		       struct sym_frame *out)
{
	const char *fn, *file;
	int line;

	symbolizer__resolve(t->sym, st->pid, pc, is_return, out, 1);
	if (st->pcln && pc > st->gp.bias &&
	    !gopclntab__resolve(st->pcln, pc - st->gp.bias - (is_return ? 1 : 0), &fn, &file,
				&line)) {
		out->function = fn;
		out->file = file;
		out->line = line;
		out->inlined = false;
	}
}

static struct go_group *group_for(struct go_tracker *t, uint64_t *keys, uint64_t key)
{
	for (size_t i = 0; i < t->ngroups; i++)
		if (keys[i] == key)
			return &t->groups[i];
	return NULL;
}

static void add_to_groups(struct go_tracker *t, struct go_proc_state *st, uint64_t **keys,
			  size_t *keys_cap)
{
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		const char *state = state_of(st, g);
		uint64_t key =
			hash_combine(hash_combine(hash_u64((uint64_t)st->pid), g->gopc),
				     hash_combine(g->startpc, g->status << 8 | g->waitreason));
		uint64_t first = (uintptr_t)hashmap__get(
			&st->seen, hash_combine(g->goid, g->status << 8 | g->waitreason));
		struct go_group *grp = group_for(t, *keys, key);

		if (!grp) {
			if (t->ngroups == t->cap) {
				t->cap = t->cap ? t->cap * 2 : 32;
				t->groups = xrealloc(t->groups, t->cap * sizeof(*t->groups));
			}
			if (t->ngroups == *keys_cap) {
				*keys_cap = *keys_cap ? *keys_cap * 2 : 32;
				*keys = xrealloc(*keys, *keys_cap * sizeof(**keys));
			}
			(*keys)[t->ngroups] = key;
			grp = &t->groups[t->ngroups++];
			memset(grp, 0, sizeof(*grp));
			grp->pid = st->pid;
			snprintf(grp->state, sizeof(grp->state), "%s", state);
			resolve_go(t, st, g->gopc, true, &grp->created_at);
			resolve_go(t, st, g->startpc, false, &grp->start);
			/* the main goroutine runs the program's main.main: it is the user's */
			grp->runtime = grp->start.function &&
				       !strncmp(grp->start.function, "runtime.", 8) &&
				       strcmp(grp->start.function, "runtime.main");
			for (size_t k = 0; k < ARRAY_SIZE(forever_reasons); k++)
				if (!strcmp(state, forever_reasons[k]))
					grp->stranded = !grp->runtime;
		}
		grp->count++;
		if (first && (double)(t->now_ns - first) / 1e9 > grp->oldest_wait_s)
			grp->oldest_wait_s = (double)(t->now_ns - first) / 1e9;
		if (grp->ngoids < (int)ARRAY_SIZE(grp->goids))
			grp->goids[grp->ngoids++] = g->goid;
	}
}

static int cmp_groups(const void *a, const void *b)
{
	const struct go_group *x = a, *y = b;

	if (x->runtime != y->runtime)
		return x->runtime ? 1 : -1;
	if (x->stranded != y->stranded)
		return x->stranded ? -1 : 1;
	return x->count > y->count ? -1 : (x->count < y->count);
}

static void regroup(struct go_tracker *t)
{
	uint64_t *keys = NULL, pid;
	size_t keys_cap = 0;
	void *val;

	t->ngroups = 0;
	t->stranded = 0;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);)
		if (((struct go_proc_state *)val)->is_go)
			add_to_groups(t, val, &keys, &keys_cap);
	free(keys);
	for (size_t i = 0; i < t->ngroups; i++)
		if (t->groups[i].stranded)
			t->stranded += t->groups[i].count;
	if (t->ngroups)
		qsort(t->groups, t->ngroups, sizeof(*t->groups), cmp_groups);
}

/* Remembers when each goroutine was first seen in its present state. */
static void update_seen(struct go_proc_state *st, uint64_t now)
{
	struct hashmap next;

	hashmap__init(&next);
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		uint64_t key = hash_combine(g->goid, g->status << 8 | g->waitreason);
		void *first = hashmap__get(&st->seen, key);

		hashmap__set(&next, key, first ? first : (void *)(uintptr_t)now);
	}
	hashmap__free(&st->seen);
	st->seen = next;
}

enum go_scan_result go_tracker__scan(struct go_tracker *t, pid_t pid, uint64_t now)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);
	char comm[16];

	t->now_ns = now;
	procfs__comm(pid, comm, sizeof(comm));
	if (st && strcmp(st->comm, comm)) { /* exec'd since it was tried */
		go_tracker__forget(t, pid);
		st = NULL;
	}
	if (!st) {
		char exe[64];
		int err;

		st = xcalloc(1, sizeof(*st));
		st->pid = pid;
		snprintf(st->comm, sizeof(st->comm), "%s", comm);
		hashmap__init(&st->seen);
		snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
		st->pcln = gopclntab__open(exe, &err);
		st->maybe_go = st->pcln || golayout__is_go(exe);
		hashmap__set(&t->procs, (uint64_t)pid, st);
	}
	if (!st->is_go && st->maybe_go && st->attempts < LAYOUT_ATTEMPTS) {
		int err = go_process__open(pid, st->pcln, &st->gp);

		st->is_go = !err;
		st->attempts = err == -ENODATA ? st->attempts + 1 : LAYOUT_ATTEMPTS;
		if (err && err != -ENODATA && !st->gp.problem[0])
			snprintf(st->gp.problem, sizeof(st->gp.problem), "%s", strerror(-err));
	}
	if (!st->is_go)
		return st->maybe_go ? GO_UNSUPPORTED : GO_NOT_GO;
	if (go_process__snapshot(&st->gp, &st->snap) == 0)
		update_seen(st, now);
	regroup(t);
	return GO_TRACKED;
}

const char *go_tracker__problem(struct go_tracker *t, pid_t pid)
{
	struct go_proc_state *st = hashmap__get(&t->procs, (uint64_t)pid);

	return st && st->gp.problem[0] ? st->gp.problem : NULL;
}

const struct go_group *go_tracker__groups(struct go_tracker *t, size_t *n)
{
	*n = t->ngroups;
	return t->groups;
}

uint64_t go_tracker__stranded(struct go_tracker *t)
{
	return t->stranded;
}

void go_tracker__totals(struct go_tracker *t, uint64_t *live, uint64_t *invalid, int *processes)
{
	uint64_t pid;
	void *val;

	*live = *invalid = 0;
	*processes = 0;
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		const struct go_proc_state *st = val;

		if (!st->is_go)
			continue;
		(*processes)++;
		*live += st->snap.n;
		*invalid += st->snap.invalid;
	}
}

void go_tracker__text(struct go_tracker *t, FILE *f)
{
	uint64_t live, invalid, runtime = 0;
	char created[256], start[256];
	int procs;

	go_tracker__totals(t, &live, &invalid, &procs);
	if (!procs)
		return;
	fprintf(f, "\nGoroutines: %" PRIu64 " live in %d Go process%s", live, procs,
		procs == 1 ? "" : "es");
	if (invalid)
		fprintf(f, " (%" PRIu64 " list entries unreadable)", invalid);
	fprintf(f, ", by creation site and state\n");
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct go_group *g = &t->groups[i];

		if (g->runtime) {
			runtime += g->count;
			continue;
		}
		frame__format(&g->created_at, created, sizeof(created));
		frame__format(&g->start, start, sizeof(start));
		fprintf(f, "  %-8s %5" PRIu64 "  [%s, seen %.1f s]  pid %d\n",
			g->stranded ? "stranded" : "", g->count, g->state, g->oldest_wait_s,
			g->pid);
		fprintf(f, "           runs %s\n           created by %s\n", start, created);
		if (g->stranded)
			fprintf(f,
				"           evidence: the runtime says this wait can never end\n");
	}
	if (runtime)
		fprintf(f, "  and %" PRIu64 " goroutines of the Go runtime itself\n", runtime);
}

static void frame_json(struct json *j, const char *key, const struct sym_frame *fr)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "0x%" PRIx64, fr->pc);
	json__begin_object(j, key);
	json__string(j, "function", fr->function);
	json__string(j, "file", fr->file);
	json__int(j, "line", fr->line);
	json__string(j, "module", fr->module);
	json__string(j, "address", addr);
	json__end_object(j);
}

/* Per Go process: its version and where strand's knowledge of its runtime came from. */
static void runtimes_json(struct go_tracker *t, struct json *j)
{
	uint64_t pid;
	void *val;

	json__begin_array(j, "runtimes");
	for (size_t i = 0; hashmap__next(&t->procs, &i, &pid, &val);) {
		const struct go_proc_state *st = val;
		const struct go_layout *l = &st->gp.layout;

		if (!st->maybe_go)
			continue;
		json__begin_object(j, NULL);
		json__int(j, "pid", (int)pid);
		json__string(j, "go_version", l->version[0] ? l->version : NULL);
		json__string(j, "layout", st->is_go ? l->source : NULL);
		json__string(j, "problem", st->gp.problem[0] ? st->gp.problem : NULL);
		if (st->is_go) {
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

void go_tracker__json(struct go_tracker *t, struct json *j)
{
	uint64_t live, invalid;
	int procs;

	go_tracker__totals(t, &live, &invalid, &procs);
	json__begin_object(j, "goroutines");
	json__int(j, "processes", procs);
	json__uint(j, "live", live);
	json__uint(j, "invalid_entries", invalid);
	json__uint(j, "stranded", t->stranded);
	runtimes_json(t, j);
	json__begin_array(j, "groups");
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct go_group *g = &t->groups[i];

		json__begin_object(j, NULL);
		json__int(j, "pid", g->pid);
		json__string(j, "kind", "goroutine");
		json__bool(j, "runtime", g->runtime);
		json__string(j, "verdict", g->stranded ? "stranded" : NULL);
		json__string(j, "state", g->state);
		json__uint(j, "count", g->count);
		json__double(j, "seen_seconds", g->oldest_wait_s);
		frame_json(j, "created_at", &g->created_at);
		frame_json(j, "start", &g->start);
		json__begin_array(j, "goids");
		for (int k = 0; k < g->ngoids; k++)
			json__uint(j, NULL, g->goids[k]);
		json__end_array(j);
		json__end_object(j);
	}
	json__end_array(j);
	json__end_object(j);
}
