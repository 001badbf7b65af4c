// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/daemon_opts.h"
#include "daemon/http.h"
#include "engine/engine.h"
#include "lib/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_LISTEN	       "127.0.0.1:9464"
#define DEFAULT_THRESHOLD      (30 * NSEC_PER_SEC)
#define DEFAULT_MAX_TASKS      (1u << 20)
#define DEFAULT_MAX_GOROUTINES (1u << 21)

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
	      "      --max-goroutines N  goroutines of a process kept in full (default\n"
	      "                         2097152); more are counted at their spawn sites only\n"
	      "      --no-go-probes     Go programs: snapshots only, no runtime uprobes\n"
	      "      --exact-waits      Go programs: waits timed by uprobes on every park and\n"
	      "                         ready (0.5-2 us a trap; default: by the scans, free)\n"
	      "      --overhead PERCENT  what the Go spawn probes may cost each process, in %\n"
	      "                         of one CPU (default 1); past it they are shed\n"
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
	OPT_MAX_GOROUTINES,
	OPT_NO_GO_PROBES,
	OPT_EXACT_WAITS,
	OPT_OVERHEAD,
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
	{"max-goroutines", required_argument, NULL, OPT_MAX_GOROUTINES},
	{"no-go-probes", no_argument, NULL, OPT_NO_GO_PROBES},
	{"exact-waits", no_argument, NULL, OPT_EXACT_WAITS},
	{"overhead", required_argument, NULL, OPT_OVERHEAD},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* One option (c from longopts, arg its argument); 0 or an exit code. */
static int take_option(struct daemon_opts *o, int c, const char *arg, const char **config)
{
	struct proc_filter *f = &o->metrics.filter;
	uint32_t n;

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
		if (!parse_count_option("--top-sites", arg, 0, 1000, &n))
			return STRAND_EXIT_USAGE;
		o->metrics.top_sites = (int)n;
		break;
	case OPT_LABEL_MAX:
		if (!parse_count_option("--label-max", arg, 16, 4096, &n))
			return STRAND_EXIT_USAGE;
		o->metrics.label_max = (int)n;
		break;
	case 't':
		if (!parse_duration_option("--threshold", arg, MIN_PERIOD_NS, &o->threshold_ns))
			return STRAND_EXIT_USAGE;
		break;
	case OPT_RUNAWAY:
		if (!parse_count_option("--runaway", arg, 2, 1u << 30, &o->runaway))
			return STRAND_EXIT_USAGE;
		break;
	case OPT_MAX_TASKS:
		if (!parse_count_option("--max-tasks", arg, 1, 1u << 30, &o->max_tasks))
			return STRAND_EXIT_USAGE;
		break;
	case OPT_MAX_GOROUTINES:
		if (!parse_count_option("--max-goroutines", arg, 1, 1u << 30, &o->max_goroutines))
			return STRAND_EXIT_USAGE;
		break;
	case OPT_NO_GO_PROBES:
		o->go_probes = false;
		break;
	case OPT_EXACT_WAITS:
		o->exact_waits = true;
		break;
	case OPT_OVERHEAD:
		if (!parse_overhead_arg(arg, &o->overhead_pct))
			return STRAND_EXIT_USAGE;
		break;
	case 'v':
		o->verbose = true;
		break;
	default:
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

int daemon_opts__read_config(struct daemon_opts *o, const char *path)
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

int daemon_opts__parse(int argc, char **argv, struct daemon_opts *o)
{
	const char *config = NULL, *unused = NULL;
	int c, code;

	daemon_opts__defaults(o);
	/* the file first, so that the command line wins */
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
			config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	if (config && (code = daemon_opts__read_config(o, config)))
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

void daemon_opts__free(struct daemon_opts *o)
{
	for (int i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	o->nowned = 0;
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
	if (!loopback && !o->allow_remote) {
		say("--listen %s is not a loopback address: strand's data names this machine's "
		    "processes and code; add --allow-remote to serve it there",
		    o->listen);
		return STRAND_EXIT_USAGE;
	}
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
