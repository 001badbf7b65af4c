// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/options.h"
#include "lib/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* The help's second column: what a shorter first one is padded to, and two spaces. */
#define HELP_LEFT 23

/* A long option's value getopt has no letter for: past every char. */
#define LONG_ONLY 256

static bool takes_value(const struct opt *e)
{
	switch (e->kind) {
	case OPT_KIND_FLAG:
	case OPT_KIND_CLEAR:
	case OPT_KIND_HELP:
		return false;
	case OPT_KIND_CALL:
		return e->arg;
	default:
		return true;
	}
}

void opt_strings__free(struct opt_strings *k)
{
	for (int i = 0; i < k->n; i++)
		free(k->s[i]);
	free(k->s);
	*k = (struct opt_strings){0};
}

static char *opt_strings__add(struct opt_strings *k, const char *s)
{
	k->s = xrealloc(k->s, (size_t)(k->n + 1) * sizeof(*k->s));
	return k->s[k->n++] = xstrdup(s);
}

static size_t count(const struct opt *t)
{
	size_t n = 0;

	for (const struct opt *e = t; e->kind; e++)
		n += e->kind == OPT_KIND_INCLUDE ? count(e->table) : 1;
	return n;
}

static void add(struct opt_getopt *g, const struct opt *t, size_t off, char **shorts)
{
	for (const struct opt *e = t; e->kind; e++) {
		size_t i = g->n;

		if (e->kind == OPT_KIND_INCLUDE) {
			add(g, e->table, off + e->off, shorts);
			continue;
		}
		g->longs[i] = (struct option){
			.name = e->name,
			.has_arg = takes_value(e) ? required_argument : no_argument,
			.val = e->letter ? e->letter : LONG_ONLY + (int)i,
		};
		g->at[i] = (struct opt_getopt_at){e, off};
		g->n++;
		if (e->letter) {
			*(*shorts)++ = e->letter;
			if (takes_value(e))
				*(*shorts)++ = ':';
		}
	}
}

void opt_getopt__make(const struct opt_command *c, struct opt_getopt *g)
{
	size_t n = count(c->table);
	char *s;

	*g = (struct opt_getopt){
		.shorts = xcalloc(1, 2 * n + 2),
		.longs = xcalloc(n + 1, sizeof(*g->longs)),
		.at = xcalloc(n, sizeof(*g->at)),
	};
	s = g->shorts;
	if (c->stop_at_operand)
		*s++ = '+';
	add(g, c->table, 0, &s);
}

void opt_getopt__free(struct opt_getopt *g)
{
	free(g->shorts);
	free(g->longs);
	free(g->at);
	*g = (struct opt_getopt){0};
}

static const struct opt_getopt_at *by_val(const struct opt_getopt *g, int val)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->longs[i].val == val)
			return &g->at[i];
	return NULL;
}

static const struct opt_getopt_at *by_name(const struct opt_getopt *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->longs[i].name, name))
			return &g->at[i];
	return NULL;
}

/* "4K" for 4096: a size as the options take it */
static void size__format(uint32_t v, char *buf, size_t len)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		uint32_t unit = 1u << (10 * (3 - i));

		if (v && v % unit == 0) {
			snprintf(buf, len, "%u%c", v / unit, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%u", v);
}

static int take_duration(const char *name, const struct opt *e, const char *arg, int64_t *at)
{
	int64_t ns;

	if (!parse_duration_option(name, arg, e->min, &ns))
		return STRAND_EXIT_USAGE;
	if (e->max && ns > e->max) {
		if (e->max % (int64_t)NSEC_PER_SEC == 0)
			say("invalid %s '%s': expected a duration of at most %llds", name, arg,
			    (long long)(e->max / (int64_t)NSEC_PER_SEC));
		else
			say("invalid %s '%s': expected a duration of at most %lldms", name, arg,
			    (long long)(e->max / 1000000));
		return STRAND_EXIT_USAGE;
	}
	*at = ns;
	return 0;
}

/* One option's value (NULL for one that takes none) into opts: the one place each kind is
 * parsed, checked and said to be wrong. */
static int take(const struct opt_command *c, const struct opt *e, void *opts, const char *arg)
{
	void *at = opt__field(opts, e);
	char name[64], min[16];
	uint32_t u;

	snprintf(name, sizeof(name), "--%s", e->name);
	switch (e->kind) {
	case OPT_KIND_FLAG:
	case OPT_KIND_CLEAR:
		*(bool *)at = e->kind == OPT_KIND_FLAG;
		return 0;
	case OPT_KIND_DURATION:
		return take_duration(name, e, arg, at);
	case OPT_KIND_COUNT:
	case OPT_KIND_COUNT_INT:
		if (!parse_count_option(name, arg, (uint32_t)e->min, (uint32_t)e->max, &u))
			return STRAND_EXIT_USAGE;
		if (e->kind == OPT_KIND_COUNT)
			*(uint32_t *)at = u;
		else
			*(int *)at = (int)u;
		return 0;
	case OPT_KIND_SIZE:
		if (!parse_size(arg, &u) || u < e->min || (u & (u - 1))) {
			size__format((uint32_t)e->min, min, sizeof(min));
			say("invalid %s '%s': expected a power of two from %s, like 8M", name, arg,
			    min);
			return STRAND_EXIT_USAGE;
		}
		*(uint32_t *)at = u;
		return 0;
	case OPT_KIND_PERCENT:
		if (!parse_percent(arg, at)) {
			say("invalid %s '%s': expected a percentage of one CPU, more than 0 and at "
			    "most 100 (e.g. 1 or 0.5%%)",
			    name, arg);
			return STRAND_EXIT_USAGE;
		}
		return 0;
	case OPT_KIND_PID:
		if (!parse_u32(arg, &u) || u == 0 || u > PID_MAX_LIMIT) {
			say("invalid pid '%s': expected a process id", arg);
			return STRAND_EXIT_USAGE;
		}
		*(pid_t *)at = (pid_t)u;
		return 0;
	case OPT_KIND_STRING:
		*(const char **)at = arg;
		return 0;
	case OPT_KIND_CALL:
		return e->call(opts, e, arg);
	case OPT_KIND_HELP:
		c->usage(stdout);
		/* a help that could not be written is no help (a full disk, a closed pipe) */
		if (fflush(stdout) || ferror(stdout)) {
			say("cannot write the help: %s", strerror(errno ? errno : EIO));
			exit(STRAND_EXIT_ERROR);
		}
		exit(STRAND_EXIT_OK);
	default: /* a config file is read before the rest */
		return 0;
	}
}

/* The table's OPT_KIND_CONFIG option, NULL when it has none. */
static const struct opt_getopt_at *config__option(const struct opt_getopt *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->at[i].e->kind == OPT_KIND_CONFIG)
			return &g->at[i];
	return NULL;
}

/* The file an OPT_KIND_CONFIG option names, when argv has one: the last one's. */
static const char *config__path(const struct opt_getopt *g, int argc, char **argv)
{
	const struct opt_getopt_at *at;
	const char *path = NULL;
	int val;

	if (!config__option(g))
		return NULL;
	opterr = 0; /* the parse proper says what is wrong */
	optind = 0;
	while ((val = getopt_long(argc, argv, g->shorts, g->longs, NULL)) != -1)
		if ((at = by_val(g, val)) && at->e->kind == OPT_KIND_CONFIG)
			path = optarg;
	opterr = 1;
	return path;
}

int options__parse(const struct opt_command *c, int argc, char **argv, void *opts, int *operand)
{
	const struct opt_getopt_at *at;
	struct opt_getopt g;
	const char *config;
	int val, code = 0;

	opt_getopt__make(c, &g);
	/* the file first, so that the command line wins */
	if ((config = config__path(&g, argc, argv)))
		code = options__read_config(c, opts, config);
	optind = 0; /* from the start, getopt's state anew */
	while (!code && (val = getopt_long(argc, argv, g.shorts, g.longs, NULL)) != -1) {
		if (!(at = by_val(&g, val))) { /* getopt said what */
			fprintf(stderr, "Try 'strand %s --help'.\n", c->name);
			code = STRAND_EXIT_USAGE;
		} else if (at->e->kind != OPT_KIND_CONFIG) {
			code = take(c, at->e, (char *)opts + at->off, optarg);
		}
	}
	*operand = optind;
	opt_getopt__free(&g);
	return code;
}

/* The name and the value of a config line (cut in place), NULL for none: blank lines,
 * comments and a value's surrounding blanks and '=' are no part of them. */
static char *config__line(char *line, char **value)
{
	char *name, *p, *hash = strchr(line, '#');

	*value = NULL;
	if (hash)
		*hash = '\0';
	p = line + strspn(line, " \t");
	name = p;
	p += strcspn(p, " \t\r\n=");
	if (p == name)
		return NULL;
	if (*p) {
		*p++ = '\0';
		p += strspn(p, " \t=");
		*value = p;
		p[strcspn(p, "\r\n")] = '\0';
		for (size_t n = strlen(p); n && (p[n - 1] == ' ' || p[n - 1] == '\t');)
			p[--n] = '\0';
	}
	return name;
}

int options__read_config(const struct opt_command *c, void *opts, const char *path)
{
	const struct opt_getopt_at *at;
	struct opt_strings *kept;
	struct opt_getopt g;
	char *line = NULL, *name, *value;
	size_t cap = 0;
	int lineno = 0, code = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		say("cannot read '%s': %s", path, strerror(errno));
		return STRAND_EXIT_USAGE;
	}
	opt_getopt__make(c, &g);
	if (!(at = config__option(&g))) /* a command with no config option reads no file */
		abort();
	kept = opt__field((char *)opts + at->off, at->e);
	while (!code && getline(&line, &cap, f) >= 0) {
		lineno++;
		if (!(name = config__line(line, &value)))
			continue;
		at = by_name(&g, name);
		/* a file names no other file, nor asks for help */
		if (!at || at->e->kind == OPT_KIND_CONFIG || at->e->kind == OPT_KIND_HELP) {
			say("%s:%d: unknown option '%s'", path, lineno, name);
			code = STRAND_EXIT_USAGE;
		} else if (takes_value(at->e) != (value && *value)) {
			say("%s:%d: '%s' %s", path, lineno, name,
			    takes_value(at->e) ? "needs a value" : "takes no value");
			code = STRAND_EXIT_USAGE;
		} else {
			code = take(c, at->e, (char *)opts + at->off,
				    takes_value(at->e) ? opt_strings__add(kept, value) : NULL);
		}
	}
	/* a directory opens, and reads as an error: not as a file of no options */
	if (!code && ferror(f)) {
		say("cannot read '%s': %s", path, strerror(errno));
		code = STRAND_EXIT_USAGE;
	}
	free(line);
	fclose(f);
	opt_getopt__free(&g);
	return code;
}

void options__help(const struct opt *table, FILE *f)
{
	for (const struct opt *e = table; e->kind; e++) {
		char left[64];

		if (e->kind == OPT_KIND_INCLUDE) {
			options__help(e->table, f);
			continue;
		}
		if (!e->help)
			continue;
		snprintf(left, sizeof(left), "  %c%c%c --%s%s%s", e->letter ? '-' : ' ',
			 e->letter ? e->letter : ' ', e->letter ? ',' : ' ', e->name,
			 e->arg ? " " : "", e->arg ? e->arg : "");
		fprintf(f, "%-*s  ", HELP_LEFT, left);
		for (const char *l = e->help;;) {
			const char *nl = strchrnul(l, '\n');

			fprintf(f, "%.*s\n", (int)(nl - l), l);
			if (!*nl)
				break;
			l = nl + 1;
			fprintf(f, "%*s", HELP_LEFT + 2, "");
		}
	}
}

int options__take_quiet(void *opts, const struct opt *e, const char *arg)
{
	strand_quiet = true;
	return 0;
}
