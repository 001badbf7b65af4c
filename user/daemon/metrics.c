// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/metrics.h"
#include "collect/collector.h"
#include "collect/wait_decode.h"
#include "collect/waits.h"
#include "daemon/promtext.h"
#include "engine/engine.h"
#include "go/goroutines.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "report/report.h"
#include "sym/stacks.h"
#include "sym/symbolize.h"
#include "sys/procfs.h"
#include "verdicts/detect.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { K_THREAD, K_GOROUTINE, KINDS };
enum { S_RUNNING, S_RUNNABLE, S_BLOCKED, STATES };

static const char *const kind_names[KINDS] = {"thread", "goroutine"};
static const char *const state_names[STATES] = {"running", "runnable", "blocked"};

struct counted {
	char *label; /* a wait reason or a spawn site */
	int kind;
	uint64_t n;
};

/* One identity's series: the sums over its processes, rebuilt at every write, and the
 * counts of its processes that are gone, kept so that its counters never go back. */
struct agg {
	struct proc_identity id;
	int instance; /* see struct pinfo */
	bool present; /* a process of it was exported at this write */
	bool go;      /* one of its processes is a Go program: goroutine series too */
	int absent;   /* writes since it last was */
	uint64_t tasks[KINDS][STATES];
	uint64_t spawned[KINDS], exited[KINDS];
	uint64_t gone_spawned[KINDS], gone_exited[KINDS];
	double oldest[KINDS];
	uint64_t runaway_sites[KINDS];
	struct counted *reasons, *sites;
	size_t nreasons, nsites, cap_reasons, cap_sites;
};

struct pinfo {
	struct proc_identity id;
	uint64_t hash;
	/* Processes of one identity (two instances of a server, two python3 scripts) are told
	 * apart by the lowest number none of the identity's live processes holds when strand
	 * first sees it (at strand's start, the oldest first): a lone process is always 0, and
	 * one restarted takes its number again. The last of INSTANCES_MAX is shared by any
	 * more, so the series stay bounded. */
	int instance;
	bool read;
};

#define INSTANCES_MAX 16

struct metrics {
	struct metrics_opts o;
	struct hashmap procs; /* pid -> struct pinfo */
	struct hashmap aggs;  /* identity hash -> struct agg */
};

struct metrics *metrics__new(const struct metrics_opts *opts)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->o = *opts;
	if (m->o.top_sites <= 0)
		m->o.top_sites = 10;
	if (m->o.label_max < 16)
		m->o.label_max = 128;
	hashmap__init(&m->procs);
	hashmap__init(&m->aggs);
	return m;
}

static void counted__clear(struct counted *c, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(c[i].label);
	*n = 0;
}

static void agg__free(void *p)
{
	struct agg *a = p;

	counted__clear(a->reasons, &a->nreasons);
	counted__clear(a->sites, &a->nsites);
	free(a->reasons);
	free(a->sites);
	free(a);
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	hashmap__free_values(&m->procs);
	hashmap__free_each(&m->aggs, agg__free);
	free(m);
}

static bool filter__matches(const struct proc_filter *f, const struct proc_identity *id, bool go)
{
	bool ok = !f->ncomms;

	for (int i = 0; i < f->ncomms && !ok; i++)
		ok = !strcmp(id->comm, f->comms[i]);
	if (!ok)
		return false;
	ok = !f->ncgroups;
	for (int i = 0; i < f->ncgroups && !ok; i++)
		ok = !strncmp(id->cgroup, f->cgroups[i], strlen(f->cgroups[i]));
	return ok && (!f->containers_only || *id->container_id) && (!f->go_only || go);
}

static int free_instance(const struct metrics *m, uint64_t hash)
{
	uint32_t used = 0;
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&m->procs, &i, &key, &val);) {
		const struct pinfo *pi = val;

		if (pi->hash == hash)
			used |= 1u << pi->instance;
	}
	for (int i = 0; i < INSTANCES_MAX - 1; i++)
		if (!(used & (1u << i)))
			return i;
	return INSTANCES_MAX - 1;
}

static struct pinfo *pinfo_of(struct metrics *m, struct engine *e, pid_t pid)
{
	struct pinfo *pi = hashmap__get(&m->procs, (uint64_t)pid);
	struct process *p = model__find_process(&e->model, pid);

	/* an exec gives a process a new identity: read again when its name changed */
	if (pi && p && *p->comm && strcmp(pi->id.comm, p->comm)) {
		free(hashmap__del(&m->procs, (uint64_t)pid));
		pi = NULL;
	}
	if (!pi) {
		pi = xcalloc(1, sizeof(*pi));
		pi->read = !identity__read(pid, p ? p->comm : "", &pi->id);
		pi->hash = identity__hash(&pi->id);
		pi->instance = free_instance(m, pi->hash);
		hashmap__set(&m->procs, (uint64_t)pid, pi);
	}
	return pi;
}

struct newcomer {
	pid_t pid;
	uint64_t birth_ns;
};

static int by_birth(const void *a, const void *b)
{
	const struct newcomer *x = a, *y = b;

	if (x->birth_ns != y->birth_ns)
		return x->birth_ns < y->birth_ns ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The processes not seen before, read in the order they started: the older ones of an
 * identity get the lower instance numbers. */
static void read_newcomers(struct metrics *m, struct engine *e)
{
	struct newcomer *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&e->model.procs, &i, &key, &val);) {
		if (hashmap__get(&m->procs, key))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (struct newcomer){(pid_t)key, procfs__birth_ns((pid_t)key)};
	}
	if (n)
		qsort(v, n, sizeof(*v), by_birth);
	for (size_t i = 0; i < n; i++)
		pinfo_of(m, e, v[i].pid);
	free(v);
}

bool metrics__exports(struct metrics *m, struct engine *e, pid_t pid)
{
	struct process *p = model__find_process(&e->model, pid);
	struct pinfo *pi = pinfo_of(m, e, pid);

	/* strand itself is in its self-metrics */
	return pid != getpid() && pi->read && filter__matches(&m->o.filter, &pi->id, p && p->go);
}

static uint64_t agg_key(const struct pinfo *pi)
{
	return hash_combine(pi->hash, (uint64_t)pi->instance);
}

static struct agg *agg_of(struct metrics *m, const struct pinfo *pi)
{
	struct agg *a = hashmap__get(&m->aggs, agg_key(pi));

	if (!a) {
		a = xcalloc(1, sizeof(*a));
		a->id = pi->id;
		a->instance = pi->instance;
		hashmap__set(&m->aggs, agg_key(pi), a);
	}
	return a;
}

static void count(struct counted **list, size_t *n, size_t *cap, const char *label, int kind,
		  uint64_t by)
{
	for (size_t i = 0; i < *n; i++)
		if ((*list)[i].kind == kind && !strcmp((*list)[i].label, label)) {
			(*list)[i].n += by;
			return;
		}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*list = xrealloc(*list, *cap * sizeof(**list));
	}
	(*list)[(*n)++] = (struct counted){.label = xstrdup(label), .kind = kind, .n = by};
}

static void thread_series(const struct report *r, struct hashmap *exported, uint64_t now)
{
	const struct detection *det = r->detection;
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&r->model->tasks, &i, &key, &val);) {
		const struct task *t = val;
		struct agg *a = hashmap__get(exported, (uint64_t)t->pid);

		if (!a || t->state == '?' || !t->state)
			continue;
		if (t->state == 'R') {
			a->tasks[K_THREAD][t->on_cpu ? S_RUNNING : S_RUNNABLE]++;
			continue;
		}
		a->tasks[K_THREAD][S_BLOCKED]++;
		if (t->wait && now > t->wait->since_ns &&
		    (double)(now - t->wait->since_ns) / 1e9 > a->oldest[K_THREAD])
			a->oldest[K_THREAD] = (double)(now - t->wait->since_ns) / 1e9;
	}
	for (size_t i = 0; i < r->nsites; i++) {
		const struct site *s = r->sites[i].site;
		struct agg *a = hashmap__get(exported, (uint64_t)s->pid);
		char label[256];

		if (!a || s->kind != TASK_THREAD)
			continue;
		a->runaway_sites[K_THREAD] += r->sites[i].runaway.runaway;
		a->spawned[K_THREAD] += s->spawned;
		a->exited[K_THREAD] += s->exited;
		if (!s->live)
			continue;
		if (s->before_attach)
			snprintf(label, sizeof(label), "(before attach)");
		else if (s->depth)
			frame__format(&s->stack[site__spawn_frame(s)], label, sizeof(label));
		else
			snprintf(label, sizeof(label), "(unknown)");
		count(&a->sites, &a->nsites, &a->cap_sites, label, K_THREAD, s->live);
	}
	for (size_t i = 0; det && i < det->n; i++) {
		const struct wait_group *g = &det->groups[i];
		struct agg *a = hashmap__get(exported, (uint64_t)g->pid);

		if (a && (g->verdict == VERDICT_STRANDED || g->verdict == VERDICT_DEADLOCK))
			count(&a->reasons, &a->nreasons, &a->cap_reasons,
			      g->verdict == VERDICT_DEADLOCK ? "deadlock"
							     : wait_kind__name(g->kind),
			      K_THREAD, g->count);
	}
}

static int go_state(const char *state)
{
	if (!strcmp(state, "running"))
		return S_RUNNING;
	if (!strcmp(state, "runnable"))
		return S_RUNNABLE;
	return S_BLOCKED; /* parked, or in a system call or C call */
}

static void goroutine_series(const struct report *r, struct hashmap *exported)
{
	size_t ng, ns;
	const struct go_group *groups = go_tracker__groups(r->goroutines, &ng);
	const struct go_site *sites = go_tracker__sites(r->goroutines, &ns);

	for (size_t i = 0; i < ng; i++) {
		const struct go_group *g = &groups[i];
		struct agg *a = hashmap__get(exported, (uint64_t)g->pid);
		int st = go_state(g->state);
		double oldest = g->blocked_oldest_s > 0 ? g->blocked_oldest_s : g->oldest_wait_s;

		if (!a)
			continue;
		a->tasks[K_GOROUTINE][st] += g->count;
		if (st == S_BLOCKED && oldest > a->oldest[K_GOROUTINE])
			a->oldest[K_GOROUTINE] = oldest;
		if (go_verdict__stuck(g->verdict))
			count(&a->reasons, &a->nreasons, &a->cap_reasons,
			      *g->sync_wait ? g->sync_wait : g->state, K_GOROUTINE, g->count);
	}
	for (size_t i = 0; i < ns; i++) {
		const struct go_site *s = &sites[i];
		struct agg *a = hashmap__get(exported, (uint64_t)s->pid);
		char label[256];

		if (!a)
			continue;
		a->runaway_sites[K_GOROUTINE] += s->runaway.runaway;
		a->spawned[K_GOROUTINE] += s->spawned > 0 ? (uint64_t)s->spawned : 0;
		a->exited[K_GOROUTINE] += s->exited > 0 ? (uint64_t)s->exited : 0;
		if (!s->live)
			continue;
		if (s->runtime)
			snprintf(label, sizeof(label), "(go runtime)");
		else if (s->start.function && !strcmp(s->start.function, "runtime.main"))
			snprintf(label, sizeof(label), "runtime.main");
		else
			frame__format(&s->created_at, label, sizeof(label));
		count(&a->sites, &a->nsites, &a->cap_sites, label, K_GOROUTINE, s->live);
	}
}

/* Not "instance": Prometheus sets that label on every series to the scraped target's
 * address (and renames a series' own to exported_instance). */
static void identity_labels(FILE *f, const struct agg *a, int max)
{
	const struct proc_identity *id = &a->id;
	const char *names[] = {"comm", "exe", "cgroup", "pod_uid", "container_id"};
	const char *values[] = {id->comm, id->exe, id->cgroup, id->pod_uid, id->container_id};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (i >= 3 && !*values[i])
			continue;
		fprintf(f, "%s%s=\"", i ? "," : "", names[i]);
		prom__label(f, values[i], max);
		fputc('"', f);
	}
	fprintf(f, ",process_instance=\"%d%s\"", a->instance,
		a->instance == INSTANCES_MAX - 1 ? "+" : "");
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int by_count(const void *a, const void *b)
{
	const struct counted *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->label, y->label);
}

/* One series per identity of the family, through fn. */
#define EACH_AGG(m, a)                                                                             \
	for (size_t pos_ = 0; hashmap__next(&(m)->aggs, &pos_, &key_, &val_) && ((a) = val_);)

static void write_identity_series(struct metrics *m, FILE *f)
{
	const int max = m->o.label_max;
	uint64_t key_;
	void *val_;
	struct agg *a;

	family(f, "strand_tasks", "gauge",
	       "Live threads and goroutines by state (threads: running on a CPU, runnable, or "
	       "blocked; goroutines: running, runnable, or blocked, parked or in a system call).");
	EACH_AGG(m, a)
	for (int k = 0; a->present && k < KINDS; k++)
		for (int s = 0; s < STATES; s++) {
			if (k == K_GOROUTINE && !a->tasks[k][0] && !a->tasks[k][1] &&
			    !a->tasks[k][2])
				continue;
			fputs("strand_tasks{", f);
			identity_labels(f, a, max);
			fprintf(f, ",kind=\"%s\",state=\"%s\"} %" PRIu64 "\n", kind_names[k],
				state_names[s], a->tasks[k][s]);
		}
	family(f, "strand_spawned_total", "counter",
	       "Threads and goroutines created while traced (goroutines: with the runtime "
	       "probes).");
	EACH_AGG(m, a)
	for (int k = 0; k < (a->go ? KINDS : 1); k++) {
		fputs("strand_spawned_total{", f);
		identity_labels(f, a, max);
		fprintf(f, ",kind=\"%s\"} %" PRIu64 "\n", kind_names[k],
			a->spawned[k] + a->gone_spawned[k]);
	}
	family(f, "strand_exited_total", "counter",
	       "Threads and goroutines that exited while traced.");
	EACH_AGG(m, a)
	for (int k = 0; k < (a->go ? KINDS : 1); k++) {
		fputs("strand_exited_total{", f);
		identity_labels(f, a, max);
		fprintf(f, ",kind=\"%s\"} %" PRIu64 "\n", kind_names[k],
			a->exited[k] + a->gone_exited[k]);
	}
	family(f, "strand_stranded_tasks", "gauge",
	       "Threads and goroutines judged stranded (blocked for good, with evidence) or "
	       "deadlocked, by what they wait on.");
	EACH_AGG(m, a)
	for (size_t i = 0; a->present && i < a->nreasons; i++) {
		fputs("strand_stranded_tasks{", f);
		identity_labels(f, a, max);
		fprintf(f, ",kind=\"%s\",wait_reason=\"", kind_names[a->reasons[i].kind]);
		prom__label(f, a->reasons[i].label, max);
		fprintf(f, "\"} %" PRIu64 "\n", a->reasons[i].n);
	}
	family(f, "strand_oldest_blocked_seconds", "gauge",
	       "The longest any thread or goroutine has been blocked now.");
	EACH_AGG(m, a)
	for (int k = 0; a->present && k < KINDS; k++) {
		if (k == K_GOROUTINE && !a->tasks[k][S_BLOCKED])
			continue;
		fputs("strand_oldest_blocked_seconds{", f);
		identity_labels(f, a, max);
		fprintf(f, ",kind=\"%s\"} %.3f\n", kind_names[k], a->oldest[k]);
	}
	family(f, "strand_site_tasks", "gauge",
	       "Live tasks of the top spawn sites (the go statement or pthread_create call).");
	EACH_AGG(m, a)
	{
		if (!a->present)
			continue;
		if (a->nsites) /* none yet: a process seen only by its exit, say */
			qsort(a->sites, a->nsites, sizeof(*a->sites), by_count);
		for (size_t i = 0; i < a->nsites && (int)i < m->o.top_sites; i++) {
			fputs("strand_site_tasks{", f);
			identity_labels(f, a, max);
			fprintf(f, ",kind=\"%s\",site=\"", kind_names[a->sites[i].kind]);
			prom__label(f, a->sites[i].label, max);
			fprintf(f, "\"} %" PRIu64 "\n", a->sites[i].n);
		}
	}
	family(f, "strand_runaway_sites", "gauge",
	       "Spawn sites judged runaway now: a fan-out sized by its input, or tasks alive "
	       "without bound (the evidence: /report?pid=N).");
	EACH_AGG(m, a)
	for (int k = 0; a->present && k < KINDS; k++) {
		if (!a->runaway_sites[k])
			continue;
		fputs("strand_runaway_sites{", f);
		identity_labels(f, a, max);
		fprintf(f, ",kind=\"%s\"} %" PRIu64 "\n", kind_names[k], a->runaway_sites[k]);
	}
}

struct self_ctx {
	FILE *f;
	int pass; /* 0: runs, 1: run time; maps: 0 entries, 1 capacity */
};

static void prog_line(void *ctx, const char *prog, uint64_t runs, uint64_t run_ns)
{
	struct self_ctx *c = ctx;

	if (c->pass)
		fprintf(c->f, "strand_bpf_program_run_seconds_total{program=\"%s\"} %.9f\n", prog,
			(double)run_ns / 1e9);
	else
		fprintf(c->f, "strand_bpf_program_runs_total{program=\"%s\"} %" PRIu64 "\n", prog,
			runs);
}

static void map_line(void *ctx, const char *map, int64_t entries, uint32_t max)
{
	struct self_ctx *c = ctx;

	if (c->pass)
		fprintf(c->f, "strand_bpf_map_capacity_entries{map=\"%s\"} %u\n", map, max);
	else if (entries >= 0)
		fprintf(c->f, "strand_bpf_map_entries{map=\"%s\"} %" PRId64 "\n", map, entries);
}

static void write_self(struct engine *e, const struct report *r, const struct metrics_self *self,
		       size_t identities, FILE *f)
{
	static const struct {
		int counter;
		const char *reason;
	} drops[] = {{STRAND_CNT_RINGBUF_DROPS, "ringbuf_full"},
		     {STRAND_CNT_STACK_FAILS, "stack_copy_failed"},
		     {STRAND_CNT_MAP_FULL, "map_full"},
		     {STRAND_CNT_GO_STATE_FULL, "goroutine_map_full"}};
	const uint64_t *counters = r->counters;
	struct symbolizer_stats ss;
	struct self_ctx c = {.f = f};
	uint64_t live, invalid, untracked, sheds, shed_now;
	int procs;

	go_tracker__totals(e->go, &live, &invalid, &untracked, &procs);
	family(f, "strand_events_total", "counter", "Records strand's BPF programs sent.");
	fprintf(f, "strand_events_total %" PRIu64 "\n", counters[STRAND_CNT_EVENTS]);
	family(f, "strand_events_dropped_total", "counter",
	       "What strand lost, by why: counts and verdicts are low by as much.");
	for (size_t i = 0; i < ARRAY_SIZE(drops); i++)
		fprintf(f, "strand_events_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
			drops[i].reason, counters[drops[i].counter]);
	fprintf(f, "strand_events_dropped_total{reason=\"unwind_failed\"} %" PRIu64 "\n",
		r->stacks.unwind_failures);
	fprintf(f, "strand_events_dropped_total{reason=\"task_limit\"} %" PRIu64 "\n",
		e->model.drops.task_limit);
	family(f, "strand_tracked", "gauge", "What strand holds in memory now, by kind.");
	fprintf(f, "strand_tracked{what=\"processes\"} %zu\n", e->model.procs.len);
	fprintf(f, "strand_tracked{what=\"threads\"} %zu\n", e->model.tasks.len);
	fprintf(f, "strand_tracked{what=\"thread_sites\"} %zu\n", e->model.nsites);
	fprintf(f, "strand_tracked{what=\"goroutines\"} %" PRIu64 "\n", live - untracked);
	fprintf(f, "strand_tracked{what=\"identities\"} %zu\n", identities);
	symbolizer__stats(stacks__symbolizer(e->stacks), &ss);
	family(f, "strand_cache_entries", "gauge", "What strand's own caches hold now.");
	fprintf(f, "strand_cache_entries{cache=\"symbolized_addresses\"} %" PRIu64 "\n", ss.cached);
	fprintf(f, "strand_cache_entries{cache=\"debug_builds\"} %" PRIu64 "\n", ss.debug_open);
	fprintf(f, "strand_cache_entries{cache=\"go_line_tables\"} %zu\n",
		go_tracker__line_tables(e->go));
	family(f, "strand_cache_capacity_entries", "gauge",
	       "The bounds of strand's own caches (past them, the oldest entries go).");
	fprintf(f, "strand_cache_capacity_entries{cache=\"symbolized_addresses\"} %" PRIu64 "\n",
		ss.cache_max);
	fprintf(f, "strand_cache_capacity_entries{cache=\"debug_builds\"} %" PRIu64 "\n",
		ss.debug_max);
	family(f, "strand_debug_builds_opened_total", "counter",
	       "Binaries whose symbols and debug data strand read (once per build, shared by "
	       "every process that maps it).");
	fprintf(f, "strand_debug_builds_opened_total %" PRIu64 "\n", ss.debug_opened);
	go_tracker__sheds(e->go, &sheds, &shed_now);
	family(f, "strand_go_probe_sheds_total", "counter",
	       "Times the goroutine create/exit probes of a process were detached for their cost "
	       "(--overhead); spawn counts are lower bounds meanwhile.");
	fprintf(f, "strand_go_probe_sheds_total %" PRIu64 "\n", sheds);
	family(f, "strand_go_processes_probes_shed", "gauge",
	       "Go processes whose create/exit probes are detached now, for their cost.");
	fprintf(f, "strand_go_processes_probes_shed %" PRIu64 "\n", shed_now);
	family(f, "strand_bpf_map_entries", "gauge", "Entries in use in strand's BPF hash maps.");
	loader__map_stats(e->ld, map_line, &c);
	family(f, "strand_bpf_map_capacity_entries", "gauge", "Sizes of strand's BPF maps.");
	c.pass = 1;
	loader__map_stats(e->ld, map_line, &c);
	family(f, "strand_bpf_program_runs_total", "counter", "Runs of each BPF program.");
	c.pass = 0;
	loader__prog_stats(e->ld, prog_line, &c);
	family(f, "strand_bpf_program_run_seconds_total", "counter",
	       "CPU time spent in each BPF program (kernel.bpf_stats, enabled by the daemon).");
	c.pass = 1;
	loader__prog_stats(e->ld, prog_line, &c);
	family(f, "strand_scans_total", "counter",
	       "Scans of the threads' waits and the goroutines of every traced process.");
	fprintf(f, "strand_scans_total %" PRIu64 "\n", e->scans);
	family(f, "strand_scan_interval_seconds", "gauge",
	       "Time between scans: one a second, or more when one takes over 0.1 s of CPU and "
	       "one a second would cost more than 3% of a CPU (a million goroutines).");
	fprintf(f, "strand_scan_interval_seconds %.3f\n", (double)e->scan_gap_ns / 1e9);
	family(f, "strand_scan_cpu_seconds", "gauge", "CPU time the last scan took.");
	fprintf(f, "strand_scan_cpu_seconds %.6f\n", (double)e->scan_cpu_ns / 1e9);
	family(f, "strand_scrape_duration_seconds", "gauge",
	       "How long strand took to write the previous /metrics.");
	fprintf(f, "strand_scrape_duration_seconds %.6f\n", self->last_scrape_s);
	family(f, "strand_http_errors_total", "counter", "Requests answered with an error.");
	fprintf(f, "strand_http_errors_total %" PRIu64 "\n", self->http_errors);
	family(f, "strand_build_info", "gauge", "strand's version.");
	fprintf(f, "strand_build_info{version=\"%s\"} 1\n", STRAND_VERSION);
}

static void reset(struct agg *a)
{
	a->present = false;
	memset(a->tasks, 0, sizeof(a->tasks));
	memset(a->spawned, 0, sizeof(a->spawned));
	memset(a->exited, 0, sizeof(a->exited));
	memset(a->oldest, 0, sizeof(a->oldest));
	memset(a->runaway_sites, 0, sizeof(a->runaway_sites));
	counted__clear(a->reasons, &a->nreasons);
	counted__clear(a->sites, &a->nsites);
}

void metrics__write(struct metrics *m, struct engine *e, const struct report *r,
		    const struct metrics_self *self, FILE *f)
{
	struct hashmap exported; /* pid -> struct agg */
	uint64_t key, now = now_mono_ns();
	void *val;

	hashmap__init(&exported);
	for (size_t i = 0; hashmap__next(&m->aggs, &i, &key, &val);)
		reset(val);
	read_newcomers(m, e);
	for (size_t i = 0; hashmap__next(&e->model.procs, &i, &key, &val);) {
		struct agg *a;

		if (!metrics__exports(m, e, (pid_t)key))
			continue;
		a = agg_of(m, pinfo_of(m, e, (pid_t)key));
		a->present = true;
		a->go |= ((struct process *)val)->go;
		hashmap__set(&exported, key, a);
	}
	thread_series(r, &exported, now);
	if (r->goroutines)
		goroutine_series(r, &exported);
	write_identity_series(m, f);
	family(f, "strand_process_info", "gauge",
	       "One series per traced process: its pid, and the identity its series carry.");
	for (size_t i = 0; hashmap__next(&exported, &i, &key, &val);) {
		const struct agg *a = val;

		const struct process *p = model__find_process(&e->model, (pid_t)key);

		fputs("strand_process_info{", f);
		identity_labels(f, a, m->o.label_max);
		/* the path it was run by: a symlink's (redis-server), where exe is its target */
		fputs(",exec_path=\"", f);
		prom__label(f, p && p->exec_path ? p->exec_path : "", m->o.label_max);
		fprintf(f, "\",pid=\"%d\"} 1\n", (int)key);
	}
	write_self(e, r, self, m->aggs.len, f);
	/* an identity with no process left stays one write (its counters' last values) */
	for (size_t i = 0; hashmap__next(&m->aggs, &i, &key, &val);) {
		struct agg *a = val;

		a->absent = a->present ? 0 : a->absent + 1;
		if (a->absent > 1) { /* deleting leaves a tombstone: the walk goes on */
			hashmap__del(&m->aggs, key);
			agg__free(a);
		}
	}
	hashmap__free(&exported);
}

void metrics__retire(struct metrics *m, struct engine *e, pid_t pid)
{
	struct pinfo *pi = hashmap__get(&m->procs, (uint64_t)pid);
	struct agg *a = pi ? hashmap__get(&m->aggs, agg_key(pi)) : NULL;

	if (a) {
		size_t ns;
		const struct go_site *sites = go_tracker__sites(e->go, &ns);

		for (size_t i = 0; i < e->model.nsites; i++)
			if (e->model.sites[i]->pid == pid &&
			    e->model.sites[i]->kind == TASK_THREAD) {
				a->gone_spawned[K_THREAD] += e->model.sites[i]->spawned;
				a->gone_exited[K_THREAD] += e->model.sites[i]->exited;
			}
		for (size_t i = 0; i < ns; i++)
			if (sites[i].pid == pid) {
				a->gone_spawned[K_GOROUTINE] +=
					sites[i].spawned > 0 ? (uint64_t)sites[i].spawned : 0;
				a->gone_exited[K_GOROUTINE] +=
					sites[i].exited > 0 ? (uint64_t)sites[i].exited : 0;
			}
	}
	free(hashmap__del(&m->procs, (uint64_t)pid));
}
