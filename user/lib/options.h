/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A command's options as one table, an entry an option: its names, what its value is and
 * where it goes, its line in --help. getopt_long's lists, the option list of --help, each
 * value's parse and the words that refuse it, and the daemon's config file are all made
 * from the table, so that an option cannot be taken one way on the command line and
 * another in a file, nor be documented apart from what it does.
 */
#ifndef STRAND_OPTIONS_H
#define STRAND_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct option;

/* What an option takes, and the C type of what it stores at its off. */
enum opt_kind {
	OPT_KIND_END,	    /* ends a table: {0} */
	OPT_KIND_FLAG,	    /* no value: sets the bool */
	OPT_KIND_CLEAR,	    /* no value: clears the bool (--no-live) */
	OPT_KIND_DURATION,  /* int64_t nanoseconds, from min (at least 1) to max (0: no bound) */
	OPT_KIND_COUNT,	    /* uint32_t, from min to max */
	OPT_KIND_COUNT_INT, /* the same into an int (max at most INT32_MAX) */
	OPT_KIND_SIZE,	    /* uint32_t bytes, a power of two from min: 4096, 64K, 8M */
	OPT_KIND_PERCENT,   /* double, a share of one CPU: more than 0, at most 100 */
	OPT_KIND_PID,	    /* pid_t, a process id */
	OPT_KIND_STRING,    /* const char *, the argument itself: a file, an address */
	OPT_KIND_CALL,	    /* call takes it: a value when arg names one, none when not */
	OPT_KIND_HELP,	    /* the command's usage on stdout, and exit 0 */
	OPT_KIND_CONFIG,    /* a file of options, read before the command line's (which wins) */
	OPT_KIND_INCLUDE,   /* the options of another table, on the struct at off */
};

struct opt;
/* An OPT_KIND_CALL option's value (NULL when it takes none) into opts; 0, or an exit code
 * said. */
typedef int opt_call_fn(void *opts, const struct opt *e, const char *arg);

struct opt {
	const char *name; /* the long option's, without "--" */
	char letter;	  /* the short option's, 0: none */
	enum opt_kind kind;
	size_t off; /* where the value goes in the command's options */
	int64_t min, max;
	const char *arg;  /* the value's name in --help: DURATION, N, FILE */
	const char *help; /* its lines in --help, '\n' between them; NULL: not listed */
	opt_call_fn *call;
	const struct opt *table; /* OPT_KIND_INCLUDE's */
};

/* Where an entry's value goes, checked against the C type the kind stores. */
#define OPT_AT_(T, m, type) .off = offsetof(T, m) + _Generic(((T *)0)->m, type : 0)

#define OPT_FLAG(T, m)	.kind = OPT_KIND_FLAG, OPT_AT_(T, m, bool)
#define OPT_CLEAR(T, m) .kind = OPT_KIND_CLEAR, OPT_AT_(T, m, bool)
#define OPT_DURATION(T, m, lo, hi)                                                                 \
	.kind = OPT_KIND_DURATION, OPT_AT_(T, m, int64_t), .min = (lo), .max = (hi)
/* a count goes to a uint32_t or an int */
#define OPT_COUNT_KIND_(T, m)                                                                      \
	_Generic(((T *)0)->m, uint32_t : OPT_KIND_COUNT, int : OPT_KIND_COUNT_INT)
#define OPT_COUNT(T, m, lo, hi)                                                                    \
	.kind = OPT_COUNT_KIND_(T, m), .off = offsetof(T, m), .min = (lo), .max = (hi)
#define OPT_SIZE(T, m, lo) .kind = OPT_KIND_SIZE, OPT_AT_(T, m, uint32_t), .min = (lo)
#define OPT_PERCENT(T, m)  .kind = OPT_KIND_PERCENT, OPT_AT_(T, m, double)
#define OPT_PID(T, m)	   .kind = OPT_KIND_PID, OPT_AT_(T, m, pid_t)
#define OPT_STRING(T, m)   .kind = OPT_KIND_STRING, OPT_AT_(T, m, const char *)
#define OPT_CONFIG(T, m)   .kind = OPT_KIND_CONFIG, OPT_AT_(T, m, struct opt_strings)
#define OPT_CALL(fn)	   .kind = OPT_KIND_CALL, .call = (fn)
/* fn takes the value to m (opt__field) */
#define OPT_CALL_AT(T, m, fn)	     .kind = OPT_KIND_CALL, .off = offsetof(T, m), .call = (fn)
#define OPT_HELP		     .kind = OPT_KIND_HELP
#define OPT_INCLUDE(T, m, type, tbl) .kind = OPT_KIND_INCLUDE, OPT_AT_(T, m, type), .table = (tbl)

static inline void *opt__field(void *opts, const struct opt *e)
{
	return (char *)opts + e->off;
}

/* The values a config file gave, which the options it set point into. */
struct opt_strings {
	char **s;
	int n;
};
void opt_strings__free(struct opt_strings *k);

struct opt_command {
	const char *name;	 /* "trace": where help is, in "Try 'strand trace --help'." */
	const struct opt *table; /* ended by {0} */
	void (*usage)(FILE *f);	 /* --help: the prose around options__help's list */
	bool stop_at_operand;	 /* COMMAND's own options after it stay its own */
};

/*
 * argv's options into opts, which holds their defaults: an OPT_KIND_CONFIG file's first, then
 * the rest in order, the last of one option winning. 0, or STRAND_EXIT_USAGE said in one
 * line naming the option and the value (and where help is, for an option getopt refuses).
 * *operand: argv's first operand (argc: none); getopt may have moved them to the end.
 */
int options__parse(const struct opt_command *c, int argc, char **argv, void *opts, int *operand);
/* "name value" per line, name a long option's, '#' a comment: each through the parse the
 * command line's goes through. 0, or STRAND_EXIT_USAGE said (with file:line for a name
 * unknown, or a value missing or extra). Its values are kept in the table's OPT_KIND_CONFIG field.
 */
int options__read_config(const struct opt_command *c, void *opts, const char *path);
/* The option list of --help, in the table's order: two columns, the second at column 25. */
void options__help(const struct opt *table, FILE *f);

/* getopt_long's lists as made from a table: for the parse, and for the tests to read. */
struct opt_getopt {
	char *shorts;	      /* "+p:fd:..." */
	struct option *longs; /* ended by {0} */
	struct opt_getopt_at {
		const struct opt *e;
		size_t off; /* where the entry's struct is in the command's (an OPT_KIND_INCLUDE) */
	} * at;		    /* by longs' index */
	size_t n;
};
void opt_getopt__make(const struct opt_command *c, struct opt_getopt *g);
void opt_getopt__free(struct opt_getopt *g);

/* -q: no progress messages (strand_quiet), for the commands that take it. */
opt_call_fn options__take_quiet;

#endif /* STRAND_OPTIONS_H */
