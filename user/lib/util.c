// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/util.h"
#include "lib/hashmap.h"
#include "lib/prefault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool strand_quiet;

static void vsay(const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "strand: %s\n", buf);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (strand_quiet)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void out_of_memory(void)
{
	fputs("strand: out of memory\n", stderr);
	abort();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xmalloc(size_t size)
{
	return xrealloc(NULL, size);
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

static size_t big_round(size_t len)
{
	return (len + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE;
}

void *map_zeroed(size_t len, bool huge)
{
	/* the reserve's memory is faulted in ahead (prefault.h) */
	void *p = huge ? prefault__carve(len) : NULL;

	if (p)
		return p;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		out_of_memory();
	/* a hint: where transparent huge pages are off, small pages do */
	if (huge)
		madvise(p, len, MADV_HUGEPAGE);
	return p;
}

void unmap_zeroed(void *p, size_t len)
{
	if (!p)
		return;
	prefault__forget(p, len);
	munmap(p, len);
}

void *big_alloc(size_t len)
{
	return len < BIG_PAGE ? xcalloc(1, len) : map_zeroed(big_round(len), true);
}

void *big_realloc(void *p, size_t old_len, size_t new_len)
{
	void *to;

	if (!p)
		return big_alloc(new_len);
	if (old_len >= BIG_PAGE && new_len >= BIG_PAGE) {
		if (big_round(old_len) == big_round(new_len))
			return p;
		to = mremap(p, big_round(old_len), big_round(new_len), MREMAP_MAYMOVE);
		if (to == MAP_FAILED)
			out_of_memory();
		if (to != p) /* what was asked for at the old place is some other memory's now */
			prefault__forget(p, big_round(old_len));
		return to; /* grown zeroed, still asked for huge pages (the mapping's flags move) */
	}
	to = big_alloc(new_len); /* from one kind to the other, or small to small */
	memcpy(to, p, old_len < new_len ? old_len : new_len);
	big_free(p, old_len);
	return to;
}

void big_free(void *p, size_t len)
{
	if (!p)
		return;
	if (len >= BIG_PAGE)
		unmap_zeroed(p, big_round(len));
	else
		free(p);
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		out_of_memory();
	return p;
}

int64_t duration__parse(const char *s)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = {
		{"ns", 1},   {"us", 1e3},   {"ms", 1e6}, {"s", 1e9},
		{"m", 60e9}, {"h", 3600e9}, {"", 1e9},
	};
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			double ns = v * units[i].ns;

			if (ns > 9.2e18)
				return -1;
			return (int64_t)ns;
		}
	}
	return -1;
}

bool parse_count_option(const char *option, const char *arg, uint32_t lo, uint32_t hi,
			uint32_t *out)
{
	uint32_t v;

	if (!parse_u32(arg, &v) || v < lo || v > hi) {
		say("invalid %s '%s': expected a number from %u to %u", option, arg, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

bool parse_duration_option(const char *option, const char *arg, int64_t min_ns, int64_t *out)
{
	int64_t ns = duration__parse(arg);

	if (ns > 0 && ns >= min_ns) {
		*out = ns;
		return true;
	}
	if (min_ns <= 1)
		say("invalid %s '%s': expected a duration like 500ms, 30s, 5m", option, arg);
	else if (min_ns % (int64_t)NSEC_PER_SEC == 0)
		say("invalid %s '%s': expected a duration of at least %llds, like 30s", option, arg,
		    (long long)(min_ns / (int64_t)NSEC_PER_SEC));
	else
		say("invalid %s '%s': expected a duration of at least %lldms, like 30s", option,
		    arg, (long long)(min_ns / 1000000));
	return false;
}

bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool parse_size(const char *s, uint32_t *out)
{
	unsigned long long v = 0;
	int shift = 0;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > 0xffffffffULL)
			return false;
	}
	if (*p == 'K' || *p == 'k')
		shift = 10;
	else if (*p == 'M' || *p == 'm')
		shift = 20;
	else if (*p == 'G' || *p == 'g')
		shift = 30;
	if (shift)
		p++;
	if (*p || (v << shift) > 0xffffffffULL)
		return false;
	*out = (uint32_t)(v << shift);
	return true;
}

bool str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void side_by_side(void *(*fn)(void *), void *parts, size_t stride, size_t n)
{
	pthread_t threads[SIDE_BY_SIDE_MAX];
	bool started[SIDE_BY_SIDE_MAX] = {false};
	uint8_t *part = parts;

	if (n > SIDE_BY_SIDE_MAX)
		n = SIDE_BY_SIDE_MAX;
	for (size_t k = 1; k < n; k++)
		started[k] = !pthread_create(&threads[k], NULL, fn, part + k * stride);
	for (size_t k = 0; k < n; k++)
		if (!started[k])
			fn(part + k * stride);
	for (size_t k = 1; k < n; k++)
		if (started[k])
			pthread_join(threads[k], NULL);
}

size_t cpus_usable(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (size_t)n : 1;
}

uint64_t now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_boot_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t process_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

double now_wall(void)
{
	return (double)clock_ns(CLOCK_REALTIME) / 1e9;
}

uint64_t file_key(const struct stat *st)
{
	uint64_t h = hash_combine(hash_u64((uint64_t)st->st_dev), (uint64_t)st->st_ino);

	h = hash_combine(h, (uint64_t)st->st_size);
	return hash_combine(h, (uint64_t)st->st_mtim.tv_sec * NSEC_PER_SEC +
				       (uint64_t)st->st_mtim.tv_nsec);
}

int read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629), 0 when it is not one. */
int utf8_seq_len(const unsigned char *p)
{
	int n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	uint32_t cp;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	cp = n == 2   ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
	     : n == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)
		      : (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 |
				(p[3] & 0x3fu);
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

bool parse_percent(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v > 0 && v <= 100) || (*end && strcmp(end, "%")))
		return false;
	*out = v;
	return true;
}

void evidence__add(char *rows, size_t width, int *n, size_t max, const char *fmt, ...)
{
	va_list ap;

	if (*n < 0 || (size_t)*n >= max)
		return;
	va_start(ap, fmt);
	vsnprintf(rows + (size_t)*n * width, width, fmt, ap);
	va_end(ap);
	(*n)++;
}
