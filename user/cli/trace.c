// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/trace.h"
#include "cli/trace_opts.h"
#include "collect/collector.h"
#include "collect/model.h"
#include "collect/waits.h"
#include "engine/engine.h"
#include "go/golayout.h"
#include "go/goroutines.h"
#include "lib/output.h"
#include "lib/phases.h"
#include "lib/prefault.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "report/recording.h"
#include "report/report.h"
#include "report/report_doc.h"
#include "report/report_out.h"
#include "sym/stacks.h"
#include "sys/procfs.h"

struct trace {
	struct trace_opts opts;
	struct engine e;
	bool go_unsupported;
	char go_warning[256];
	pid_t child; /* the command started with -- */
	int child_status;
	bool child_done;
	bool target_gone;
	int descendants; /* -f: the processes descended from -p PID when it attached */
	struct recorder *recorder;
	uint64_t next_record_ns;
	bool record_failed;
};

static volatile sig_atomic_t stop_requested; /* the signal that asked */

static void on_signal(int sig)
{
	stop_requested = sig;
}

/* Interrupted before the trace began (loading and attaching take seconds on a busy
 * machine): nothing to report, and nothing gained by finishing the attach first. */
static bool interrupted_early(int *code)
{
	if (!stop_requested)
		return false;
	say("interrupted before the trace began: nothing to report");
	*code = 128 + stop_requested;
	return true;
}

static void on_process_exit(void *ctx, pid_t pid, int exit_code)
{
	struct trace *t = ctx;

	if (t->opts.pid == pid) {
		t->target_gone = true;
		note("pid %d exited during the trace (status %d); reporting what was seen", pid,
		     exit_code >> 8);
	}
}

/*
 * Starts COMMAND stopped before exec, so that it can be made a target before it runs a
 * single instruction of its own; release_child() lets it go. Exec failures come back
 * through a close-on-exec pipe.
 */
static int start_child(struct trace *t, int *go_fd, int *err_fd)
{
	int go[2], err[2];

	if (pipe2(go, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		say("cannot start '%s': %s", t->opts.command[0], strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	t->child = fork();
	if (t->child < 0) {
		say("cannot start '%s': %s", t->opts.command[0], strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	if (t->child == 0) {
		char c;
		int e;

		close(go[1]);
		close(err[0]);
		/* strand may stop this process for a moment (for its memory map): should strand
		 * die meanwhile, the kernel sends the SIGCONT it owes */
		prctl(PR_SET_PDEATHSIG, SIGCONT);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execvp(t->opts.command[0], t->opts.command);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(err[1]);
	*go_fd = go[1];
	*err_fd = err[0];
	return 0;
}

/* The trace ends before COMMAND (Ctrl-C, --for): ask it to stop, then insist. */
static void stop_child(pid_t child)
{
	kill(child, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(child, NULL, WNOHANG) == child)
			return;
		usleep(20000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static int release_child(struct trace *t, int go_fd, int err_fd)
{
	int e = 0;
	ssize_t n;

	if (write(go_fd, "g", 1) != 1)
		e = errno;
	close(go_fd);
	n = read(err_fd, &e, sizeof(e));
	close(err_fd);
	if (n == sizeof(e) || e) {
		say("cannot run '%s': %s", t->opts.command[0], strerror(e));
		waitpid(t->child, NULL, 0);
		t->child = 0;
		return e == ENOENT || e == EACCES || e == ENOTDIR ? STRAND_EXIT_NO_TARGET
								  : STRAND_EXIT_ERROR;
	}
	return 0;
}

/* Whether the target is a Go program whose goroutines cannot be read: the report says so. */
static void on_go_scan(void *ctx, pid_t pid, int res)
{
	struct trace *t = ctx;

	if (pid != (t->opts.pid ? t->opts.pid : t->child))
		return;
	/* a layout still being tried when the trace ends is said too: nothing left out silently */
	t->go_unsupported = res == GO_UNSUPPORTED || res == GO_NOT_YET;
	if (t->go_unsupported) {
		snprintf(t->go_warning, sizeof(t->go_warning),
			 "the target is a Go program whose goroutines strand %s (%s): "
			 "only its threads are listed",
			 res == GO_NOT_YET ? "has not read yet" : "cannot read",
			 go_tracker__problem(t->e.go, pid) ?: "runtime layout not proved");
	}
}

/* A Go program linked statically maps no C library: its threads are the runtime's, started
 * by its own clone, and there is nothing to probe or to say. */
static bool no_libc_needed(const struct trace *t, int err)
{
	char exe[64];

	if (err != -ENOENT || !t->opts.pid)
		return false;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->opts.pid);
	return golayout__is_go(exe);
}

static int setup_targets(struct trace *t)
{
	int go_fd = -1, err_fd = -1, err;

	phase__done("uprobe cost timed");
	if (t->opts.pid) {
		if (!procfs__exists(t->opts.pid)) {
			say("cannot attach to pid %d: no such process", t->opts.pid);
			return STRAND_EXIT_NO_TARGET;
		}
		uint32_t flags = STRAND_TARGET_TRACE | engine__target_flags(&t->e, t->opts.pid) |
				 (t->opts.follow ? STRAND_TARGET_FOLLOW_FORKS : 0);

		err = loader__add_target(t->e.ld, t->opts.pid, flags);
		phase__done("target added, its exit hold armed");
		if (!err)
			err = engine__add_existing(&t->e, t->opts.pid) < 0 ? -ESRCH : 0;
		if (!err && t->opts.follow &&
		    (t->descendants = engine__add_descendants(&t->e, t->opts.pid, flags)) < 0) {
			say("cannot list the children of pid %d: %s", t->opts.pid,
			    strerror(-t->descendants));
			return STRAND_EXIT_ERROR;
		}
		if (err == -ESRCH) {
			say("cannot attach to pid %d: no such process", t->opts.pid);
			return STRAND_EXIT_NO_TARGET;
		}
		if (err) {
			say("cannot trace pid %d: %s", t->opts.pid, strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		phase__done("threads listed");
		stacks__prefetch(t->e.stacks, t->opts.pid);
		phase__done("memory maps read");
		err = loader__attach_pthread_probe(t->e.ld, t->opts.pid);
	} else if (t->opts.command) {
		err = start_child(t, &go_fd, &err_fd);
		if (err)
			return err;
		err = loader__add_target(t->e.ld, t->child,
					 STRAND_TARGET_TRACE | STRAND_TARGET_FOLLOW_FORKS |
						 STRAND_TARGET_STOP_FOR_MAPS |
						 engine__target_flags(&t->e, t->child));
		if (err) {
			say("cannot trace '%s': %s", t->opts.command[0], strerror(-err));
			kill(t->child, SIGKILL);
			waitpid(t->child, NULL, 0);
			return STRAND_EXIT_ERROR;
		}
		/* the child waits for its go-ahead: only a /proc it cannot be read from fails */
		if ((err = engine__add_existing(&t->e, t->child)) < 0) {
			say("cannot read the threads of '%s' (pid %d): %s", t->opts.command[0],
			    t->child, strerror(-err));
			kill(t->child, SIGKILL);
			waitpid(t->child, NULL, 0);
			return STRAND_EXIT_ERROR;
		}
		err = loader__attach_pthread_probe(t->e.ld, -1);
	} else {
		if ((err = engine__add_existing(&t->e, 0)) < 0) {
			say("cannot list the processes in /proc: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		err = loader__attach_pthread_probe(t->e.ld, -1);
	}
	if (err && !no_libc_needed(t, err))
		note("start routines unknown: no pthread_create probe (%s)", strerror(-err));
	if (t->opts.pid) {
		struct process *p = model__find_process(&t->e.model, t->opts.pid);

		phase__done("pthread_create probe attached");
		err = engine__scan(&t->e);
		prefault__release(); /* the first scan's reserve, if any: done with */
		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		if (t->opts.follow)
			note("attached to pid %d (%s) and its %d descendant process%s, and to "
			     "those it will fork",
			     t->opts.pid, p ? p->comm : "?", t->descendants,
			     t->descendants == 1 ? "" : "es");
		else
			note("attached to pid %d (%s)", t->opts.pid, p ? p->comm : "?");
	} else if (t->opts.command) {
		note("attached; starting '%s' as pid %d", t->opts.command[0], t->child);
		return release_child(t, go_fd, err_fd);
	} else {
		note("attached to every process (%zu threads already running)",
		     t->e.model.tasks.len);
	}
	return 0;
}

static void build_report(struct trace *t, struct report *r, bool final)
{
	engine__report(&t->e, r, final, t->target_gone || t->child_done);
	if (t->target_gone)
		report__warn(r, "the target exited during the trace");
	if (t->go_unsupported)
		report__warn(r, t->go_warning);
}

/* The text report is rendered from the report document, as `strand report` renders a
 * recording: what a trace says live is what its recording says later. */
static void render_text(const struct report *r, FILE *f)
{
	struct report_doc doc;

	if (report__doc(r, &doc))
		return;
	report_doc__text(&doc, f);
	report_doc__free(&doc);
}

static void render_live(struct trace *t)
{
	struct report r;

	build_report(t, &r, false);
	r.tasks_per_site = REPORT_TEXT_TASKS_PER_SITE + 1;
	fputs("\033[H\033[2J", stdout);
	render_text(&r, stdout);
	report__release(&r);
}

/* A full disk ends the recording, not the trace: the report at the end still comes. */
static void record_snapshot(struct trace *t, const struct report_doc *doc, bool final)
{
	int err;

	if (!t->recorder || t->record_failed)
		return;
	err = recorder__write(t->recorder, doc, (double)(now_mono_ns() - t->e.start_ns) / 1e9,
			      final);
	if (err) {
		say("recording to '%s' stopped: %s", t->opts.record, strerror(-err));
		t->record_failed = true;
	}
	t->next_record_ns = now_mono_ns() + (uint64_t)t->opts.record_every_ns;
}

static void record_live(struct trace *t)
{
	struct report_doc doc;
	struct report r;
	int err;

	build_report(t, &r, false);
	err = report__doc(&r, &doc);
	report__release(&r);
	if (err) {
		t->next_record_ns = now_mono_ns() + (uint64_t)t->opts.record_every_ns;
		return;
	}
	record_snapshot(t, &doc, false);
	report_doc__free(&doc);
}

static int write_report(struct trace *t, const struct report *r, const struct report_doc *doc)
{
	struct output out;
	int code;

	/* an output file sent to stdout takes the place of the text report there */
	if (!t->opts.output && !t->opts.json && report_outputs__to_stdout(&t->opts.outs))
		return 0;
	if ((code = output__open(&out, t->opts.output)))
		return code;
	if (t->opts.json)
		report__json(out.f, r);
	else
		report_doc__text(doc, out.f);
	return output__close(&out);
}

static int render_final(struct trace *t)
{
	struct report_doc doc = {0};
	struct report r;
	int code;

	build_report(t, &r, true);
	/* the document is what the text, the recording and the profiles are rendered from;
	 * --json alone is written from the report itself, and the text alone needs a few
	 * tasks of each site */
	if (!t->opts.json && !t->recorder && !report_outputs__any(&t->opts.outs) && !t->opts.full)
		r.tasks_per_site = REPORT_TEXT_TASKS_PER_SITE + 1;
	if ((!t->opts.json || t->recorder || report_outputs__any(&t->opts.outs)) &&
	    report__doc(&r, &doc)) {
		say("cannot build the report document");
		report__release(&r);
		return STRAND_EXIT_ERROR;
	}
	doc.full = t->opts.full;
	record_snapshot(t, &doc, true);
	code = write_report(t, &r, &doc);
	report__release(&r);
	if (!code)
		code = report_outputs__write(&t->opts.outs, &doc);
	report_doc__free(&doc);
	if (t->recorder) {
		int err = recorder__close(t->recorder);

		t->recorder = NULL;
		if (err && !t->record_failed)
			say("cannot write '%s': %s", t->opts.record, strerror(-err));
		if ((err || t->record_failed) && !code)
			code = STRAND_EXIT_ERROR;
	}
	return code;
}

static bool should_stop(struct trace *t)
{
	uint64_t now = now_mono_ns();

	if (stop_requested)
		return true;
	if (t->opts.duration_ns && now - t->e.start_ns >= (uint64_t)t->opts.duration_ns)
		return true;
	if (t->child && !t->child_done && waitpid(t->child, &t->child_status, WNOHANG) == t->child)
		t->child_done = true;
	if (t->child_done || t->target_gone)
		return true;
	if (t->opts.pid && !procfs__exists(t->opts.pid)) {
		t->target_gone = true;
		return true;
	}
	return false;
}

static int run_loop(struct trace *t)
{
	uint64_t next_render = t->e.start_ns + (uint64_t)t->opts.interval_ns, rendered_scans = 0;
	int err;

	while (!should_stop(t)) {
		err = engine__poll(&t->e, 100);
		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		/* every interval, once a scan has something new to show: scans spaced wider than
		 * the interval (a million goroutines) would be drawn again and again as they were,
		 * each drawing a report of all of them */
		if (t->opts.live && now_mono_ns() >= next_render &&
		    (t->e.scans != rendered_scans ||
		     t->e.scan_gap_ns <= (uint64_t)t->opts.interval_ns)) {
			render_live(t);
			rendered_scans = t->e.scans;
			next_render = now_mono_ns() + (uint64_t)t->opts.interval_ns;
		}
		if (t->recorder && now_mono_ns() >= t->next_record_ns)
			record_live(t);
	}
	/* events of the last moments, the target's exit among them; a last look at the waits
	 * of a target still there (one that exited is reported as its last scan saw it) */
	err = t->target_gone || t->child_done ? engine__drain(&t->e) : engine__scan(&t->e);
	if (err) {
		say("reading events failed: %s", strerror(-err));
		return STRAND_EXIT_ERROR;
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct engine_opts eopts = {0};
	struct trace t = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	int err, code = STRAND_EXIT_OK;

	err = trace_opts__parse(argc, argv, &t.opts);
	if (err)
		return err;
	const char *untraceable = t.opts.pid ? procfs__untraceable(t.opts.pid) : NULL;

	if (untraceable) {
		say("cannot attach to pid %d: %s", t.opts.pid, untraceable);
		return STRAND_EXIT_NO_TARGET;
	}
	if (t.opts.record) {
		t.recorder = recorder__open(t.opts.record, t.opts.argc, t.opts.argv,
					    (double)t.opts.record_every_ns / 1e9, &err);
		if (!t.recorder) {
			say("cannot write '%s': %s", t.opts.record, strerror(-err));
			return STRAND_EXIT_ERROR;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	eopts.all = !t.opts.pid && !t.opts.command;
	eopts.only_pid = t.opts.follow ? 0 : t.opts.pid; /* -f: every process it forks too */
	/* the whole machine, or a process of many threads: its scans may take two CPUs */
	eopts.scan_halves = eopts.all || (t.opts.pid && procfs__thread_count(t.opts.pid) >=
								WAIT_SCAN_HALVES_FROM);
	eopts.threshold_ns = t.opts.threshold_ns;
	eopts.max_tasks = t.opts.max_tasks;
	eopts.ringbuf_bytes = t.opts.ringbuf_bytes;
	eopts.max_goroutines = t.opts.max_goroutines;
	eopts.go_states = t.opts.go_states;
	eopts.runaway = t.opts.runaway;
	eopts.go_probes = !t.opts.no_go_probes;
	eopts.exact_waits = t.opts.exact_waits;
	eopts.overhead_pct = t.opts.overhead_pct ? t.opts.overhead_pct : DEFAULT_OVERHEAD_PCT;
	/* what a traced process leaves when it exits is read as it leaves it; for a command
	 * strand runs (CI), a goroutine it leaves blocked is a leak */
	eopts.hold_at_exit = t.opts.pid || t.opts.command;
	eopts.exit_leaks = t.opts.command != NULL;
	eopts.verbose = t.opts.verbose;
	/* a Go program of many goroutines: its first scan's tables are readied meanwhile */
	if (t.opts.pid)
		go_tracker__warm_up(t.opts.pid, t.opts.max_goroutines);
	code = engine__start(&t.e, &eopts);
	if (code || interrupted_early(&code))
		goto out;
	t.e.on_exit = on_process_exit;
	t.e.on_exit_ctx = &t;
	t.e.on_go_scan = on_go_scan;
	t.e.on_go_scan_ctx = &t;
	t.next_record_ns = t.e.start_ns + (uint64_t)t.opts.record_every_ns;
	code = setup_targets(&t);
	if (code || interrupted_early(&code))
		goto out;
	code = run_loop(&t);
	if (!code)
		code = render_final(&t);
	if (!code && engine__leaks_remain(&t.e))
		code = STRAND_EXIT_STRANDED;
	else if (!code && t.child_done && WIFEXITED(t.child_status) && WEXITSTATUS(t.child_status))
		code = WEXITSTATUS(t.child_status);
out:
	prefault__release();
	if (t.recorder)
		recorder__close(t.recorder);
	if (t.child && !t.child_done)
		stop_child(t.child);
	engine__stop(&t.e);
	return code;
}
