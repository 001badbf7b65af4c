// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/perfmap.h"
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PERFMAP_MAX_BYTES (256u << 20) /* a map larger is read no further */
#define PERFMAP_NAME_MAX  1024

struct perfmap_entry {
	uint64_t start, end;
	char *name;
};

struct perfmap {
	char path[4200];
	off_t read_to; /* bytes of the file read so far */
	struct perfmap_entry *entries;
	size_t n, cap;
	bool sorted;
};

static bool hex_field(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int digits = 0;

	if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; s < end && *s != ' '; s++, digits++) {
		int d = *s >= '0' && *s <= '9'	 ? *s - '0'
			: *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
			: *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
						 : -1;

		if (d < 0 || digits == 16)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	if (!digits || s == end)
		return false;
	*v = x;
	*p = s + 1;
	return true;
}

bool perfmap__parse_line(const char *line, size_t n, uint64_t *start, uint64_t *size,
			 const char **name, size_t *name_len)
{
	const char *p = line, *end = line + n;

	if (!hex_field(&p, end, start) || !hex_field(&p, end, size) || p >= end || !*size ||
	    *start + *size < *start)
		return false;
	*name = p;
	*name_len = (size_t)(end - p);
	return true;
}

/* The pid pid has in its own namespace (the last of /proc/PID/status's NSpid): the one its
 * JIT names its map by. */
static pid_t own_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t inner = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return pid;
	while (fgets(line, sizeof(line), f)) {
		char *last;

		if (strncmp(line, "NSpid:", 6))
			continue;
		last = strrchr(line, '\t');
		if (last && atoi(last + 1) > 0)
			inner = atoi(last + 1);
		break;
	}
	fclose(f);
	return inner;
}

struct perfmap *perfmap__open(pid_t pid)
{
	struct perfmap *m = xcalloc(1, sizeof(*m));
	struct stat st;

	snprintf(m->path, sizeof(m->path), "/proc/%d/root/tmp/perf-%d.map", pid, own_pid(pid));
	if (stat(m->path, &st) || !S_ISREG(st.st_mode)) {
		free(m);
		return NULL;
	}
	return m;
}

void perfmap__free(struct perfmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].name);
	free(m->entries);
	free(m);
}

static void add(struct perfmap *m, uint64_t start, uint64_t size, const char *name, size_t len)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->entries = xrealloc(m->entries, m->cap * sizeof(*m->entries));
	}
	if (len > PERFMAP_NAME_MAX)
		len = PERFMAP_NAME_MAX;
	m->entries[m->n].start = start;
	m->entries[m->n].end = start + size;
	m->entries[m->n].name = xmalloc(len + 1);
	memcpy(m->entries[m->n].name, name, len);
	m->entries[m->n].name[len] = '\0';
	m->n++;
	m->sorted = false;
}

/* The lines appended since the last read: whole ones only (a JIT may be writing one). */
static void read_more(struct perfmap *m)
{
	struct stat st;
	char *buf, *p, *nl;
	size_t len;
	FILE *f;

	if (stat(m->path, &st) || st.st_size <= m->read_to || m->read_to >= PERFMAP_MAX_BYTES)
		return;
	len = (size_t)(st.st_size - m->read_to);
	if (len > PERFMAP_MAX_BYTES - (size_t)m->read_to)
		len = PERFMAP_MAX_BYTES - (size_t)m->read_to;
	if (!(f = fopen(m->path, "re")))
		return;
	buf = xmalloc(len + 1);
	if (fseeko(f, m->read_to, SEEK_SET) || fread(buf, 1, len, f) != len) {
		free(buf);
		fclose(f);
		return;
	}
	fclose(f);
	for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
		uint64_t start, size;
		const char *name;
		size_t n;

		if (perfmap__parse_line(p, (size_t)(nl - p), &start, &size, &name, &n))
			add(m, start, size, name, n);
	}
	m->read_to += p - buf;
	free(buf);
}

static int by_start(const void *a, const void *b)
{
	const struct perfmap_entry *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static const char *find(struct perfmap *m, uint64_t pc)
{
	size_t lo = 0, hi = m->n;

	if (!m->n)
		return NULL;
	if (!m->sorted) {
		qsort(m->entries, m->n, sizeof(*m->entries), by_start);
		m->sorted = true;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->entries[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && pc < m->entries[lo - 1].end ? m->entries[lo - 1].name : NULL;
}

const char *perfmap__name(struct perfmap *m, uint64_t pc)
{
	const char *name = find(m, pc);

	if (!name) {
		read_more(m);
		name = find(m, pc);
	}
	return name;
}
