// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/daemon_opts.h"
#include "daemon/http.h"
#include "engine/engine.h"
#include "lib/options.h"
#include "lib/util.h"

#include <string.h>
#include <sys/socket.h>

#define DEFAULT_LISTEN	       "127.0.0.1:9464"
#define DEFAULT_THRESHOLD      (30 * NSEC_PER_SEC)
#define DEFAULT_MAX_TASKS      (1u << 20)
#define DEFAULT_MAX_GOROUTINES (1u << 21)

/* --comm and --cgroup: each repeatable, as many times as the filter has room for */
static int take_filter(void *opts, const struct opt *e, const char *arg)
{
	struct proc_filter *f = &((struct daemon_opts *)opts)->metrics.filter;
	bool comm = !strcmp(e->name, "comm");
	const char **list = comm ? f->comms : f->cgroups;
	size_t max = comm ? ARRAY_SIZE(f->comms) : ARRAY_SIZE(f->cgroups);
	int *n = comm ? &f->ncomms : &f->ncgroups;

	if ((size_t)*n == max) {
		say("at most %zu --%s", max, e->name);
		return STRAND_EXIT_USAGE;
	}
	list[(*n)++] = arg;
	return 0;
}

static int take_report_access(void *opts, const struct opt *e, const char *arg)
{
	static const char *const names[] = {
		[REPORT_LOCAL] = "local", [REPORT_AUTH] = "auth", [REPORT_OFF] = "off"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(arg, names[i])) {
			((struct daemon_opts *)opts)->report_access = (enum report_access)i;
			return 0;
		}
	say("invalid --%s '%s': local, auth or off", e->name, arg);
	return STRAND_EXIT_USAGE;
}

#define T struct daemon_opts

static const struct opt daemon_options[] = {
	{"listen", 'l', OPT_STRING(T, listen), .arg = "ADDR:PORT",
	 .help = "where to serve (default 127.0.0.1:9464); a\n"
		 "non-loopback address needs --allow-remote"},
	{"allow-remote", 0, OPT_FLAG(T, allow_remote),
	 .help = "serve on a non-loopback address (the data names your\n"
		 "processes, binaries and functions: guard it with\n"
		 "--web-config, or firewall it)"},
	{"web-config", 0, OPT_STRING(T, web_config), .arg = "FILE",
	 .help = "TLS and basic authentication as Prometheus exporters\n"
		 "take them (--web.config.file's YAML: tls_server_config,\n"
		 "basic_auth_users with bcrypt hashes); read again on\n"
		 "SIGHUP"},
	{"report-access", 0, OPT_CALL(take_report_access), .arg = "WHO",
	 .help = "who may read /report (stacks, file names): local\n"
		 "(loopback clients, the default), auth (those the web\n"
		 "config lets in), off; /metrics is not affected"},
	{"config", 'c', OPT_CONFIG(T, owned), .arg = "FILE",
	 .help = "options from FILE, one per line as 'name value' (the\n"
		 "long option's name; '#' starts a comment); the\n"
		 "command line wins"},
	{"comm", 0, OPT_CALL(take_filter), .arg = "NAME",
	 .help = "export only processes named NAME (repeatable)"},
	{"cgroup", 0, OPT_CALL(take_filter), .arg = "PREFIX",
	 .help = "... whose cgroup path starts with PREFIX (repeatable)"},
	{"containers", 0, OPT_FLAG(T, metrics.filter.containers_only),
	 .help = "... that run in a container"},
	{"go-only", 0, OPT_FLAG(T, metrics.filter.go_only), .help = "... that are Go programs"},
	{"top-sites", 0, OPT_COUNT(T, metrics.top_sites, 0, 1000), .arg = "K",
	 .help = "spawn sites per process identity (default 10)"},
	{"label-max", 0, OPT_COUNT(T, metrics.label_max, 16, 4096), .arg = "N",
	 .help = "longest label value in bytes (default 128)"},
	{"threshold", 't', OPT_DURATION(T, threshold_ns, MIN_PERIOD_NS, 0), .arg = "DURATION",
	 .help = "blocked this long makes a stranded candidate\n"
		 "(default 30s)"},
	{"runaway", 0, OPT_COUNT(T, runaway, 2, 1u << 30), .arg = "N",
	 .help = "runaway spawn threshold (default 1000)"},
	{"max-tasks", 0, OPT_COUNT(T, max_tasks, 1, 1u << 30), .arg = "N",
	 .help = "tasks tracked at most; more are counted as dropped"},
	{"max-goroutines", 0, OPT_COUNT(T, max_goroutines, 1, 1u << 30), .arg = "N",
	 .help = "goroutines of a process kept in full (default\n"
		 "2097152); more are counted at their spawn sites only"},
	{"no-go-probes", 0, OPT_CLEAR(T, go_probes),
	 .help = "Go programs: snapshots only, no runtime uprobes"},
	{"exact-waits", 0, OPT_FLAG(T, exact_waits),
	 .help = "Go programs: waits timed by uprobes on every park and\n"
		 "ready (0.5-2 us a trap; default: by the scans, free)"},
	{"overhead", 0, OPT_PERCENT(T, overhead_pct), .arg = "PERCENT",
	 .help = "what the Go spawn probes may cost each process, in %\n"
		 "of one CPU (default 1); past it they are shed"},
	{"verbose", 'v', OPT_FLAG(T, verbose), .help = "libbpf's own diagnostics"},
	{"help", 'h', OPT_HELP, .help = "this help"},
	{0},
};

#undef T

void daemon__usage(FILE *f)
{
	fputs("Usage: strand daemon [OPTIONS]\n"
	      "\n"
	      "Trace every process of this machine, threads and goroutines, for as long as\n"
	      "they run, and serve what strand knows over HTTP: Prometheus metrics per process\n"
	      "(docs/metrics.md), and each process's report in any format.\n"
	      "\n"
	      "Options:\n",
	      f);
	options__help(daemon_options, f);
	fputs("\n"
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

static const struct opt_command daemon_command = {
	.name = "daemon",
	.table = daemon_options,
	.usage = daemon__usage,
};

int daemon_opts__read_config(struct daemon_opts *o, const char *path)
{
	return options__read_config(&daemon_command, o, path);
}

int daemon_opts__parse(int argc, char **argv, struct daemon_opts *o)
{
	int operand, code;

	daemon_opts__defaults(o);
	if ((code = options__parse(&daemon_command, argc, argv, o, &operand)))
		return code;
	if (operand < argc) {
		say("unexpected argument '%s'", argv[operand]);
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

void daemon_opts__free(struct daemon_opts *o)
{
	opt_strings__free(&o->owned);
}

int daemon_opts__check_listen(const struct daemon_opts *o)
{
	struct sockaddr_storage sa;
	bool loopback = false;

	if (http__parse_addr(o->listen, &sa, &loopback)) {
		say("invalid --listen '%s': expected HOST:PORT (127.0.0.1:9464, [::1]:9464)",
		    o->listen);
		return STRAND_EXIT_USAGE;
	}
	if (o->report_access == REPORT_AUTH && !o->web_config) {
		say("--report-access auth needs --web-config: nobody can be let in without users "
		    "or client certificates");
		return STRAND_EXIT_USAGE;
	}
	if (!loopback && !o->allow_remote) {
		say("--listen %s is not a loopback address: strand's data names this machine's "
		    "processes and code; add --allow-remote to serve it there",
		    o->listen);
		return STRAND_EXIT_USAGE;
	}
	if (!loopback && !o->web_config)
		say("WARNING: serving on %s with no --web-config: anyone who can reach it reads "
		    "/metrics (the names, binaries and cgroups of every process on this machine) "
		    "in plain HTTP, with no password%s",
		    o->listen,
		    o->report_access == REPORT_OFF
			    ? ""
			    : "; /report (stacks, file:line) only from loopback clients");
	return 0;
}

void daemon_opts__defaults(struct daemon_opts *o)
{
	*o = (struct daemon_opts){
		.listen = DEFAULT_LISTEN,
		.threshold_ns = DEFAULT_THRESHOLD,
		.max_tasks = DEFAULT_MAX_TASKS,
		.max_goroutines = DEFAULT_MAX_GOROUTINES,
		.runaway = 1000,
		.go_probes = true,
		.overhead_pct = DEFAULT_OVERHEAD_PCT,
	};
}
