// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the option tables: each kind taken and refused at its bounds in the words
 * the commands say, getopt's lists and the help made from a table, a config file's lines
 * through the same parse, and a value given twice. */
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/options.h"
#include "lib/util.h"
#include "unit.h"

struct inner {
	const char *file;
};

struct t_opts {
	bool flag, on, hidden;
	int64_t dur, dur2;
	uint32_t count, size;
	int icount;
	double pct;
	pid_t pid;
	const char *str, *called;
	int calls;
	struct opt_strings kept;
	struct inner in;
};

static int take_call(void *opts, const struct opt *e, const char *arg)
{
	struct t_opts *o = opts;

	o->calls++;
	o->called = arg;
	if (!strcmp(arg, "no")) {
		say("invalid --%s '%s': the callback says no", e->name, arg);
		return STRAND_EXIT_USAGE;
	}
	return 0;
}

static const struct opt inner_options[] = {
	{"file", 0, OPT_STRING(struct inner, file), .arg = "FILE", .help = "a file"},
	{0},
};

#define T struct t_opts

static const struct opt t_options[] = {
	{"flag", 'f', OPT_FLAG(T, flag), .help = "a flag"},
	{"no-on", 0, OPT_CLEAR(T, on), .help = "clears on"},
	{"dur", 'd', OPT_DURATION(T, dur, MIN_PERIOD_NS, 60 * NSEC_PER_SEC), .arg = "DURATION",
	 .help = "a duration\nof two lines"},
	{"any-duration-at-all", 0, OPT_DURATION(T, dur2, 1, 0), .arg = "DURATION",
	 .help = "a long first column"},
	{"count", 'n', OPT_COUNT(T, count, 2, 1000), .arg = "N", .help = "a count"},
	{"icount", 0, OPT_COUNT(T, icount, 0, 10), .arg = "K", .help = "a count to an int"},
	{"size", 0, OPT_SIZE(T, size, 4096), .arg = "SIZE", .help = "a size"},
	{"pct", 0, OPT_PERCENT(T, pct), .arg = "PERCENT", .help = "a share of a CPU"},
	{"pid", 'p', OPT_PID(T, pid), .arg = "PID", .help = "a pid"},
	{"str", 0, OPT_STRING(T, str), .arg = "FILE", .help = "a string"},
	{"call", 0, OPT_CALL(take_call), .arg = "X", .help = "a callback"},
	{"config", 'c', OPT_CONFIG(T, kept), .arg = "FILE", .help = "a config file"},
	{NULL, 0, OPT_INCLUDE(T, in, struct inner, inner_options)},
	{"hidden", 'q', OPT_FLAG(T, hidden)},
	{"help", 'h', OPT_HELP, .help = "this help"},
	{0},
};

#undef T

static void usage(FILE *f)
{
	options__help(t_options, f);
}

static const struct opt_command cmd = {"test", t_options, usage, false};
static const struct opt_command cmd_plus = {"test", t_options, usage, true};

static char said[2048]; /* what the last run said on stderr */

/* options__parse on argv (its first the command's name), stderr kept in said */
static int run_argv(const struct opt_command *c, struct t_opts *o, int argc, char **argv,
		    int *operand)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), code;
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	code = options__parse(c, argc, argv, o, operand);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(said, 1, sizeof(said) - 1, tmp);
	said[n] = '\0';
	fclose(tmp);
	return code;
}

static void defaults(struct t_opts *o)
{
	opt_strings__free(&o->kept);
	*o = (struct t_opts){.on = true};
}

#define RUN_ON(c, o, operand, ...)                                                                 \
	({                                                                                         \
		char *argv_[] = {"test", __VA_ARGS__, NULL};                                       \
		defaults(o);                                                                       \
		run_argv(c, o, (int)ARRAY_SIZE(argv_) - 1, argv_, operand);                        \
	})
#define RUN(o, ...) RUN_ON(&cmd, o, &operand, __VA_ARGS__)

/* refused with exit status 2 and these words, alone on one line */
#define REFUSED(o, words, ...)                                                                     \
	do {                                                                                       \
		ASSERT_EQ(RUN(o, __VA_ARGS__), STRAND_EXIT_USAGE);                                 \
		ASSERT_STREQ(said, "strand: " words "\n");                                         \
	} while (0)

static void test_kinds(void)
{
	struct t_opts o = {0};
	int operand;

	ASSERT_EQ(RUN(&o, "-f", "--no-on"), 0);
	ASSERT_TRUE(o.flag && !o.on && !o.hidden);
	ASSERT_STREQ(said, "");

	ASSERT_EQ(RUN(&o, "--dur", "100ms"), 0);
	ASSERT_EQ(o.dur, MIN_PERIOD_NS);
	ASSERT_EQ(RUN(&o, "-d", "1m"), 0);
	ASSERT_EQ(o.dur, 60 * NSEC_PER_SEC);
	REFUSED(&o, "invalid --dur '99ms': expected a duration of at least 100ms, like 30s", "-d",
		"99ms");
	REFUSED(&o, "invalid --dur '61s': expected a duration of at most 60s", "--dur=61s");
	REFUSED(&o, "invalid --any-duration-at-all '0': expected a duration like 500ms, 30s, 5m",
		"--any-duration-at-all", "0");
	ASSERT_EQ(RUN(&o, "--any-duration-at-all", "1ns"), 0);
	ASSERT_EQ(o.dur2, 1);

	ASSERT_EQ(RUN(&o, "-n", "2", "--icount", "0"), 0);
	ASSERT_TRUE(o.count == 2 && o.icount == 0);
	ASSERT_EQ(RUN(&o, "-n1000", "--icount", "10"), 0);
	ASSERT_TRUE(o.count == 1000 && o.icount == 10);
	REFUSED(&o, "invalid --count '1': expected a number from 2 to 1000", "--count", "1");
	REFUSED(&o, "invalid --count '1001': expected a number from 2 to 1000", "-n", "1001");
	REFUSED(&o, "invalid --icount '-1': expected a number from 0 to 10", "--icount", "-1");
	REFUSED(&o, "invalid --icount '11': expected a number from 0 to 10", "--icount", "11");

	ASSERT_EQ(RUN(&o, "--size", "4K"), 0);
	ASSERT_EQ(o.size, 4096);
	ASSERT_EQ(RUN(&o, "--size", "2G"), 0);
	ASSERT_EQ(o.size, 1u << 31);
	REFUSED(&o, "invalid --size '2048': expected a power of two from 4K, like 8M", "--size",
		"2048");
	REFUSED(&o, "invalid --size '5K': expected a power of two from 4K, like 8M", "--size",
		"5K");
	REFUSED(&o, "invalid --size '4G': expected a power of two from 4K, like 8M", "--size",
		"4G");

	ASSERT_EQ(RUN(&o, "--pct", "100"), 0);
	ASSERT_TRUE(o.pct == 100.0);
	ASSERT_EQ(RUN(&o, "--pct", "0.5%"), 0);
	ASSERT_TRUE(o.pct == 0.5);
	REFUSED(&o,
		"invalid --pct '0': expected a percentage of one CPU, more than 0 and at most 100 "
		"(e.g. 1 or 0.5%)",
		"--pct", "0");
	REFUSED(&o,
		"invalid --pct '100.5': expected a percentage of one CPU, more than 0 and at most "
		"100 (e.g. 1 or 0.5%)",
		"--pct", "100.5");

	ASSERT_EQ(RUN(&o, "-p", "1"), 0);
	ASSERT_EQ(o.pid, 1);
	ASSERT_EQ(RUN(&o, "--pid", "4194304"), 0);
	ASSERT_EQ(o.pid, PID_MAX_LIMIT);
	REFUSED(&o, "invalid pid '0': expected a process id", "-p", "0");
	REFUSED(&o, "invalid pid '4194305': expected a process id", "--pid", "4194305");
	REFUSED(&o, "invalid pid '12x': expected a process id", "--pid", "12x");

	ASSERT_EQ(RUN(&o, "--str", "a b", "--file", "f", "--call", "yes", "-q"), 0);
	ASSERT_STREQ(o.str, "a b");
	ASSERT_STREQ(o.in.file, "f");
	ASSERT_TRUE(o.calls == 1 && o.hidden);
	ASSERT_STREQ(o.called, "yes");
	REFUSED(&o, "invalid --call 'no': the callback says no", "--call", "no");
	defaults(&o);
}

static void test_refusals_and_operands(void)
{
	struct t_opts o = {0};
	int operand;

	/* getopt's own words, then where help is */
	ASSERT_EQ(RUN(&o, "--nope"), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said, "test: unrecognized option '--nope'\nTry 'strand test --help'.\n");
	ASSERT_EQ(RUN(&o, "--dur"), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said,
		     "test: option '--dur' requires an argument\nTry 'strand test --help'.\n");
	ASSERT_EQ(RUN(&o, "--flag=yes"), STRAND_EXIT_USAGE);
	ASSERT_TRUE(strstr(said, "doesn't allow an argument") != NULL);
	/* the first bad value ends the parse: what comes after is not taken */
	ASSERT_EQ(RUN(&o, "-n", "1", "--str", "x"), STRAND_EXIT_USAGE);
	ASSERT_TRUE(o.str == NULL);

	/* operands: moved to the end, or the end of the options */
	ASSERT_EQ(RUN(&o, "a", "-f", "b"), 0);
	ASSERT_TRUE(o.flag && operand == 2);
	ASSERT_EQ(RUN_ON(&cmd_plus, &o, &operand, "-f", "cmd", "-n", "1"), 0);
	ASSERT_TRUE(o.flag && o.count == 0 && operand == 2);
	ASSERT_EQ(RUN(&o, "-f"), 0);
	ASSERT_EQ(operand, 2);
	defaults(&o);
}

static void test_twice(void)
{
	struct t_opts o = {0};
	int operand;

	/* the last one wins, each taken through its own parse */
	ASSERT_EQ(RUN(&o, "-n", "3", "--count", "5"), 0);
	ASSERT_EQ(o.count, 5);
	ASSERT_EQ(RUN(&o, "-d", "1s", "-d", "2s"), 0);
	ASSERT_EQ(o.dur, 2 * NSEC_PER_SEC);
	REFUSED(&o, "invalid --count '1': expected a number from 2 to 1000", "-n", "3", "-n", "1");
	ASSERT_EQ(RUN(&o, "--call", "a", "--call", "b"), 0);
	ASSERT_TRUE(o.calls == 2 && !strcmp(o.called, "b"));
	defaults(&o);
}

static void test_getopt_lists(void)
{
	struct opt_getopt g;

	opt_getopt__make(&cmd, &g);
	ASSERT_STREQ(g.shorts, "fd:n:p:c:qh");
	ASSERT_EQ(g.n, 15);
	ASSERT_STREQ(g.longs[0].name, "flag");
	ASSERT_EQ(g.longs[0].has_arg, no_argument);
	ASSERT_EQ(g.longs[0].val, 'f');
	ASSERT_STREQ(g.longs[1].name, "no-on");
	ASSERT_TRUE(g.longs[1].val > 255);
	ASSERT_EQ(g.longs[2].has_arg, required_argument);
	ASSERT_EQ(g.longs[10].has_arg, required_argument); /* a callback with a value */
	/* an included table's options, at its struct */
	ASSERT_STREQ(g.longs[12].name, "file");
	ASSERT_EQ(g.at[12].off, offsetof(struct t_opts, in));
	ASSERT_TRUE(g.longs[15].name == NULL);
	opt_getopt__free(&g);
	opt_getopt__make(&cmd_plus, &g);
	ASSERT_STREQ(g.shorts, "+fd:n:p:c:qh");
	opt_getopt__free(&g);
}

static void test_help(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	options__help(t_options, f);
	fclose(f);
	ASSERT_STREQ(buf, "  -f, --flag             a flag\n"
			  "      --no-on            clears on\n"
			  "  -d, --dur DURATION     a duration\n"
			  "                         of two lines\n"
			  "      --any-duration-at-all DURATION  a long first column\n"
			  "  -n, --count N          a count\n"
			  "      --icount K         a count to an int\n"
			  "      --size SIZE        a size\n"
			  "      --pct PERCENT      a share of a CPU\n"
			  "  -p, --pid PID          a pid\n"
			  "      --str FILE         a string\n"
			  "      --call X           a callback\n"
			  "  -c, --config FILE      a config file\n"
			  "      --file FILE        a file\n"
			  "  -h, --help             this help\n");
	free(buf);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* A file of text refused by a parse that names it (the last file named wins): said as
 * "strand: PATH" and words. */
static void config_refused(struct t_opts *o, char *path, const char *text, const char *words)
{
	char want[512];
	int operand;

	write_file(path, text);
	snprintf(want, sizeof(want), "strand: %s%s\n", path, words);
	ASSERT_EQ(RUN(o, "--config=/dev/null", "-c", path), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said, want);
}

static void test_config(void)
{
	char path[] = "/tmp/strand-test-options-XXXXXX", words[512];
	struct t_opts o = {0};
	int operand, fd = mkstemp(path);

	close(fd);
	write_file(path, "# a comment\n\n  count = 7  # seven\nflag\nstr  two words \t\n"
			 "file=/x\n");
	ASSERT_EQ(RUN(&o, "-c", path), 0);
	ASSERT_TRUE(o.count == 7 && o.flag);
	ASSERT_STREQ(o.str, "two words");
	ASSERT_STREQ(o.in.file, "/x");
	ASSERT_EQ(o.kept.n, 3);
	/* the command line wins, wherever the file is named in it */
	ASSERT_EQ(RUN(&o, "--count", "9", "--config", path, "--str", "s"), 0);
	ASSERT_TRUE(o.count == 9 && o.flag);
	ASSERT_STREQ(o.str, "s");
	ASSERT_STREQ(o.in.file, "/x");

	/* a bad line: named with the file and its line */
	config_refused(&o, path, "count 3\n\nnope 1\n", ":3: unknown option 'nope'");
	config_refused(&o, path, "flag yes\n", ":1: 'flag' takes no value");
	config_refused(&o, path, "count\n", ":1: 'count' needs a value");
	/* no file from a file, no help */
	config_refused(&o, path, "config /etc/passwd\n", ":1: unknown option 'config'");
	config_refused(&o, path, "help\n", ":1: unknown option 'help'");

	/* a value in the file: the same parse and the same words as on the command line */
	write_file(path, "count 1\n");
	ASSERT_EQ(RUN(&o, "-c", path, "--count", "5"), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said, "strand: invalid --count '1': expected a number from 2 to 1000\n");
	write_file(path, "count 3\ncount 4\n");
	ASSERT_EQ(RUN(&o, "-c", path), 0);
	ASSERT_EQ(o.count, 4);

	unlink(path);
	snprintf(words, sizeof(words), "strand: cannot read '%s': No such file or directory\n",
		 path);
	ASSERT_EQ(RUN(&o, "-c", path), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said, words);
	/* a directory opens but does not read: said, not taken for an empty file */
	ASSERT_EQ(RUN(&o, "-c", "/tmp"), STRAND_EXIT_USAGE);
	ASSERT_STREQ(said, "strand: cannot read '/tmp': Is a directory\n");
	defaults(&o);
}

int main(void)
{
	test_kinds();
	test_refusals_and_operands();
	test_twice();
	test_getopt_lists();
	test_help();
	test_config();
	return unit_summary();
}
