/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small things every part of strand uses: exit codes, errors, durations, clocks. */
#ifndef STRAND_UTIL_H
#define STRAND_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRAND_VERSION "0.1.0"

/* Documented in `strand --help` and the README: scripts depend on them. */
enum strand_exit {
	STRAND_EXIT_OK = 0,
	STRAND_EXIT_ERROR = 1,	   /* strand itself failed */
	STRAND_EXIT_USAGE = 2,	   /* bad command line */
	STRAND_EXIT_NO_TARGET = 3, /* no such process, or the command cannot be run */
	STRAND_EXIT_PERM = 4,	   /* not root / missing CAP_BPF, CAP_PERFMON, ... */
	STRAND_EXIT_NO_BPF = 5,	   /* the kernel lacks what strand needs (BTF, ring buffer) */
	STRAND_EXIT_STRANDED = 10, /* stranded tasks remain at the end of the trace */
};

extern bool strand_quiet;

/* "strand: <message>" on stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, unless --quiet. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xcalloc(size_t n, size_t size);
/* Not zeroed: for buffers every byte of which is written before it is read. */
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/*
 * Tables that may be large (a million goroutines' snapshot): zeroed memory that, from
 * BIG_PAGE bytes on, is a mapping of its own asked to be backed by huge pages, so that
 * filling it takes one page fault per 2 MiB, not 512 (a fault costs microseconds in a
 * virtual machine: a first scan's tables were a third of its time). Smaller ones are
 * malloc's, not a huge page each. The length given to big_realloc and big_free is the one
 * the memory was last asked for: it tells which kind it is.
 */
#define BIG_PAGE ((size_t)2 << 20)

/* The shortest threshold, refresh or recording period an option takes */
#define MIN_PERIOD_NS 100000000LL
/* Nanoseconds in a second: time is kept in uint64_t nanoseconds (CLOCK_MONOTONIC's, BPF's) */
#define NSEC_PER_SEC 1000000000ULL
/* The kernel's ceiling for pid_max on 64-bit: no pid or tid is larger (PID_MAX_LIMIT) */
#define PID_MAX_LIMIT (4u << 20)
void *big_alloc(size_t len);
/* As realloc, for memory from big_alloc: the contents kept, the new part zeroed. */
void *big_realloc(void *p, size_t old_len, size_t new_len);
void big_free(void *p, size_t len);
/* len bytes of zeroed memory, a mapping of its own (memory only where written), asked for
 * huge pages if huge; freed by unmap_zeroed(p, len). */
void *map_zeroed(size_t len, bool huge);
void unmap_zeroed(void *p, size_t len);

/* "500ms", "30s", "5m", "1h", "2.5s" -> nanoseconds; plain numbers are seconds. -1: bad. */
int64_t duration__parse(const char *s);

/* An option's duration (duration__parse) of at least min_ns (and more than 0) into *out;
 * false, said in one line naming option and value, when it is not one. */
bool parse_duration_option(const char *option, const char *arg, int64_t min_ns, int64_t *out);
/* An option's count from lo to hi into *out; false, said in one line naming option and
 * value, when it is not one. */
bool parse_count_option(const char *option, const char *arg, uint32_t lo, uint32_t hi,
			uint32_t *out);
/* Checked decimal parse of a positive pid/int; false on any junk. */
bool parse_u32(const char *s, uint32_t *out);

/* A size: digits, then K, M or G (powers of 1024) or nothing; false on junk or > 4G-1. */
bool parse_size(const char *s, uint32_t *out);
/* A share of one CPU: "1", "0.5", "2%"; more than 0, at most 100. */
bool parse_percent(const char *s, double *out);

bool str_ends_with(const char *s, const char *suffix);
/* The length of the well-formed UTF-8 sequence (RFC 3629) of 2-4 bytes at p, 0 when it is
 * not one (an ASCII byte included); never reads past a NUL. */
int utf8_seq_len(const unsigned char *p);

/* the CPUs this process may run on (its affinity) */
size_t cpus_usable(void);
/* Runs fn on each of n parts (stride bytes apart, at most SIDE_BY_SIDE_MAX): the first on
 * this thread, the others each on a thread of its own meanwhile (after, on this one, where
 * a thread cannot be made). Returns once every part is done. */
#define SIDE_BY_SIDE_MAX 4
void side_by_side(void *(*fn)(void *), void *parts, size_t stride, size_t n);

uint64_t now_mono_ns(void);    /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns */
uint64_t now_boot_ns(void);    /* CLOCK_BOOTTIME, for /proc start times */
uint64_t thread_cpu_ns(void);  /* CPU time of the calling thread */
uint64_t process_cpu_ns(void); /* ... of all of strand's threads */
double now_wall(void);	       /* seconds since the epoch */

/* Reads a whole small file (procfs) into buf, NUL-terminated; returns length or -errno. */
int read_small_file(const char *path, char *buf, size_t size);

struct stat;
/* Which file this is, contents included: device, inode, size and modification time (a
 * file replaced on disk is another file). */
uint64_t file_key(const struct stat *st);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A verdict's evidence: a line formatted into the next of max rows of width bytes (cut to
 * fit); nothing once all are taken. EVIDENCE_ADD(rows, n, fmt, ...) for a char[max][width]. */
void evidence__add(char *rows, size_t width, int *n, size_t max, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define EVIDENCE_ADD(rows, n, ...)                                                                 \
	evidence__add((char *)(rows), sizeof((rows)[0]), &(n), ARRAY_SIZE(rows), __VA_ARGS__)

#endif /* STRAND_UTIL_H */
