// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `strand daemon`: every process of the node traced for as long as it runs, served over
 * HTTP to Prometheus (/metrics) and to people (/report). One lock: the main loop holds it
 * while it reads events and scans, a request while it reads the model. The loop waits for
 * events without it, so a scrape waits at most for one batch.
 */
#include "daemon.h"
#include "collector.h"
#include "detect.h"
#include "engine.h"
#include "goroutines.h"
#include "http.h"
#include "loader.h"
#include "metrics.h"
#include "procfs.h"
#include "profile.h"
#include "report.h"
#include "report_doc.h"
#include "util.h"
#include "waits.h"

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

#define NSEC		  1000000000LL
#define DEFAULT_LISTEN	  "127.0.0.1:9464"
#define DEFAULT_THRESHOLD (30 * NSEC)
#define DEFAULT_MAX_TASKS (1u << 20)
#define MAX_GONE	  4096 /* processes exited, waiting for their last scrape */

struct daemon_opts {
	const char *listen;
	bool allow_remote;
	int64_t threshold_ns;
	uint32_t max_tasks, runaway;
	bool go_probes, verbose;
	struct metrics_opts metrics;
	char *owned[64]; /* the config file's values the options point at */
	int nowned;
};

/* A process that exited: its series stay until a scrape has seen it gone. */
struct gone {
	pid_t pid;
	uint64_t scrape;    /* the scrape count when it exited */
	uint64_t exited_ns; /* with nobody scraping, it goes after GONE_UNSCRAPED_NS */
};

#define GONE_UNSCRAPED_NS (60 * NSEC)
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
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

void daemon__usage(FILE *f)
{
	fputs("Usage: strand daemon [OPTIONS]\n"
	      "\n"
	      "Trace every process of this machine, threads and goroutines, for as long as\n"
	      "they run, and serve what strand knows over HTTP: Prometheus metrics per process\n"
	      "(docs/metrics.md), and each process's report in any format.\n"
	      "\n"
	      "Options:\n"
	      "  -l, --listen ADDR:PORT  where to serve (default 127.0.0.1:9464); a\n"
	      "                         non-loopback address needs --allow-remote\n"
	      "      --allow-remote     serve on a non-loopback address (the data names your\n"
	      "                         processes, binaries and functions: firewall it)\n"
	      "  -c, --config FILE      options from FILE, one per line as 'name value' (the\n"
	      "                         long option's name; '#' starts a comment); the\n"
	      "                         command line wins\n"
	      "      --comm NAME        export only processes named NAME (repeatable)\n"
	      "      --cgroup PREFIX    ... whose cgroup path starts with PREFIX (repeatable)\n"
	      "      --containers       ... that run in a container\n"
	      "      --go-only          ... that are Go programs\n"
	      "      --top-sites K      spawn sites per process identity (default 10)\n"
	      "      --label-max N      longest label value in bytes (default 128)\n"
	      "  -t, --threshold DURATION  blocked this long makes a stranded candidate\n"
	      "                         (default 30s)\n"
	      "      --runaway N        runaway spawn threshold (default 1000)\n"
	      "      --max-tasks N      tasks tracked at most; more are counted as dropped\n"
	      "      --no-go-probes     Go programs: snapshots only, no runtime uprobes\n"
	      "  -v, --verbose          libbpf's own diagnostics\n"
	      "  -h, --help             this help\n"
	      "\n"
	      "HTTP:\n"
	      "  GET /metrics           Prometheus text format\n"
	      "  GET /report?pid=N&format=text|json|svg|folded|pprof|speedscope[&view=V]\n"
	      "                         the report of one process, now (view: spawn, wait,\n"
	      "                         combined)\n"
	      "  GET /healthz           'ok' while the tracing loop runs\n"
	      "\n"
	      "Examples:\n"
	      "  strand daemon\n"
	      "  strand daemon --listen 0.0.0.0:9464 --allow-remote --go-only\n"
	      "  curl -s localhost:9464/metrics | grep strand_stranded_tasks\n"
	      "  curl -s 'localhost:9464/report?pid=4242&format=svg' > leak.svg\n",
	      f);
}

/* --- requests -------------------------------------------------------------------------- */

static void serve_metrics(struct daemon *d, struct http_response *res)
{
	uint64_t t0 = now_mono_ns();
	FILE *f = open_memstream(&res->body, &res->len);

	if (!f) {
		http_response__text(res, 500, "out of memory\n");
		return;
	}
	pthread_mutex_lock(&d->lock);
	metrics__write(d->metrics, &d->e, &d->self, f);
	d->self.scrapes++;
	d->self.last_scrape_s = (double)(now_mono_ns() - t0) / 1e9;
	pthread_mutex_unlock(&d->lock);
	fclose(f);
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

	if (!f) {
		http_response__text(res, 500, "out of memory\n");
		return;
	}
	res->status = 200;
	if (!strcmp(format, "text")) {
		res->type = "text/plain; charset=utf-8";
		report_doc__text(doc, f);
	} else if (!strcmp(format, "json")) {
		res->type = "application/json";
		json_dumpf(doc->root, f, JSON_INDENT(2));
	} else {
		struct profile p;

		for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
			if (strcmp(format, formats[i].name))
				continue;
			report_doc__profile(doc, view, &p);
			formats[i].render(&p, f);
			profile__free(&p);
			res->type = formats[i].type;
		}
	}
	fclose(f);
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
		err = report__doc(&r, &doc);
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

static void on_request(void *ctx, const char *path, struct http_request *req,
		       struct http_response *res)
{
	struct daemon *d = ctx;

	if (!strcmp(path, "/metrics"))
		serve_metrics(d, res);
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

/* --- options ----------------------------------------------------------------------------- */

enum {
	OPT_ALLOW_REMOTE = 0x200,
	OPT_COMM,
	OPT_CGROUP,
	OPT_CONTAINERS,
	OPT_GO_ONLY,
	OPT_TOP_SITES,
	OPT_LABEL_MAX,
	OPT_RUNAWAY,
	OPT_MAX_TASKS,
	OPT_NO_GO_PROBES,
};

static const struct option longopts[] = {
	{"listen", required_argument, NULL, 'l'},
	{"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
	{"config", required_argument, NULL, 'c'},
	{"comm", required_argument, NULL, OPT_COMM},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"containers", no_argument, NULL, OPT_CONTAINERS},
	{"go-only", no_argument, NULL, OPT_GO_ONLY},
	{"top-sites", required_argument, NULL, OPT_TOP_SITES},
	{"label-max", required_argument, NULL, OPT_LABEL_MAX},
	{"threshold", required_argument, NULL, 't'},
	{"runaway", required_argument, NULL, OPT_RUNAWAY},
	{"max-tasks", required_argument, NULL, OPT_MAX_TASKS},
	{"no-go-probes", no_argument, NULL, OPT_NO_GO_PROBES},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static bool parse_count(const char *what, const char *arg, long lo, long hi, long *out)
{
	uint32_t v;

	if (!parse_u32(arg, &v) || v < lo || v > hi) {
		say("invalid %s '%s': expected a number from %ld to %ld", what, arg, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

/* One option (c from longopts, arg its argument); 0 or an exit code. */
static int take_option(struct daemon_opts *o, int c, const char *arg, const char **config)
{
	struct proc_filter *f = &o->metrics.filter;
	long n;

	switch (c) {
	case 'l':
		o->listen = arg;
		break;
	case OPT_ALLOW_REMOTE:
		o->allow_remote = true;
		break;
	case 'c':
		*config = arg;
		break;
	case OPT_COMM:
	case OPT_CGROUP:
		if ((c == OPT_COMM ? f->ncomms : f->ncgroups) == 16) {
			say("at most 16 --%s", c == OPT_COMM ? "comm" : "cgroup");
			return STRAND_EXIT_USAGE;
		}
		if (c == OPT_COMM)
			f->comms[f->ncomms++] = arg;
		else
			f->cgroups[f->ncgroups++] = arg;
		break;
	case OPT_CONTAINERS:
		f->containers_only = true;
		break;
	case OPT_GO_ONLY:
		f->go_only = true;
		break;
	case OPT_TOP_SITES:
		if (!parse_count("--top-sites", arg, 0, 1000, &n))
			return STRAND_EXIT_USAGE;
		o->metrics.top_sites = (int)n;
		break;
	case OPT_LABEL_MAX:
		if (!parse_count("--label-max", arg, 16, 4096, &n))
			return STRAND_EXIT_USAGE;
		o->metrics.label_max = (int)n;
		break;
	case 't':
		o->threshold_ns = duration__parse(arg);
		if (o->threshold_ns <= 0) {
			say("invalid --threshold '%s': expected a duration like 30s", arg);
			return STRAND_EXIT_USAGE;
		}
		break;
	case OPT_RUNAWAY:
		if (!parse_count("--runaway", arg, 2, 1L << 30, &n))
			return STRAND_EXIT_USAGE;
		o->runaway = (uint32_t)n;
		break;
	case OPT_MAX_TASKS:
		if (!parse_count("--max-tasks", arg, 1, 1L << 30, &n))
			return STRAND_EXIT_USAGE;
		o->max_tasks = (uint32_t)n;
		break;
	case OPT_NO_GO_PROBES:
		o->go_probes = false;
		break;
	case 'v':
		o->verbose = true;
		break;
	default:
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

/* Options from a file: "name value" per line, name a long option's. */
static int read_config(struct daemon_opts *o, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int lineno = 0, code = 0;
	const char *nested = NULL;

	if (!f) {
		say("cannot read '%s': %s", path, strerror(errno));
		return STRAND_EXIT_USAGE;
	}
	while (!code && fgets(line, sizeof(line), f)) {
		char *p = line, *name, *value = NULL, *hash = strchr(line, '#');
		const struct option *opt = NULL;

		lineno++;
		if (hash)
			*hash = '\0';
		p += strspn(p, " \t");
		name = p;
		p += strcspn(p, " \t\r\n=");
		if (p == name)
			continue;
		if (*p) {
			*p++ = '\0';
			p += strspn(p, " \t=");
			value = p;
			value[strcspn(value, "\r\n")] = '\0';
			for (size_t n = strlen(value);
			     n && (value[n - 1] == ' ' || value[n - 1] == '\t');)
				value[--n] = '\0';
		}
		for (const struct option *lo = longopts; lo->name; lo++)
			if (!strcmp(lo->name, name))
				opt = lo;
		if (!opt || !strcmp(name, "config") || !strcmp(name, "help")) {
			say("%s:%d: unknown option '%s'", path, lineno, name);
			code = STRAND_EXIT_USAGE;
		} else if ((opt->has_arg == required_argument) != (value && *value)) {
			say("%s:%d: '%s' %s", path, lineno, name,
			    opt->has_arg == required_argument ? "needs a value" : "takes no value");
			code = STRAND_EXIT_USAGE;
		} else if (o->nowned == (int)ARRAY_SIZE(o->owned)) {
			say("%s:%d: too many options", path, lineno);
			code = STRAND_EXIT_USAGE;
		} else {
			char *v = value ? xstrdup(value) : NULL;

			if (v)
				o->owned[o->nowned++] = v;
			code = take_option(o, opt->val, v, &nested);
		}
	}
	fclose(f);
	return code;
}

static int parse_opts(int argc, char **argv, struct daemon_opts *o)
{
	const char *config = NULL, *unused = NULL;
	int c, code;

	*o = (struct daemon_opts){
		.listen = DEFAULT_LISTEN,
		.threshold_ns = DEFAULT_THRESHOLD,
		.max_tasks = DEFAULT_MAX_TASKS,
		.runaway = 1000,
		.go_probes = true,
	};
	/* the file first, so that the command line wins */
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
			config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	if (config && (code = read_config(o, config)))
		return code;
	while ((c = getopt_long(argc, argv, "l:c:t:vh", longopts, NULL)) != -1) {
		if (c == 'h') {
			daemon__usage(stdout);
			exit(STRAND_EXIT_OK);
		}
		if (c == '?' || (code = take_option(o, c, optarg, &unused))) {
			fputs("Try 'strand daemon --help'.\n", stderr);
			return STRAND_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say("unexpected argument '%s'", argv[optind]);
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

static void free_opts(struct daemon_opts *o)
{
	for (int i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	o->nowned = 0;
}

static int check_listen(const struct daemon_opts *o)
{
	struct sockaddr_storage sa;
	bool loopback = false;

	if (http__parse_addr(o->listen, &sa, &loopback)) {
		say("invalid --listen '%s': expected HOST:PORT (127.0.0.1:9464, [::1]:9464)",
		    o->listen);
		return STRAND_EXIT_USAGE;
	}
	if (!loopback && !o->allow_remote) {
		say("--listen %s is not a loopback address: strand's data names this machine's "
		    "processes and code; add --allow-remote to serve it there",
		    o->listen);
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

static int run(struct daemon *d)
{
	while (!stop_requested) {
		int err = collector__wait(d->e.col, 200);

		if (err) {
			say("reading events failed: %s", strerror(-err));
			return STRAND_EXIT_ERROR;
		}
		pthread_mutex_lock(&d->lock);
		collector__drain(d->e.col);
		if (now_mono_ns() >= d->e.next_scan_ns) {
			engine__scan(&d->e);
			if (++d->scans % LOST_EXIT_SCANS == 0)
				reap_lost_exits(d);
			purge_gone(d);
		}
		pthread_mutex_unlock(&d->lock);
	}
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct engine_opts eopts = {0};
	struct http_server *http = NULL;
	struct daemon *d = xcalloc(1, sizeof(*d));
	char why[256];
	int code;

	code = parse_opts(argc, argv, &d->opts);
	if (!code)
		code = check_listen(&d->opts);
	if (code) {
		free_opts(&d->opts);
		free(d);
		return code;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&d->lock, NULL);
	eopts.all = true;
	eopts.threshold_ns = d->opts.threshold_ns;
	eopts.max_tasks = d->opts.max_tasks;
	eopts.runaway = d->opts.runaway;
	eopts.go_probes = d->opts.go_probes;
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
	engine__add_existing(&d->e, 0);
	engine__scan(&d->e);
	http = http__start(d->opts.listen, on_request, d, why, sizeof(why));
	if (!http) {
		say("%s", why);
		code = STRAND_EXIT_ERROR;
		goto out;
	}
	note("serving on http://%s/metrics (%zu processes, %zu threads traced)", d->opts.listen,
	     d->e.model.procs.len, d->e.model.tasks.len);
	code = run(d);
	note("stopping (signal %d)", (int)stop_requested);
out:
	http__stop(http);
	metrics__free(d->metrics);
	engine__stop(&d->e);
	pthread_mutex_destroy(&d->lock);
	free_opts(&d->opts);
	free(d);
	return code;
}
