// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* strand: the command table. Each command lives in its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "cli/cmd_report.h"
#include "cli/trace.h"
#include "daemon/daemon.h"
#include "lib/phases.h"
#include "lib/util.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"trace", cmd_trace, "trace a process, a command, or every process, and report"},
	{"report", cmd_report, "render a recording again (text, JSON, SVG, pprof), or compare two"},
	{"daemon", cmd_daemon,
	 "trace every process, serve Prometheus metrics and reports over HTTP"},
};

static void usage(FILE *f)
{
	fputs("Usage: strand COMMAND [OPTIONS]\n"
	      "\n"
	      "strand finds the threads and goroutines a process spawns without bound or\n"
	      "leaves stranded, the spawn sites that created them and why they are stuck, in\n"
	      "any running process, unchanged.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'strand COMMAND --help' tells more. strand needs root (or CAP_BPF, CAP_PERFMON\n"
	      "and CAP_SYS_PTRACE).\n",
	      f);
}

/*
 * strand's memory is written fresh as it starts (libbpf's copies of the kernel's BTF, a
 * million goroutines' tables), and in a virtual machine a page fault costs microseconds:
 * they were most of an attach (0.43 s to an idle process here; 0.26 s with huge pages). glibc
 * puts malloc's memory on transparent huge pages only when told so as a process starts
 * (GLIBC_TUNABLES=glibc.malloc.hugetlb=1): strand starts itself again, once, so told, and
 * then gives the programs it starts the environment it was given.
 */
#define STARTED_AGAIN "STRAND_MALLOC_ON_HUGE_PAGES"

static void restore_tunables(const char *given)
{
	if (given)
		setenv("GLIBC_TUNABLES", given, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	unsetenv(STARTED_AGAIN);
}

static void malloc_on_huge_pages(char **argv)
{
	const char *again = getenv(STARTED_AGAIN), *given = getenv("GLIBC_TUNABLES");
	const char *self = (const char *)getauxval(AT_EXECFN);
	char *mark = NULL, *tunables = NULL;

	if (again) { /* "=" and what it was given, or "-": none */
		restore_tunables(*again == '=' ? again + 1 : NULL);
		return;
	}
	/* the user's own choice stands */
	if ((given && strstr(given, "glibc.malloc.hugetlb")) || !self)
		return;
	if (asprintf(&mark, "%s%s", given ? "=" : "-", given ? given : "") < 0)
		return;
	if (asprintf(&tunables, "%s%sglibc.malloc.hugetlb=1", given ? given : "",
		     given && *given ? ":" : "") < 0) {
		free(mark);
		return;
	}
	setenv(STARTED_AGAIN, mark, 1);
	setenv("GLIBC_TUNABLES", tunables, 1);
	execv(self, argv);
	/* not started again: as it was */
	restore_tunables(*mark == '=' ? mark + 1 : NULL);
	free(mark);
	free(tunables);
}

int main(int argc, char **argv)
{
	malloc_on_huge_pages(argv);
	phase__done("start");
	/* strand reads binaries from disk only: libdw must not fetch debug info over the
	 * network from a production host */
	unsetenv("DEBUGINFOD_URLS");
	if (argc < 2) {
		usage(stderr);
		return STRAND_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return STRAND_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("strand %s\n", STRAND_VERSION);
		return STRAND_EXIT_OK;
	}
	/* unambiguous prefixes work, as in bpftool: "strand tr -p 1" */
	const struct command *match = NULL;
	size_t len = strlen(argv[1]);

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strncmp(commands[i].name, argv[1], len))
			continue;
		if (match) {
			say("ambiguous command '%s'", argv[1]);
			return STRAND_EXIT_USAGE;
		}
		match = &commands[i];
	}
	if (!match) {
		say("unknown command '%s'; see 'strand --help'", argv[1]);
		return STRAND_EXIT_USAGE;
	}
	return match->run(argc - 1, argv + 1);
}
