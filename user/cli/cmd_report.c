// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* strand report: a recording (or a JSON report) rendered again, in any format, on any
 * machine, without the target's binaries; or compared with an earlier one. */
#include "cli/cmd_report.h"
#include "lib/output.h"
#include "lib/util.h"
#include "report/recording.h"
#include "report/report_doc.h"
#include "report/report_out.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void report_cmd__usage(FILE *f)
{
	fputs("Usage: strand report [OPTIONS] FILE\n"
	      "\n"
	      "Render a recording (strand trace --record FILE), or a JSON report (strand trace\n"
	      "--json), again: the same report, in every format, on any machine, without the\n"
	      "traced binaries (its frames are already symbolized). A recording still being\n"
	      "written, or cut short by a crash, is read as far as it goes.\n"
	      "\n"
	      "Options:\n"
	      "      --text             the text report (the default when no other output is\n"
	      "                         asked for)\n"
	      "      --json             the JSON report (docs/json-schema.md)\n"
	      "      --full             the text report lists every group, site and thread\n"
	      "                         (by default the first few of each, the rest counted)\n"
	      "  -o, --output FILE      write --text or --json to FILE instead of stdout\n",
	      f);
	fputs(report_outputs__help, f);
	fputs("      --snapshot N       a recording's snapshot N (1 the first), not its last\n"
	      "      --base OLD         compare with an earlier recording or report: which spawn\n"
	      "                         sites grew, which stranded groups are new or grew\n"
	      "      --base-snapshot N  the snapshot of OLD to compare with (default its last);\n"
	      "                         what grew during one trace: --base F --base-snapshot 1 F\n"
	      "  -h, --help             this help\n"
	      "\n"
	      "Examples:\n"
	      "  strand trace -p $(pidof api) --for 60s --record incident.strand\n"
	      "  strand report incident.strand --svg leaks.svg --pprof leaks.pb.gz\n"
	      "  go tool pprof -top leaks.pb.gz\n"
	      "  strand report --base monday.strand tuesday.strand\n"
	      "  strand report --base incident.strand --base-snapshot 1 incident.strand\n"
	      "\n"
	      "Exit status: 0 rendered; 1 a file could not be written; 2 bad command line;\n"
	      "3 FILE cannot be read or is not a strand recording or report.\n",
	      f);
}

static int read_doc(const char *path, int upto, struct recording *rec)
{
	char why[256];

	if (recording__read(path, upto, rec, why, sizeof(why))) {
		say("cannot read '%s': %s", path, why);
		return STRAND_EXIT_NO_TARGET;
	}
	if (upto)
		return 0;
	if (rec->truncated)
		note("'%s' ends early (a trace still running, or cut short): reporting its last "
		     "complete snapshot, %d in all",
		     path, rec->snapshots);
	else if (!rec->final)
		note("'%s' has no final snapshot: reporting the last one, %d in all", path,
		     rec->snapshots);
	return 0;
}

static bool parse_snapshot(const char *arg, int *n)
{
	uint32_t u;

	if (!parse_u32(arg, &u) || !u || u > INT32_MAX) {
		say("invalid snapshot '%s': expected 1 or more", arg);
		return false;
	}
	*n = (int)u;
	return true;
}

int cmd_report(int argc, char **argv)
{
	enum { OPT_TEXT = 0x200, OPT_JSON, OPT_BASE, OPT_SNAPSHOT, OPT_BASE_SNAPSHOT, OPT_FULL };
	static const struct option longopts[] = {
		{"text", no_argument, NULL, OPT_TEXT},
		{"json", no_argument, NULL, OPT_JSON},
		{"full", no_argument, NULL, OPT_FULL},
		{"output", required_argument, NULL, 'o'},
		{"base", required_argument, NULL, OPT_BASE},
		{"snapshot", required_argument, NULL, OPT_SNAPSHOT},
		{"base-snapshot", required_argument, NULL, OPT_BASE_SNAPSHOT},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		REPORT_OUT_OPTIONS,
		{0},
	};
	struct report_outputs outs = {0};
	struct recording rec, base = {0};
	const char *output = NULL, *base_path = NULL;
	bool text = false, json = false, json_failed = false, full = false;
	int upto = 0, base_upto = 0;
	struct output out;
	int c, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		int taken = report_outputs__option(&outs, c, optarg);

		if (taken < 0)
			return STRAND_EXIT_USAGE;
		if (taken)
			continue;
		switch (c) {
		case OPT_TEXT:
			text = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_FULL:
			full = true;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_BASE:
			base_path = optarg;
			break;
		case OPT_SNAPSHOT:
		case OPT_BASE_SNAPSHOT:
			if (!parse_snapshot(optarg, c == OPT_SNAPSHOT ? &upto : &base_upto))
				return STRAND_EXIT_USAGE;
			break;
		case 'q':
			strand_quiet = true;
			break;
		case 'h':
			report_cmd__usage(stdout);
			exit(STRAND_EXIT_OK);
		default:
			fputs("Try 'strand report --help'.\n", stderr);
			return STRAND_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		say(optind == argc ? "give the recording or report to read"
				   : "give one recording or report to read");
		return STRAND_EXIT_USAGE;
	}
	if (text && json) {
		say("give --text or --json, not both");
		return STRAND_EXIT_USAGE;
	}
	if (base_upto && !base_path) {
		say("--base-snapshot needs --base");
		return STRAND_EXIT_USAGE;
	}
	if ((text || json || base_path) && !output && report_outputs__to_stdout(&outs)) {
		say("the %s and an output with '-' would both go to stdout: give -o FILE",
		    base_path ? "diff" : "report");
		return STRAND_EXIT_USAGE;
	}
	if ((code = report_outputs__check(&outs)) || (output && (code = output__check(output))))
		return code;
	if ((code = read_doc(argv[optind], upto, &rec)))
		return code;
	if (base_path && (code = read_doc(base_path, base_upto, &base))) {
		recording__free(&rec);
		return code;
	}
	rec.last.full = full;
	if ((code = output__open(&out, output)))
		goto done;
	if (base_path)
		report_doc__diff(&base.last, &rec.last, out.f);
	else if (json && json_dumpf(rec.last.root, out.f, JSON_INDENT(2)) == 0)
		fputc('\n', out.f);
	else if (json && !out.err)
		json_failed = true; /* jansson's own failure: a write's is in out.err */
	else if (!json && (text || !report_outputs__any(&outs)))
		report_doc__text(&rec.last, out.f);
	code = output__close(&out);
	if (json_failed && !code) {
		say("cannot write the JSON report: the JSON writer failed");
		code = STRAND_EXIT_ERROR;
	}
	if (!code)
		code = report_outputs__write(&outs, &rec.last);
done:
	recording__free(&rec);
	recording__free(&base);
	return code;
}
