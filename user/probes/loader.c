// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/loader.h"
#include "lib/phases.h"
#include "lib/util.h"
#include "probes/goslots.h"
#include "probes/link_reaper.h"
#include "probes/load_error.h"
#include "probes/taskiter.h"
#include "probes/uprobe_multi.h"
#include "sym/elfsym.h"
#include "sym/libcpaths.h"
#include "sym/procmaps.h"
#include "sys/procfs.h"
#include "goroutines.skel.h"
#include "exits.skel.h"
#include "threads.skel.h"
#include "waits.skel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_UPROBES  64
#define MAX_GO_PROCS 64
#define MAX_HOLDS    256 /* processes held at their exit at once */

/* The Go runtime probes of one process. */
struct go_links {
	pid_t pid;
	struct bpf_link *links[4];
	int multi_fds[4]; /* uprobe_multi links instead, for the probes that can be shed; -1 */
};

struct loader {
	struct threads_bpf *threads;
	struct waits_bpf *waits;
	struct goroutines_bpf *go; /* NULL: Go probes unavailable, snapshots only */
	struct exits_bpf *exits;   /* NULL: processes are not held on their way out */
	struct {
		pid_t pid;
		struct bpf_link *link;
	} holds[MAX_HOLDS];
	struct go_slots go_slots; /* the probes' goroutine states, mapped */
	struct go_links go_links[MAX_GO_PROCS];
	struct bpf_link *iter;
	struct bpf_link *iter_halves[2]; /* the scan split by the parity of tids */
	uint64_t scans_in_halves;
	uint8_t *scan_buf;
	int stats_fd; /* BPF_ENABLE_STATS while it is open; 0: not asked */
	struct bpf_link *uprobes[MAX_UPROBES];
	char uprobe_paths[MAX_UPROBES][PATH_MAX];
	int nuprobes;
	struct bpf_link *libc_holds[MAX_UPROBES]; /* the exit hold on each C library's _exit */
	char libc_hold_paths[MAX_UPROBES][PATH_MAX];
	int nlibc_holds;
	int ncpus;
	struct link_reaper *reaper;   /* NULL: links are destroyed inline */
	bool go_multi;		      /* the create and exit probes are uprobe_multi links */
	struct libc_paths libc_paths; /* the last process's C library */
};

static bool libbpf_verbose;

/* The tail of what libbpf said at warning level (the verifier's log among it): printed when
 * a failure is strand's own, kept quiet otherwise. */
static char libbpf_log[4096];
static size_t libbpf_log_len;

static void keep_libbpf_log(const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (libbpf_log_len + (size_t)n >= sizeof(libbpf_log)) {
		/* keep the newest: drop the oldest half */
		size_t keep = libbpf_log_len / 2;

		memmove(libbpf_log, libbpf_log + libbpf_log_len - keep, keep);
		libbpf_log_len = keep;
	}
	if (libbpf_log_len + (size_t)n < sizeof(libbpf_log)) {
		memcpy(libbpf_log + libbpf_log_len, line, (size_t)n);
		libbpf_log_len += (size_t)n;
		libbpf_log[libbpf_log_len] = '\0';
	}
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (libbpf_verbose && level != LIBBPF_DEBUG)
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_WARN)
		keep_libbpf_log(fmt, ap); /* strand says what failed in its own words */
	return 0;
}

static int classify_error(int err, const char *what)
{
	struct bpf_features f;

	bpf_features__probe(&f);
	return load_error__explain(err, what, &f, libbpf_verbose ? NULL : libbpf_log);
}

/* The wait programs share the thread programs' maps: one target filter, one ring buffer,
 * one set of counters, one task storage. */
static int start_waits(struct loader *ld, const struct loader_opts *opts)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, iter_opts);
	union bpf_iter_link_info linfo = {0};
	struct waits_bpf *w = waits_bpf__open();
	int err;

	if (!w)
		return -errno;
	ld->waits = w;
	w->rodata->trace_all = opts->trace_all;
	w->rodata->self_tgid = (uint32_t)getpid();
	if (opts->stack_after_ns)
		w->rodata->stack_after_ns = opts->stack_after_ns;
	if ((err = bpf_map__reuse_fd(w->maps.targets, bpf_map__fd(ld->threads->maps.targets))) ||
	    (err = bpf_map__reuse_fd(w->maps.events, bpf_map__fd(ld->threads->maps.events))) ||
	    (err = bpf_map__reuse_fd(w->maps.counters, bpf_map__fd(ld->threads->maps.counters))) ||
	    (err = bpf_map__reuse_fd(w->maps.task_states,
				     bpf_map__fd(ld->threads->maps.task_states))))
		return err;
	/* the iterators run through links of their own, made for what they are to walk */
	bpf_program__set_autoattach(w->progs.dump_tasks, false);
	bpf_program__set_autoattach(w->progs.dump_tasks_even, false);
	bpf_program__set_autoattach(w->progs.dump_tasks_odd, false);
	/* verified only where they serve: 5 ms of a start */
	bpf_program__set_autoload(w->progs.dump_tasks_even, opts->scan_halves);
	bpf_program__set_autoload(w->progs.dump_tasks_odd, opts->scan_halves);
	bpf_program__set_autoattach(w->progs.list_tasks, false);
	err = waits_bpf__load(w);
	if (err)
		return err;
	err = waits_bpf__attach(w);
	if (err)
		return err;
	if (opts->only_pid > 0) {
		linfo.task.pid = (uint32_t)opts->only_pid;
		iter_opts.link_info = &linfo;
		iter_opts.link_info_len = sizeof(linfo);
	}
	ld->iter = bpf_program__attach_iter(w->progs.dump_tasks, &iter_opts);
	if (!ld->iter)
		return -errno;
	/* the halves are for large scans: without them a scan is read whole */
	if (opts->scan_halves) {
		ld->iter_halves[0] = bpf_program__attach_iter(w->progs.dump_tasks_even, &iter_opts);
		ld->iter_halves[1] = bpf_program__attach_iter(w->progs.dump_tasks_odd, &iter_opts);
	}
	return 0;
}

/* The sites of one traced process tree (trace -p, trace -- CMD): a quarter of what the whole
 * machine's get. A map's entries are made when it is, 65536 of them 10-15 ms of every start
 * on a VM; a tree with more go statements than this running at once has the rest counted
 * as refused (map_full), never silently lost (the fan-out's LRU forgets its least recent
 * parent instead, whose count starts again). */
#define ONE_TREE_SITES 16384
/* ... and its threads' spawning call paths and clone sites: LRU maps (one evicted is learned
 * again, at the cost of a stack copy) */
#define ONE_TREE_PATHS 4096

/* The goroutine probes share the ring buffer, target filter and counters too. Failing to
 * load them costs goroutine probes only: snapshots still list goroutines. */
static int start_go(struct loader *ld, const struct loader_opts *opts)
{
	struct goroutines_bpf *g = goroutines_bpf__open();
	uint32_t buckets = go_slots__buckets_for(opts->go_states);
	int err;

	if (!g)
		return -errno;
	g->rodata->trace_all = opts->trace_all;
	g->rodata->self_tgid = (uint32_t)getpid();
	g->rodata->go_slot_mask = buckets - 1;
	bpf_map__set_max_entries(g->maps.go_slots, buckets);
	if (!opts->trace_all) { /* one process tree's go statements */
		bpf_map__set_max_entries(g->maps.go_sites, ONE_TREE_SITES);
		bpf_map__set_max_entries(g->maps.go_callers, ONE_TREE_SITES);
		bpf_map__set_max_entries(g->maps.go_fanout, ONE_TREE_SITES);
	}
	/* the probes shed for their cost (create, exit) as uprobe_multi links, whose detach
	 * stops the traps at once */
	ld->go_multi = uprobe_multi__supported();
	if (ld->go_multi) {
		bpf_program__set_expected_attach_type(g->progs.go_create, UPROBE_MULTI_ATTACH_TYPE);
		bpf_program__set_expected_attach_type(g->progs.go_exit, UPROBE_MULTI_ATTACH_TYPE);
	}
	if ((err = bpf_map__reuse_fd(g->maps.targets, bpf_map__fd(ld->threads->maps.targets))) ||
	    (err = bpf_map__reuse_fd(g->maps.events, bpf_map__fd(ld->threads->maps.events))) ||
	    (err = bpf_map__reuse_fd(g->maps.counters, bpf_map__fd(ld->threads->maps.counters))) ||
	    (err = bpf_map__reuse_fd(g->maps.task_states,
				     bpf_map__fd(ld->threads->maps.task_states))) ||
	    (err = goroutines_bpf__load(g)) ||
	    (err = go_slots__map(&ld->go_slots, bpf_map__fd(g->maps.go_slots), buckets))) {
		goroutines_bpf__destroy(g);
		return err;
	}
	ld->go = g;
	return 0;
}

/* The exit hold shares the target filter, ring buffer and counters too. Failing to load it
 * costs the capture at exit only. */
static int start_exits(struct loader *ld, const struct loader_opts *opts)
{
	struct exits_bpf *x = exits_bpf__open();
	int err;

	if (!x)
		return -errno;
	x->rodata->trace_all = opts->trace_all;
	x->rodata->self_tgid = (uint32_t)getpid();
	if ((err = bpf_map__reuse_fd(x->maps.targets, bpf_map__fd(ld->threads->maps.targets))) ||
	    (err = bpf_map__reuse_fd(x->maps.events, bpf_map__fd(ld->threads->maps.events))) ||
	    (err = bpf_map__reuse_fd(x->maps.counters, bpf_map__fd(ld->threads->maps.counters))) ||
	    (err = exits_bpf__load(x))) {
		exits_bpf__destroy(x);
		return err;
	}
	ld->exits = x;
	return 0;
}

struct loader *loader__start(const struct loader_opts *opts, int *exit_code)
{
	struct loader *ld = xcalloc(1, sizeof(*ld));
	struct threads_bpf *skel;
	int err;

	libbpf_verbose = opts->verbose;
	libbpf_set_print(print_libbpf);
	if (geteuid() != 0 && access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		say("cannot load BPF programs: not running as root");
		*exit_code = STRAND_EXIT_PERM;
		free(ld);
		return NULL;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		*exit_code = classify_error(errno ? errno : ENOSYS, "create a BPF ring buffer");
		free(ld);
		return NULL;
	}
	ld->ncpus = libbpf_num_possible_cpus();
	skel = threads_bpf__open();
	if (!skel) {
		*exit_code = classify_error(errno, "open the BPF programs");
		free(ld);
		return NULL;
	}
	ld->threads = skel;
	skel->rodata->trace_all = opts->trace_all;
	skel->rodata->self_tgid = (uint32_t)getpid();
	if (opts->ringbuf_bytes)
		bpf_map__set_max_entries(skel->maps.events, opts->ringbuf_bytes);
	if (!opts->trace_all) {
		bpf_map__set_max_entries(skel->maps.sites_seen, ONE_TREE_SITES);
		bpf_map__set_max_entries(skel->maps.site_slots, ONE_TREE_PATHS);
		bpf_map__set_max_entries(skel->maps.clone_sites, ONE_TREE_PATHS);
	}

	err = threads_bpf__load(skel);
	if (err) {
		*exit_code = classify_error(err, "load the BPF programs");
		goto fail;
	}
	phase__done("threads.bpf.o loaded");
	err = threads_bpf__attach(skel);
	if (err) {
		*exit_code = classify_error(err, "attach to the scheduler tracepoints");
		goto fail;
	}
	err = start_waits(ld, opts);
	if (err) {
		*exit_code = classify_error(err, "load the wait-tracking BPF programs");
		goto fail;
	}
	phase__done("waits.bpf.o loaded");
	if (opts->hold_at_exit && (err = start_exits(ld, opts)))
		note("processes cannot be held on their way out (%s): what they leave behind is "
		     "reported as the last scan saw it",
		     strerror(-err));
	phase__done("exits.bpf.o loaded");
	if (opts->go_probes && (err = start_go(ld, opts)))
		note("goroutine probes unavailable (%s): goroutines are read by snapshots only",
		     strerror(-err));
	phase__done("goroutines.bpf.o loaded");
	ld->reaper = link_reaper__start();
	return ld;
fail:
	loader__stop(ld);
	return NULL;
}

static void destroy_go_links(struct loader *ld, pid_t pid)
{
	for (int i = 0; i < MAX_GO_PROCS; i++) {
		struct go_links *slot = &ld->go_links[i];

		if (slot->pid != pid)
			continue;
		for (int k = 0; k < GO_PROBES; k++) {
			link_reaper__destroy(ld->reaper, slot->links[k]);
			link_reaper__close(ld->reaper, slot->multi_fds[k]);
		}
		memset(slot, 0, sizeof(*slot));
		for (int k = 0; k < GO_PROBES; k++)
			slot->multi_fds[k] = -1;
	}
}

void loader__stop(struct loader *ld)
{
	if (!ld)
		return;
	for (int i = 0; i < ld->nuprobes; i++)
		link_reaper__destroy(ld->reaper, ld->uprobes[i]);
	/* the links only: the maps go with the objects (clearing the state table would touch
	 * every page of it) */
	for (int i = 0; i < MAX_GO_PROCS; i++)
		if (ld->go_links[i].pid)
			destroy_go_links(ld, ld->go_links[i].pid);
	for (int i = 0; i < MAX_HOLDS; i++)
		link_reaper__destroy(ld->reaper, ld->holds[i].link);
	for (int i = 0; i < ld->nlibc_holds; i++)
		link_reaper__destroy(ld->reaper, ld->libc_holds[i]);
	/* every uprobe gone before the programs they run */
	link_reaper__stop(ld->reaper);
	go_slots__unmap(&ld->go_slots);
	goroutines_bpf__destroy(ld->go);
	exits_bpf__destroy(ld->exits);
	if (ld->stats_fd > 0)
		close(ld->stats_fd);
	bpf_link__destroy(ld->iter);
	bpf_link__destroy(ld->iter_halves[0]);
	bpf_link__destroy(ld->iter_halves[1]);
	waits_bpf__destroy(ld->waits);
	threads_bpf__destroy(ld->threads);
	free(ld->scan_buf);
	free(ld);
}

/* A map operation's result as strand returns it: 0 or -errno. */
static int map_err(int rc)
{
	return rc ? -errno : 0;
}

int loader__add_target(struct loader *ld, pid_t pid, uint32_t flags)
{
	uint32_t key = (uint32_t)pid;

	return map_err(bpf_map__update_elem(ld->threads->maps.targets, &key, sizeof(key), &flags,
					    sizeof(flags), BPF_ANY));
}

int loader__remove_target(struct loader *ld, pid_t pid)
{
	uint32_t key = (uint32_t)pid;

	return map_err(bpf_map__delete_elem(ld->threads->maps.targets, &key, sizeof(key), 0));
}

int loader__attach_pthread_probe(struct loader *ld, pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uopts);
	char path[PATH_MAX];
	struct bpf_link *link;
	uint64_t offset;
	uint32_t start_off;
	int err;

	err = libc_paths__find(&ld->libc_paths, pid, true, path, sizeof(path));
	if (err)
		return err;
	for (int i = 0; i < ld->nuprobes; i++)
		if (strcmp(ld->uprobe_paths[i], path) == 0)
			return 0;
	if (ld->nuprobes == MAX_UPROBES)
		return -E2BIG;
	/* a glibc that publishes where its threads keep their start routine needs no trap:
	 * the clone reads it (threads.bpf.c) */
	if (!elfsym__thread_db_field(path, "pthread_start_routine", &start_off))
		return 0;
	err = elfsym__probe_offset(path, "pthread_create", &offset);
	if (err)
		return err;
	link = bpf_program__attach_uprobe_opts(ld->threads->progs.pthread_create_entry,
					       pid > 0 ? pid : -1, path, (size_t)offset, &uopts);
	if (!link)
		return -errno;
	snprintf(ld->uprobe_paths[ld->nuprobes], PATH_MAX, "%s", path);
	ld->uprobes[ld->nuprobes++] = link;
	return 0;
}

int loader__ringbuf_fd(struct loader *ld)
{
	return bpf_map__fd(ld->threads->maps.events);
}

int loader__set_site_slots(struct loader *ld, uint64_t coarse_key,
			   const struct strand_site_slots *slots)
{
	return map_err(bpf_map__update_elem(ld->threads->maps.site_slots, &coarse_key,
					    sizeof(coarse_key), slots, sizeof(*slots), BPF_ANY));
}

int loader__site_slots(struct loader *ld, uint64_t coarse_key, struct strand_site_slots *slots)
{
	return map_err(bpf_map__lookup_elem(ld->threads->maps.site_slots, &coarse_key,
					    sizeof(coarse_key), slots, sizeof(*slots), 0));
}

int loader__set_clone_site(struct loader *ld, uint64_t clone_key,
			   const struct strand_clone_site *site)
{
	return map_err(bpf_map__update_elem(ld->threads->maps.clone_sites, &clone_key,
					    sizeof(clone_key), site, sizeof(*site), BPF_ANY));
}

int loader__clone_site(struct loader *ld, uint64_t clone_key, struct strand_clone_site *site)
{
	return map_err(bpf_map__lookup_elem(ld->threads->maps.clone_sites, &clone_key,
					    sizeof(clone_key), site, sizeof(*site), 0));
}

int loader__set_python(struct loader *ld, pid_t pid, const struct strand_python_layout *layout)
{
	uint32_t key = (uint32_t)pid;
	struct bpf_map *map = ld->threads->maps.python_procs;

	if (!layout) {
		int err = map_err(bpf_map__delete_elem(map, &key, sizeof(key), 0));

		return err == -ENOENT ? 0 : err;
	}
	return map_err(
		bpf_map__update_elem(map, &key, sizeof(key), layout, sizeof(*layout), BPF_ANY));
}

void loader__read_counters(struct loader *ld, uint64_t out[STRAND_CNT__MAX])
{
	uint64_t *percpu = xcalloc((size_t)ld->ncpus, sizeof(uint64_t));

	for (uint32_t k = 0; k < STRAND_CNT__MAX; k++) {
		out[k] = 0;
		if (bpf_map__lookup_elem(ld->threads->maps.counters, &k, sizeof(k), percpu,
					 sizeof(uint64_t) * (size_t)ld->ncpus, 0))
			continue;
		for (int c = 0; c < ld->ncpus; c++)
			out[k] += percpu[c];
	}
	free(percpu);
}

int loader__scan_tasks(struct loader *ld, bool halves, task_record_fn fn, void *ctx)
{
	int fds[2];

	if (!halves || !ld->iter_halves[0] || !ld->iter_halves[1] || cpus_usable() < 2)
		return task_iter__records(bpf_link__fd(ld->iter), &ld->scan_buf, fn, ctx);
	fds[0] = bpf_link__fd(ld->iter_halves[0]);
	fds[1] = bpf_link__fd(ld->iter_halves[1]);
	ld->scans_in_halves++;
	return task_iter__records_halves(fds, &ld->scan_buf, fn, ctx);
}

uint64_t loader__scans_in_halves(const struct loader *ld)
{
	return ld->scans_in_halves;
}

int loader__list_tasks(struct loader *ld, pid_t pid, task_brief_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo = {0};
	struct bpf_link *link;
	int n;

	if (pid > 0) {
		linfo.task.pid = (uint32_t)pid;
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
	}
	link = bpf_program__attach_iter(ld->waits->progs.list_tasks, &opts);
	if (!link) /* the process has gone, or never was */
		return errno == ENOENT && pid > 0 ? -ESRCH : -errno;
	n = task_iter__briefs(bpf_link__fd(link), &ld->scan_buf, fn, ctx);
	bpf_link__destroy(link);
	return n == 0 && pid > 0 ? -ESRCH : n;
}

int loader__attach_go(struct loader *ld, pid_t pid, const char *exe,
		      const struct strand_go_config *cfg, const uint64_t offsets[GO_PROBES])
{
	struct bpf_program *progs[GO_PROBES];
	struct go_links *slot = NULL;
	uint32_t key = (uint32_t)pid;
	int err = 0;

	if (!ld->go)
		return -ENOTSUP;
	for (int i = 0; i < MAX_GO_PROCS && !slot; i++)
		if (!ld->go_links[i].pid)
			slot = &ld->go_links[i];
	if (!slot)
		return -E2BIG;
	if (bpf_map__update_elem(ld->go->maps.go_configs, &key, sizeof(key), cfg, sizeof(*cfg),
				 BPF_ANY))
		return -errno;
	progs[GO_PROBE_CREATE] = ld->go->progs.go_create;
	progs[GO_PROBE_EXIT] = ld->go->progs.go_exit;
	progs[GO_PROBE_PARK] = ld->go->progs.go_park;
	progs[GO_PROBE_READY] = ld->go->progs.go_ready;
	slot->pid = pid;
	for (int i = 0; i < GO_PROBES; i++)
		slot->multi_fds[i] = -1;
	for (int i = 0; i < GO_PROBES && !err; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uopts);

		if (!offsets[i])
			continue;
		if (ld->go_multi && (i == GO_PROBE_CREATE || i == GO_PROBE_EXIT)) {
			int fd = uprobe_multi__attach(bpf_program__fd(progs[i]), exe, offsets[i],
						      pid);

			if (fd < 0)
				err = fd;
			else
				slot->multi_fds[i] = fd;
			continue;
		}
		slot->links[i] =
			bpf_program__attach_uprobe_opts(progs[i], pid, exe, offsets[i], &uopts);
		if (!slot->links[i])
			err = -errno;
	}
	if (err)
		loader__detach_go(ld, pid);
	return err;
}

int loader__attach_exit_hold(struct loader *ld, pid_t pid, const char *path, uint64_t offset,
			     enum strand_exit_abi abi)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uopts, .bpf_cookie = abi);
	int free_slot = -1;

	if (!ld->exits)
		return -ENOTSUP;
	for (int i = 0; i < MAX_HOLDS; i++) {
		if (ld->holds[i].pid == pid)
			return 0; /* armed already */
		if (!ld->holds[i].link && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -E2BIG;
	ld->holds[free_slot].link = bpf_program__attach_uprobe_opts(ld->exits->progs.exit_hold, pid,
								    path, offset, &uopts);
	if (!ld->holds[free_slot].link)
		return -errno;
	ld->holds[free_slot].pid = pid;
	return 0;
}

int loader__attach_libc_exit_hold(struct loader *ld, pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uopts, .bpf_cookie = STRAND_EXIT_ABI_C);
	char path[PATH_MAX];
	struct bpf_link *link;
	uint64_t offset;
	int err;

	if (!ld->exits)
		return -ENOTSUP;
	if ((err = libc_paths__find(&ld->libc_paths, pid, false, path, sizeof(path))))
		return err;
	for (int i = 0; i < ld->nlibc_holds; i++)
		if (!strcmp(ld->libc_hold_paths[i], path))
			return 0;
	if (ld->nlibc_holds == MAX_UPROBES)
		return -E2BIG;
	/* exit() runs the atexit handlers, then _exit(): the threads left then are left for
	 * good. Every process of the C library's users, the kernel filters the targets. */
	if ((err = elfsym__probe_offset(path, "_exit", &offset)))
		return err;
	link = bpf_program__attach_uprobe_opts(ld->exits->progs.exit_hold, -1, path, (size_t)offset,
					       &uopts);
	if (!link)
		return -errno;
	snprintf(ld->libc_hold_paths[ld->nlibc_holds], PATH_MAX, "%s", path);
	ld->libc_holds[ld->nlibc_holds++] = link;
	return 0;
}

void loader__detach_exit_hold(struct loader *ld, pid_t pid)
{
	for (int i = 0; i < MAX_HOLDS; i++) {
		if (ld->holds[i].pid != pid)
			continue;
		link_reaper__destroy(ld->reaper, ld->holds[i].link);
		ld->holds[i].link = NULL;
		ld->holds[i].pid = 0;
	}
}

/* Deletes the entries of pid from a map whose keys start with the tgid: a process that is
 * gone must not leave state a later process with its pid would inherit. */
static void delete_pid_entries(struct bpf_map *map, pid_t pid)
{
	size_t ksize = bpf_map__key_size(map);
	uint8_t key[64], next[64];
	bool have_key = false; /* the last key kept: the iteration resumes after it */
	uint32_t tgid;

	if (ksize > sizeof(key) || ksize < sizeof(tgid))
		return;
	while (!bpf_map__get_next_key(map, have_key ? key : NULL, next, ksize)) {
		memcpy(&tgid, next, sizeof(tgid));
		if (tgid == (uint32_t)pid && !bpf_map__delete_elem(map, next, ksize, 0))
			continue;
		memcpy(key, next, ksize);
		have_key = true;
	}
}

void loader__unlink_go(struct loader *ld, pid_t pid)
{
	destroy_go_links(ld, pid);
}

int loader__set_go_budget(struct loader *ld, pid_t pid, uint32_t limit, uint64_t window_ns)
{
	struct strand_go_budget b = {.window_ns = window_ns, .limit = limit ? limit : 1};
	uint32_t key = (uint32_t)pid;

	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__update_elem(ld->go->maps.go_budgets, &key, sizeof(key), &b,
					    sizeof(b), BPF_ANY));
}

int loader__go_budget(struct loader *ld, pid_t pid, struct strand_go_budget *out)
{
	uint32_t key = (uint32_t)pid;

	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__lookup_elem(ld->go->maps.go_budgets, &key, sizeof(key), out,
					    sizeof(*out), 0));
}

/* The function the cost of a trap is timed on: its first instruction a jump, which the
 * kernel emulates as it does the goroutine probes' (a stack check's JBE). */
__attribute__((noinline)) void strand_uprobe_calibration(void)
{
	__asm__ volatile("jmp 1f\n1:\n" ::: "memory");
}

/* 1000 traps: 5 ms where a trap costs 5 us, which the budget needs to within a few percent */
#define CALIBRATION_CALLS 1000

/* On strand's own CPU clock, which a trap's kernel work is charged to and a preemption
 * (a busy machine) is not. */
static uint64_t time_calls(void)
{
	uint64_t t0 = thread_cpu_ns();

	for (int i = 0; i < CALIBRATION_CALLS; i++)
		strand_uprobe_calibration();
	return thread_cpu_ns() - t0;
}

int loader__uprobe_cost(struct loader *ld, double *ns)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uopts);
	uint64_t plain, probed, offset;
	struct bpf_link *link;
	int err;

	if (!ld->go)
		return -ENOTSUP;
	if ((err = elfsym__probe_offset("/proc/self/exe", "strand_uprobe_calibration", &offset)))
		return err;
	time_calls(); /* the first calls fault the pages in */
	plain = time_calls();
	/* the create probe's own program: for strand, a process with no config, it returns at
	 * its first lookup, as it does for every process strand does not trace */
	if (ld->go_multi) {
		int fd = uprobe_multi__attach(bpf_program__fd(ld->go->progs.go_create),
					      "/proc/self/exe", offset, getpid());

		if (fd < 0)
			return fd;
		probed = time_calls();
		link_reaper__close(ld->reaper, fd); /* after: its removal is not waited for */
	} else {
		link = bpf_program__attach_uprobe_opts(ld->go->progs.go_create, getpid(),
						       "/proc/self/exe", (size_t)offset, &uopts);
		if (!link)
			return -errno;
		probed = time_calls();
		link_reaper__destroy(ld->reaper, link);
	}
	*ns = probed > plain ? (double)(probed - plain) / CALIBRATION_CALLS : 0;
	return 0;
}

void loader__detach_go(struct loader *ld, pid_t pid)
{
	uint32_t key = (uint32_t)pid;

	destroy_go_links(ld, pid);
	if (!ld->go)
		return;
	bpf_map__delete_elem(ld->go->maps.go_configs, &key, sizeof(key), 0);
	bpf_map__delete_elem(ld->go->maps.go_budgets, &key, sizeof(key), 0);
	go_slots__clear_pid(&ld->go_slots, pid);
	delete_pid_entries(ld->go->maps.go_sites, pid);
	delete_pid_entries(ld->go->maps.go_fanout, pid);
	delete_pid_entries(ld->go->maps.go_callers, pid);
	bpf_map__delete_elem(ld->go->maps.go_learned_curg, &key, sizeof(key), 0);
}

int loader__go_learned_curg(struct loader *ld, pid_t pid, int32_t *off)
{
	uint32_t key = (uint32_t)pid;

	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__lookup_elem(ld->go->maps.go_learned_curg, &key, sizeof(key), off,
					    sizeof(*off), 0));
}

int loader__update_go_config(struct loader *ld, pid_t pid, const struct strand_go_config *cfg)
{
	uint32_t key = (uint32_t)pid;

	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__update_elem(ld->go->maps.go_configs, &key, sizeof(key), cfg,
					    sizeof(*cfg), BPF_EXIST));
}

int loader__go_state(struct loader *ld, pid_t pid, uint64_t goid, struct strand_go_state *st)
{
	if (!ld->go)
		return -ENOTSUP;
	return go_slots__find(&ld->go_slots, pid, goid, st) ? 0 : -ENOENT;
}

int loader__go_site(struct loader *ld, pid_t pid, uint64_t gopc, struct strand_go_site *site)
{
	struct strand_go_key key = {.tgid = (uint32_t)pid, .addr = gopc};

	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__lookup_elem(ld->go->maps.go_sites, &key, sizeof(key), site,
					    sizeof(*site), 0));
}

int loader__go_caller(struct loader *ld, pid_t pid, const struct strand_go_site *site,
		      uint64_t gopc, uint64_t caller, uint64_t *spawned)
{
	struct strand_go_caller_key key = {.tgid = (uint32_t)pid, .gopc = gopc, .caller = caller};

	if (site && site->caller0 == caller) { /* the site's first caller: counted in the site */
		*spawned = site->caller0_spawned;
		return 0;
	}
	if (!ld->go)
		return -ENOTSUP;
	return map_err(bpf_map__lookup_elem(ld->go->maps.go_callers, &key, sizeof(key), spawned,
					    sizeof(*spawned), 0));
}

int loader__enable_stats(struct loader *ld)
{
	int fd = ld->stats_fd > 0 ? ld->stats_fd : bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0)
		return fd;
	ld->stats_fd = fd;
	return 0;
}

static struct bpf_object *const *loader_objects(const struct loader *ld, size_t *n)
{
	static struct bpf_object *objs[3];

	*n = 0;
	if (ld->threads)
		objs[(*n)++] = ld->threads->obj;
	if (ld->waits)
		objs[(*n)++] = ld->waits->obj;
	if (ld->go)
		objs[(*n)++] = ld->go->obj;
	return objs;
}

void loader__prog_stats(struct loader *ld, prog_stats_fn fn, void *ctx)
{
	size_t n;
	struct bpf_object *const *objs = loader_objects(ld, &n);

	for (size_t i = 0; i < n; i++) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, objs[i])
		{
			struct bpf_prog_info info = {0};
			__u32 len = sizeof(info);
			int fd = bpf_program__fd(p);

			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
				continue;
			fn(ctx, bpf_program__name(p), info.run_cnt, info.run_time_ns);
		}
	}
}

/* Keys of a hash map, counted a batch at a time (values not copied out). */
static int64_t count_entries(int fd, uint32_t key_size, uint32_t value_size, uint32_t max)
{
	size_t bytes = (size_t)4096 * (key_size + value_size);
	uint8_t *keys = malloc((size_t)4096 * key_size), *vals = malloc(bytes);
	uint64_t in = 0, out = 0;
	int64_t total = 0;
	bool first = true;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (;;) {
		__u32 count = 4096;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count,
					       NULL);

		total += count;
		if (err || total >= max)
			break;
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return total;
}

void loader__map_stats(struct loader *ld, map_stats_fn fn, void *ctx)
{
	size_t n;
	struct bpf_object *const *objs = loader_objects(ld, &n);

	for (size_t i = 0; i < n; i++) {
		struct bpf_map *m;

		bpf_object__for_each_map(m, objs[i])
		{
			enum bpf_map_type type = bpf_map__type(m);
			bool hash = type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_LRU_HASH;
			const char *name = bpf_map__name(m);

			if (strstr(name, ".rodata") || strstr(name, ".bss") ||
			    strstr(name, ".data"))
				continue;
			if (ld->go && m == ld->go->maps.go_slots) { /* occupancy in ways */
				fn(ctx, name, (int64_t)go_slots__used(&ld->go_slots),
				   (ld->go_slots.mask + 1) * STRAND_GO_WAYS);
				continue;
			}
			fn(ctx, name,
			   hash ? count_entries(bpf_map__fd(m), bpf_map__key_size(m),
						bpf_map__value_size(m), bpf_map__max_entries(m))
				: -1,
			   bpf_map__max_entries(m));
		}
	}
}
