// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* strand report: a recording (or a JSON report) rendered again, in any format, on any
 * machine, without the target's binaries; or compared with an earlier one. */
#include "cli/cmd_report.h"
#include "lib/options.h"
#include "lib/output.h"
#include "lib/util.h"
#include "report/recording.h"
#include "report/report_doc.h"
#include "report/report_out.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct report_cmd_opts {
	bool text, json, full;
	const char *output, *base;
	int snapshot, base_snapshot; /* 0: the last */
	struct report_outputs outs;
};

/* --snapshot and --base-snapshot */
static int take_snapshot(void *opts, const struct opt *e, const char *arg)
{
	uint32_t u;

	if (!parse_u32(arg, &u) || !u || u > INT32_MAX) {
		say("invalid snapshot '%s': expected 1 or more", arg);
		return STRAND_EXIT_USAGE;
	}
	*(int *)opt__field(opts, e) = (int)u;
	return 0;
}

#define T struct report_cmd_opts

static const struct opt report_cmd_options[] = {
	{"text", 0, OPT_FLAG(T, text),
	 .help = "the text report (the default when no other output is\n"
		 "asked for)"},
	{"json", 0, OPT_FLAG(T, json), .help = "the JSON report (docs/json-schema.md)"},
	{"full", 0, OPT_FLAG(T, full),
	 .help = "the text report lists every group, site and thread\n"
		 "(by default the first few of each, the rest counted)"},
	{"output", 'o', OPT_STRING(T, output), .arg = "FILE",
	 .help = "write --text or --json to FILE instead of stdout"},
	{NULL, 0, REPORT_OUT_OPTIONS(T, outs)},
	{"snapshot", 0, OPT_CALL_AT(T, snapshot, take_snapshot), .arg = "N",
	 .help = "a recording's snapshot N (1 the first), not its last"},
	{"base", 0, OPT_STRING(T, base), .arg = "OLD",
	 .help = "compare with an earlier recording or report: which spawn\n"
		 "sites grew, which stranded groups are new or grew"},
	{"base-snapshot", 0, OPT_CALL_AT(T, base_snapshot, take_snapshot), .arg = "N",
	 .help = "the snapshot of OLD to compare with (default its last);\n"
		 "what grew during one trace: --base F --base-snapshot 1 F"},
	{"quiet", 'q', OPT_CALL(options__take_quiet)}, /* as trace takes it; not in the help */
	{"help", 'h', OPT_HELP, .help = "this help"},
	{0},
};

#undef T

void report_cmd__usage(FILE *f)
{
	fputs("Usage: strand report [OPTIONS] FILE\n"
	      "\n"
	      "Render a recording (strand trace --record FILE), or a JSON report (strand trace\n"
	      "--json), again: the same report, in every format, on any machine, without the\n"
	      "traced binaries (its frames are already symbolized). A recording still being\n"
	      "written, or cut short by a crash, is read as far as it goes.\n"
	      "\n"
	      "Options:\n",
	      f);
	options__help(report_cmd_options, f);
	fputs("\n"
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

static const struct opt_command report_cmd = {
	.name = "report",
	.table = report_cmd_options,
	.usage = report_cmd__usage,
};

int cmd_report(int argc, char **argv)
{
	struct report_cmd_opts o = {0};
	struct recording rec, base = {0};
	bool json_failed = false;
	struct output out;
	int operand, code;

	if ((code = options__parse(&report_cmd, argc, argv, &o, &operand)))
		return code;
	if (operand != argc - 1) {
		say(operand == argc ? "give the recording or report to read"
				    : "give one recording or report to read");
		return STRAND_EXIT_USAGE;
	}
	if (o.text && o.json) {
		say("give --text or --json, not both");
		return STRAND_EXIT_USAGE;
	}
	if (o.base_snapshot && !o.base) {
		say("--base-snapshot needs --base");
		return STRAND_EXIT_USAGE;
	}
	if ((o.text || o.json || o.base) && !o.output && report_outputs__to_stdout(&o.outs)) {
		say("the %s and an output with '-' would both go to stdout: give -o FILE",
		    o.base ? "diff" : "report");
		return STRAND_EXIT_USAGE;
	}
	if ((code = report_outputs__check(&o.outs)) ||
	    (o.output && (code = output__check(o.output))))
		return code;
	if ((code = read_doc(argv[operand], o.snapshot, &rec)))
		return code;
	if (o.base && (code = read_doc(o.base, o.base_snapshot, &base))) {
		recording__free(&rec);
		return code;
	}
	rec.last.full = o.full;
	if ((code = output__open(&out, o.output)))
		goto done;
	if (o.base)
		report_doc__diff(&base.last, &rec.last, out.f);
	else if (o.json && json_dumpf(rec.last.root, out.f, JSON_INDENT(2)) == 0)
		fputc('\n', out.f);
	else if (o.json && !out.err)
		json_failed = true; /* jansson's own failure: a write's is in out.err */
	else if (!o.json && (o.text || !report_outputs__any(&o.outs)))
		report_doc__text(&rec.last, out.f);
	code = output__close(&out);
	if (json_failed && !code) {
		say("cannot write the JSON report: the JSON writer failed");
		code = STRAND_EXIT_ERROR;
	}
	if (!code)
		code = report_outputs__write(&o.outs, &rec.last);
done:
	recording__free(&rec);
	recording__free(&base);
	return code;
}
