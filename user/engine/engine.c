// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "engine/engine.h"
#include "collect/collector.h"
#include "collect/waits.h"
#include "engine/guardian.h"
#include "go/goroutines.h"
#include "lib/phases.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/stacks.h"
#include "sys/procfs.h"
#include "verdicts/detect.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define HOLD_SETTLE_MS 200 /* a process held on its way out: its threads' stop, at most */

static void on_process_exit(void *ctx, pid_t pid, int exit_code)
{
	struct engine *e = ctx;

	hashmap__del(&e->exited_held, (uint64_t)pid);
	go_tracker__forget(e->go, pid);
	if (e->on_exit)
		e->on_exit(e->on_exit_ctx, pid, exit_code);
}

static void scan_go_process(struct engine *e, pid_t pid);

/* The goroutine probes' budget, from what a trap costs here, timed once. */
static void set_overhead(struct engine *e)
{
	double trap_ns = 0;
	int err;

	if (!e->opts.go_probes)
		return;
	if ((err = loader__uprobe_cost(e->ld, &trap_ns)) && err != -ENOTSUP)
		note("the cost of a uprobe could not be timed (%s): 2 us assumed for the "
		     "--overhead budget",
		     strerror(-err));
	go_tracker__overhead(e->go, e->opts.overhead_pct, trap_ns);
}

/* The exit holds of pid: on runtime.exit if it is a Go program, on its C library's _exit
 * (shared by every process of that library). */
static void arm_exit_holds(struct engine *e, pid_t pid)
{
	int err;

	go_tracker__arm_exit(e->go, pid);
	err = loader__attach_libc_exit_hold(e->ld, pid);
	if (err && err != -ENOTSUP && err != -ENOENT && procfs__exists(pid))
		note("threads pid %d leaves when it exits are as the last scan saw them: no hold "
		     "on its C library's _exit (%s)",
		     pid, strerror(-err));
}

/* A new image held at its first stack sample, before its main runs: arm its exit hold. */
static void on_new_image(void *ctx, pid_t pid)
{
	struct engine *e = ctx;

	if (e->opts.hold_at_exit)
		arm_exit_holds(e, pid);
}

/* pid is held on its way out: read once the ring buffer's records are all handled (not in
 * the middle of them), see engine__release_held. One already read goes at once. */
static void on_exiting(void *ctx, pid_t pid, int code)
{
	struct engine *e = ctx;

	if (hashmap__get(&e->exited_held, (uint64_t)pid) || e->nheld == ENGINE_MAX_HELD) {
		kill(pid, SIGCONT);
		return;
	}
	hashmap__set(&e->exited_held, (uint64_t)pid, (void *)1);
	e->held[e->nheld].pid = pid;
	e->held[e->nheld++].code = code;
}

void engine__release_held(struct engine *e)
{
	if (!e->nheld)
		return;
	/* every goroutine and thread as the processes leave them, judged so, then let go:
	 * once every thread has stopped (a thread in a wait is in it still, the kernel
	 * restarts it; one on its way to the stop is in neither) */
	for (size_t i = 0; i < e->nheld; i++)
		if (procfs__wait_stopped(e->held[i].pid, HOLD_SETTLE_MS) == -ETIMEDOUT)
			note("pid %d held on its way out: not all its threads stopped within %d "
			     "ms; "
			     "those still running are read as they were",
			     e->held[i].pid, HOLD_SETTLE_MS);
	for (size_t i = 0; i < e->nheld; i++) {
		struct process *p = model__find_process(&e->model, e->held[i].pid);

		if (p) {
			p->held_at_exit = true;
			p->exit_status = e->held[i].code;
		}
		go_tracker__at_exit(e->go, e->held[i].pid, e->held[i].code);
		scan_go_process(e, e->held[i].pid);
	}
	if (wait_table__scan(e->waits) < 0)
		note("the threads of a process held on its way out could not be read: they are "
		     "as the last scan saw them");
	go_tracker__annotate(e->go, &e->model);
	engine__judge(e);
	for (size_t i = 0; i < e->nheld; i++) {
		struct process *p = model__find_process(&e->model, e->held[i].pid);

		if (p)
			p->exit_judged = true;
		kill(e->held[i].pid, SIGCONT);
	}
	e->nheld = 0;
}

uint32_t engine__target_flags(struct engine *e, pid_t pid)
{
	if (!e->opts.hold_at_exit || guardian__watch(e->guardian, pid))
		return 0;
	/* armed before strand says it is attached (a command is armed again when its new
	 * image is held, before its main runs) */
	arm_exit_holds(e, pid);
	return STRAND_TARGET_HOLD_AT_EXIT;
}

int engine__start(struct engine *e, const struct engine_opts *opts)
{
	struct loader_opts lopts = {0};
	int code = 0;

	memset(e, 0, sizeof(*e));
	e->opts = *opts;
	hashmap__init(&e->exited_held);
	/* first, while strand has no fd a fork would carry: what releases a process held on
	 * its way out should strand die holding it */
	if (opts->hold_at_exit && !(e->guardian = guardian__start()))
		e->opts.hold_at_exit = false;
	model__init(&e->model, opts->max_tasks);
	lopts.trace_all = opts->all;
	lopts.only_pid = opts->only_pid;
	lopts.verbose = opts->verbose;
	lopts.go_probes = opts->go_probes;
	lopts.ringbuf_bytes = opts->ringbuf_bytes;
	lopts.go_states = opts->go_states;
	lopts.scan_halves = opts->scan_halves;
	lopts.hold_at_exit = e->opts.hold_at_exit;
	/* waits half the threshold old get their stack and details: ready when it matters */
	lopts.stack_after_ns = (uint64_t)opts->threshold_ns / 2;
	if (lopts.stack_after_ns > 5 * NSEC_PER_SEC)
		lopts.stack_after_ns = 5 * NSEC_PER_SEC;
	e->scan_every_ns = (uint64_t)opts->threshold_ns / 4;
	if (e->scan_every_ns > NSEC_PER_SEC)
		e->scan_every_ns = NSEC_PER_SEC;
	e->ld = loader__start(&lopts, &code);
	if (!e->ld)
		return code;
	e->stacks = stacks__new();
	e->col = collector__new(e->ld, &e->model, e->stacks);
	if (!e->col) {
		say("cannot read the BPF ring buffer: %s", strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	collector__on_process_exit(e->col, on_process_exit, e);
	e->waits = wait_table__new(e->ld, e->stacks, &e->model, lopts.stack_after_ns);
	e->detector =
		detector__new(&e->model, e->waits, (uint64_t)opts->threshold_ns, opts->runaway);
	detector__judge_exits(e->detector, e->opts.exit_leaks);
	e->go = go_tracker__new(stacks__symbolizer(e->stacks), e->ld, (uint64_t)opts->threshold_ns,
				opts->runaway, opts->max_goroutines);
	collector__on_go_site(e->col, go_tracker__on_site, e->go);
	go_tracker__hold_exits(e->go, e->opts.hold_at_exit, e->opts.exit_leaks);
	go_tracker__exact_waits(e->go, e->opts.exact_waits);
	collector__on_go_over_budget(e->col, go_tracker__on_over_budget, e->go);
	set_overhead(e);
	collector__on_new_image(e->col, on_new_image, e);
	collector__on_exiting(e->col, on_exiting, e);
	e->start_ns = now_mono_ns();
	e->started_unix_s = now_wall();
	e->model.start_ns = e->start_ns;
	return 0;
}

void engine__stop(struct engine *e)
{
	for (size_t i = 0; i < e->nheld; i++) /* held, never read: let go unread */
		kill(e->held[i].pid, SIGCONT);
	e->nheld = 0;
	guardian__stop(e->guardian); /* a clean end: nothing is held */
	hashmap__free(&e->exited_held);
	go_tracker__free(e->go);
	detector__free(e->detector);
	wait_table__free(e->waits);
	collector__free(e->col);
	stacks__free(e->stacks);
	loader__stop(e->ld);
	model__free(&e->model);
	memset(e, 0, sizeof(*e));
}

static void add_thread(void *ctx, const struct strand_task_brief *b)
{
	struct engine *e = ctx;
	pid_t pid = (pid_t)b->tgid;

	if (!model__find_process(&e->model, pid)) {
		model__process(&e->model, pid, b->leader_comm);
		/* its next spawns come with their Python frames if it runs CPython */
		collector__watch_python(e->col, pid, false);
	}
	model__add_existing(&e->model, pid, (pid_t)b->tid, b->comm, b->start_ns);
}

int engine__add_existing(struct engine *e, pid_t pid)
{
	/* after the kernel began sending its spawns: a thread born since is spawned, not listed */
	if (pid) {
		model__process(&e->model, pid, NULL)->listed_ns = now_mono_ns();
		collector__watch_python(e->col, pid, false);
	} else
		e->model.all_listed_ns = now_mono_ns();
	return loader__list_tasks(e->ld, pid, add_thread, e);
}

/* Every process's parent, from one listing of the machine's threads. */
static void note_parent(void *ctx, const struct strand_task_brief *b)
{
	struct hashmap *parent_of = ctx;

	if (b->tid == b->tgid)
		hashmap__set(parent_of, b->tgid, (void *)(uintptr_t)(b->ppid + 1));
}

/* Adds the processes descended from pid not traced yet; returns how many, or -errno. */
static int add_new_descendants(struct engine *e, pid_t pid, uint32_t flags, struct hashmap *added)
{
	struct hashmap parent_of;
	bool more = true;
	uint64_t child;
	void *val;
	int n = 0, err;

	hashmap__init(&parent_of);
	err = loader__list_tasks(e->ld, 0, note_parent, &parent_of);
	/* a child's child may come before it in the listing: until nothing is added */
	while (err >= 0 && more) {
		more = false;
		for (size_t i = 0; hashmap__next(&parent_of, &i, &child, &val);) {
			pid_t parent = (pid_t)((uintptr_t)val - 1);

			if (hashmap__get(added, child) ||
			    (parent != pid && !hashmap__get(added, (uint64_t)parent)))
				continue;
			hashmap__set(added, child, (void *)1);
			more = true;
			/* its threads listed once it is a target, not from the listing above: a
			 * thread it makes in between is seen by one or the other */
			if (loader__add_target(e->ld, (pid_t)child, flags) ||
			    engine__add_existing(e, (pid_t)child) < 0)
				continue; /* gone meanwhile */
			n++;
		}
	}
	hashmap__free(&parent_of);
	return err < 0 ? err : n;
}

int engine__add_descendants(struct engine *e, pid_t pid, uint32_t flags)
{
	struct hashmap added;
	int n = 0, got;

	hashmap__init(&added);
	/* pid follows its forks already: a child forked from now on is traced by the kernel.
	 * A child of a child found here may fork before it is a target: looked for again. */
	for (int pass = 0; pass < 3; pass++) {
		got = add_new_descendants(e, pid, flags, &added);
		if (got < 0) {
			n = got;
			break;
		}
		n += got;
		if (!got)
			break;
	}
	hashmap__free(&added);
	return n;
}

static void scan_go_process(struct engine *e, pid_t pid)
{
	enum go_scan_result res = go_tracker__scan(e->go, pid, now_mono_ns());
	struct process *p = model__find_process(&e->model, pid);

	e->is_go |= res == GO_TRACKED;
	if (p && res != GO_NOT_GO)
		p->go = true;
	if (e->on_go_scan)
		e->on_go_scan(e->on_go_scan_ctx, pid, (int)res);
}

/* Goroutines of every traced Go process (a command's children too: `go test` runs its
 * test binaries as children): the first scan of a process attaches its runtime probes. */
static void scan_goroutines(struct engine *e)
{
	uint64_t pid;
	void *val;

	if (e->opts.only_pid) {
		scan_go_process(e, e->opts.only_pid);
	} else {
		for (size_t i = 0; hashmap__next(&e->model.procs, &i, &pid, &val);)
			if (!((struct process *)val)->exited)
				scan_go_process(e, (pid_t)pid);
	}
	go_tracker__annotate(e->go, &e->model);
}

uint64_t engine__scan_gap(uint64_t every_ns, uint64_t cpu_ns)
{
	uint64_t gap = cpu_ns * (100 / SCAN_BUDGET_PCT);

	/* a period shorter than a second (a short threshold) is the user's to ask for, and a
	 * scan of tens of milliseconds is not worth coarser verdicts: only scans that cost
	 * more than SCAN_PACED_NS, and more than the budget at one a second, are spaced */
	return cpu_ns > SCAN_PACED_NS && gap > NSEC_PER_SEC && gap > every_ns ? gap : every_ns;
}

/* The next scan, paced by the cheaper of the last two: a scan that reads processes new to it
 * (their runtime's layout proved, every stack walked, their binaries' symbols read) costs
 * more than the scans that follow, and sets no pace on its own. */
static void pace_scans(struct engine *e, uint64_t cpu_ns)
{
	uint64_t steady = e->scans++ && e->scan_cpu_ns < cpu_ns ? e->scan_cpu_ns : cpu_ns;

	e->scan_gap_ns =
		e->scans > 1 ? engine__scan_gap(e->scan_every_ns, steady) : e->scan_every_ns;
	e->scan_cpu_ns = cpu_ns;
	e->next_scan_ns = now_mono_ns() + e->scan_gap_ns;
}

int engine__scan(struct engine *e)
{
	int n = collector__drain(e->col);
	uint64_t cpu;

	engine__release_held(e);
	if (n < 0)
		return n;
	/* the scan's own cost paces the scans, not the events drained before it: all of it, the
	 * threads it reads and walks on beside this one (a large process's) included */
	cpu = process_cpu_ns();
	phase__done("events drained");
	n = wait_table__scan(e->waits);
	if (n < 0 && n != -ESRCH)
		note("scanning threads failed: %s", strerror(-n));
	scan_goroutines(e);
	phase__done("goroutines scanned");
	model__sample_sites(&e->model, now_mono_ns());
	engine__judge(e);
	pace_scans(e, process_cpu_ns() - cpu);
	return 0;
}

int engine__drain(struct engine *e)
{
	int n = collector__drain(e->col);

	engine__release_held(e);
	return n < 0 ? n : 0;
}

int engine__poll(struct engine *e, int ms)
{
	int err = collector__poll(e->col, ms);

	engine__release_held(e);
	if (err)
		return err;
	if (now_mono_ns() >= e->next_scan_ns)
		return engine__scan(e);
	return 0;
}

bool engine__leaks_remain(struct engine *e)
{
	const struct detection *det = detector__last(e->detector);

	return (det && (det->stranded || det->deadlocked)) ||
	       (e->is_go && go_tracker__stranded(e->go));
}
