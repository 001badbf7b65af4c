// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `strand daemon`: every process of the node traced for as long as it runs, served over
 * HTTP to Prometheus (/metrics) and to people (/report). One lock: the main loop holds it
 * while it reads events and scans, a request while it reads the model. The loop waits for
 * events without it, so a scrape waits at most for one batch.
 */
#include "daemon/daemon.h"
#include "collect/collector.h"
#include "collect/waits.h"
#include "daemon/daemon_opts.h"
#include "daemon/http.h"
#include "daemon/metrics.h"
#include "daemon/webconfig.h"
#include "engine/engine.h"
#include "go/goroutines.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "report/fmt/profile.h"
#include "report/report.h"
#include "report/report_doc.h"
#include "sys/procfs.h"
#include "verdicts/detect.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_GONE 4096 /* processes exited, waiting for their last scrape */

/* A process that exited: its series stay until a scrape has seen it gone. */
struct gone {
	pid_t pid;
	uint64_t scrape;    /* the scrape count when it exited */
	uint64_t exited_ns; /* with nobody scraping, it goes after GONE_UNSCRAPED_NS */
};

#define GONE_UNSCRAPED_NS (60 * NSEC_PER_SEC)
#define LOST_EXIT_SCANS	  5 /* scans between two looks for processes whose exit was lost */

struct daemon {
	struct daemon_opts opts;
	struct engine e;
	struct metrics *metrics;
	struct metrics_self self;
	pthread_mutex_t lock;
	struct gone gone[MAX_GONE];
	size_t ngone;
	uint64_t purged, scans;
	struct http_server *http;
	struct web_config *web; /* --web-config's, NULL without: what http serves by */
};

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		reload_requested = 1;
		return;
	}
	stop_requested = sig;
}

/* --- requests -------------------------------------------------------------------------- */

static void serve_metrics(struct daemon *d, struct http_response *res)
{
	uint64_t t0 = now_mono_ns();
	FILE *f = open_memstream(&res->body, &res->len);
	struct report r;

	if (!f) {
		http_response__text(res, 500, "out of memory\n");
		return;
	}
	pthread_mutex_lock(&d->lock);
	engine__report(&d->e, &r, false, false);
	metrics__write(d->metrics, &d->e, &r, &d->self, f);
	report__release(&r);
	d->self.scrapes++;
	d->self.last_scrape_s = (double)(now_mono_ns() - t0) / 1e9;
	pthread_mutex_unlock(&d->lock);
	if (fclose(f) || !res->body) {
		free(res->body);
		http_response__text(res, 500, "cannot render the metrics: out of memory\n");
		return;
	}
	res->status = 200;
	res->type = "text/plain; version=0.0.4; charset=utf-8";
}

static const struct {
	const char *name, *type;
	int (*render)(const struct profile *, FILE *);
} formats[] = {
	{"svg", "image/svg+xml", profile__svg},
	{"folded", "text/plain; charset=utf-8", profile__folded},
	{"pprof", "application/octet-stream", profile__pprof},
	{"speedscope", "application/json", profile__speedscope},
};

static void render_doc(struct report_doc *doc, const char *format, enum prof_view view,
		       struct http_response *res)
{
	FILE *f = open_memstream(&res->body, &res->len);
	int err = 0;

	if (!f) {
		http_response__text(res, 500, "out of memory\n");
		return;
	}
	if (!strcmp(format, "text")) {
		res->type = "text/plain; charset=utf-8";
		report_doc__text(doc, f);
	} else if (!strcmp(format, "json")) {
		res->type = "application/json";
		err = json_dumpf(doc->root, f, JSON_INDENT(2));
	} else {
		struct profile p;

		for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
			if (strcmp(format, formats[i].name))
				continue;
			report_doc__profile(doc, view, &p);
			err = formats[i].render(&p, f);
			profile__free(&p);
			res->type = formats[i].type;
		}
	}
	if (fclose(f) || err || !res->body) {
		free(res->body);
		http_response__text(res, 500, "cannot render the report\n");
		return;
	}
	res->status = 200;
}

static void serve_report(struct daemon *d, struct http_request *req, struct http_response *res)
{
	const char *pid_s = http_request__arg(req, "pid");
	const char *format = http_request__arg(req, "format") ?: "text";
	const char *view_s = http_request__arg(req, "view");
	enum prof_view view = PROF_VIEW_COMBINED;
	struct report_doc doc;
	struct report r;
	bool known = false;
	uint32_t pid;
	int err;

	if (!parse_u32(pid_s, &pid) || !pid || pid > 1 << 22) {
		http_response__text(res, 400, "give pid=N, the process to report\n");
		return;
	}
	if (view_s && prof_view__parse(view_s, &view)) {
		http_response__text(res, 400, "view: spawn, wait or combined\n");
		return;
	}
	bool format_known = !strcmp(format, "text") || !strcmp(format, "json");

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		format_known |= !strcmp(format, formats[i].name);
	if (!format_known) {
		http_response__text(res, 400,
				    "format: text, json, svg, folded, pprof or speedscope\n");
		return;
	}
	pthread_mutex_lock(&d->lock);
	known = model__find_process(&d->e.model, (pid_t)pid) &&
		metrics__exports(d->metrics, &d->e, (pid_t)pid);
	if (known) {
		engine__report(&d->e, &r, false, false);
		r.only_pid = (pid_t)pid; /* the others' tasks and groups are not even written */
		err = report__doc(&r, &doc);
		report__release(&r);
	}
	pthread_mutex_unlock(&d->lock);
	if (!known) {
		http_response__text(res, 404,
				    "pid %u is not traced (no such process, or filtered)\n", pid);
		return;
	}
	if (err) {
		http_response__text(res, 500, "the report could not be built\n");
		return;
	}
	report_doc__only_pid(&doc, pid);
	render_doc(&doc, format, view, res);
	report_doc__free(&doc);
}

/* Why req may not read /report, or NULL when it may (--report-access). */
static const char *report_refused(const struct daemon *d, struct http_request *req)
{
	switch (d->opts.report_access) {
	case REPORT_OFF:
		return "/report is turned off here (--report-access off)";
	case REPORT_AUTH:
		return http_request__authenticated(req)
			       ? NULL
			       : "/report is served to authenticated clients only (--report-access "
				 "auth)";
	case REPORT_LOCAL:
	default:
		return http_request__from_loopback(req) ? NULL
							: "/report is served to this machine's "
							  "loopback only (--report-access "
							  "local)";
	}
}

static void on_request(void *ctx, const char *path, struct http_request *req,
		       struct http_response *res)
{
	struct daemon *d = ctx;
	const char *refused;

	if (!strcmp(path, "/metrics"))
		serve_metrics(d, res);
	else if (!strcmp(path, "/report") && (refused = report_refused(d, req)))
		http_response__text(res, 403, "403 forbidden: %s\n", refused);
	else if (!strcmp(path, "/report"))
		serve_report(d, req, res);
	else if (!strcmp(path, "/healthz"))
		http_response__text(res, 200, "ok\n");
	else if (!strcmp(path, "/"))
		http_response__text(res, 200, "strand daemon: /metrics, /report?pid=N, /healthz\n");
	else
		http_response__text(res, 404, "not found: /metrics, /report?pid=N, /healthz\n");
	if (res->status >= 400) {
		pthread_mutex_lock(&d->lock);
		d->self.http_errors++;
		pthread_mutex_unlock(&d->lock);
	}
}

/* --- processes that come and go ---------------------------------------------------------- */

/* Everything of pid goes: its counts to its identity's, its state. */
static void purge(struct daemon *d, pid_t pid)
{
	metrics__retire(d->metrics, &d->e, pid);
	go_tracker__purge(d->e.go, pid);
	detector__forget(d->e.detector, pid);
	wait_table__forget(d->e.waits, pid);
	model__forget_process(&d->e.model, pid);
	d->purged++;
}

static void unlist_gone(struct daemon *d, pid_t pid)
{
	size_t kept = 0;

	for (size_t i = 0; i < d->ngone; i++)
		if (d->gone[i].pid != pid)
			d->gone[kept++] = d->gone[i];
	d->ngone = kept;
}

static void on_process_exit(void *ctx, pid_t pid, int exit_code)
{
	struct daemon *d = ctx;

	unlist_gone(d, pid);
	if (d->ngone == MAX_GONE) { /* more exits than scrapes keep up with: the oldest go */
		purge(d, d->gone[0].pid);
		memmove(d->gone, d->gone + 1, (MAX_GONE - 1) * sizeof(d->gone[0]));
		d->ngone--;
	}
	d->gone[d->ngone++] =
		(struct gone){.pid = pid, .scrape = d->self.scrapes, .exited_ns = now_mono_ns()};
}

/* A new process took the pid of one that exited: the old one goes first, whole. */
static void on_pid_reuse(void *ctx, pid_t pid)
{
	struct daemon *d = ctx;

	unlist_gone(d, pid);
	purge(d, pid);
}

/* Processes whose exit was lost (the ring buffer was full): gone from /proc, they exit now. */
static void reap_lost_exits(struct daemon *d)
{
	uint64_t pid;
	void *val;

	for (size_t i = 0; hashmap__next(&d->e.model.procs, &i, &pid, &val);) {
		struct process *p = val;

		if (!p->exited && !procfs__exists((pid_t)pid))
			collector__process_exit(d->e.col, (pid_t)pid, 0);
	}
}

/* A process leaves once a scrape has shown it exited, so that its last values were seen
 * (with nobody scraping, a minute after it exited). */
static void purge_gone(struct daemon *d)
{
	uint64_t now = now_mono_ns();
	size_t kept = 0;

	for (size_t i = 0; i < d->ngone; i++) {
		const struct gone *g = &d->gone[i];

		if (d->self.scrapes > g->scrape || now - g->exited_ns > GONE_UNSCRAPED_NS)
			purge(d, g->pid);
		else
			d->gone[kept++] = *g;
	}
	d->ngone = kept;
}

/* --- serving ---------------------------------------------------------------------------- */

/* --web-config read (NULL without one); NULL with why said when it cannot be. */
static struct web_config *load_web(const struct daemon *d, bool *failed)
{
	struct web_config *web;
	char why[512];

	*failed = false;
	if (!d->opts.web_config)
		return NULL;
	web = xcalloc(1, sizeof(*web));
	if (web_config__load(d->opts.web_config, web, why, sizeof(why))) {
		say("--web-config %s: %s", d->opts.web_config, why);
		free(web);
		*failed = true;
		return NULL;
	}
	if (d->opts.report_access == REPORT_AUTH && !web->nusers &&
	    !(web->tls && web->client_auth >= WEB_VERIFY_CLIENT_CERT_IF_GIVEN)) {
		say("--web-config %s: --report-access auth needs basic_auth_users or verified "
		    "client certificates: nobody could be let in",
		    d->opts.web_config);
		web_config__free(web);
		free(web);
		*failed = true;
		return NULL;
	}
	return web;
}

static void free_web(struct web_config *web)
{
	if (web)
		web_config__free(web);
	free(web);
}

static struct http_server *serve(struct daemon *d, struct web_config *web)
{
	char why[512];
	struct http_server *http =
		http__start(d->opts.listen, web, on_request, d, why, sizeof(why));

	if (!http)
		say("%s", why);
	return http;
}

/* SIGHUP: the web configuration read again (renewed certificates, users) and the server
 * started on it; where it cannot be, the old one goes on, said. */
static void reload(struct daemon *d)
{
	bool failed;
	struct web_config *web = load_web(d, &failed);

	reload_requested = 0;
	if (failed) {
		say("SIGHUP: the web configuration is kept as it was");
		return;
	}
	http__stop(d->http);
	if ((d->http = serve(d, web))) {
		free_web(d->web);
		d->web = web;
		note("SIGHUP: serving with the web configuration read again");
		return;
	}
	free_web(web);
	d->http = serve(d, d->web);
	say("SIGHUP: the new web configuration cannot be served; %s",
	    d->http ? "the old one goes on" : "and the old one no more: stopping");
	if (!d->http)
		stop_requested = SIGHUP;
}

static int run(struct daemon *d)
{
	while (!stop_requested) {
		int err;

		if (reload_requested)
			reload(d);
		err = collector__wait(d->e.col, 200);

		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		pthread_mutex_lock(&d->lock);
		if (now_mono_ns() < d->e.next_scan_ns) {
			err = collector__drain(d->e.col);
		} else if (!(err = engine__scan(&d->e))) {
			if (++d->scans % LOST_EXIT_SCANS == 0)
				reap_lost_exits(d);
			purge_gone(d);
		}
		pthread_mutex_unlock(&d->lock);
		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
	}
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct engine_opts eopts = {0};
	struct daemon *d = xcalloc(1, sizeof(*d));
	bool web_failed;
	int code;

	code = daemon_opts__parse(argc, argv, &d->opts);
	if (!code)
		code = daemon_opts__check_listen(&d->opts);
	/* a web configuration that cannot be read is said before anything is traced */
	if (!code && (d->web = load_web(d, &web_failed), web_failed))
		code = STRAND_EXIT_USAGE;
	if (code) {
		daemon_opts__free(&d->opts);
		free(d);
		return code;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&d->lock, NULL);
	eopts.all = true;
	eopts.scan_halves = true;
	eopts.threshold_ns = d->opts.threshold_ns;
	eopts.max_tasks = d->opts.max_tasks;
	eopts.max_goroutines = d->opts.max_goroutines;
	eopts.runaway = d->opts.runaway;
	eopts.go_probes = d->opts.go_probes;
	eopts.exact_waits = d->opts.exact_waits;
	eopts.overhead_pct = d->opts.overhead_pct;
	eopts.verbose = d->opts.verbose;
	code = engine__start(&d->e, &eopts);
	if (code)
		goto out;
	d->e.on_exit = on_process_exit;
	d->e.on_exit_ctx = d;
	collector__on_pid_reuse(d->e.col, on_pid_reuse, d);
	if (loader__enable_stats(d->e.ld))
		note("BPF run times not counted: the kernel refused BPF_ENABLE_STATS (set "
		     "kernel.bpf_stats_enabled=1)");
	code = loader__attach_pthread_probe(d->e.ld, -1);
	if (code)
		note("start routines unknown: no pthread_create probe (%s)", strerror(-code));
	code = 0;
	d->metrics = metrics__new(&d->opts.metrics);
	if ((code = engine__add_existing(&d->e, 0)) < 0) {
		say("cannot list the processes in /proc: %s", strerror(-code));
		code = STRAND_EXIT_ERROR;
		goto out;
	}
	if ((code = engine__scan(&d->e))) {
		say("reading events failed: %s", strerror(-code));
		code = STRAND_EXIT_ERROR;
		goto out;
	}
	if (!(d->http = serve(d, d->web))) {
		code = STRAND_EXIT_ERROR;
		goto out;
	}
	note("serving on %s://%s/metrics%s (%zu processes, %zu threads traced)",
	     d->web && d->web->tls ? "https" : "http", d->opts.listen,
	     d->web && d->web->nusers ? " to its users" : "", d->e.model.procs.len,
	     d->e.model.tasks.len);
	code = run(d);
	note("stopping (signal %d)", (int)stop_requested);
out:
	http__stop(d->http);
	free_web(d->web);
	metrics__free(d->metrics);
	engine__stop(&d->e);
	pthread_mutex_destroy(&d->lock);
	daemon_opts__free(&d->opts);
	free(d);
	return code;
}
