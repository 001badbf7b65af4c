// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/procmaps.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/elffiles.h"
#include "sys/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <elfutils/libdwfl.h>

/* Processes whose Dwfl stays open; each holds the ELF files (mmapped) it has touched. */
#define PROC_MAPS_MAX 256
/* Pages that already caused a re-read of the maps and were still unknown after it: JIT code
 * or anonymous executable memory must not make every lookup re-read /proc. */
#define MISS_RING 64

struct pm_entry {
	pid_t pid;
	/* The process's modules. Never a separate debug file: unwinding needs .eh_frame only,
	 * but libdw asks for .debug_frame wherever .eh_frame ends a walk, and that loads (and
	 * decompresses) a debug file whole. Symbols and lines are read once per build
	 * (debugfiles.c), not per process. */
	Dwfl *dwfl;
	struct proc_maps *pm;
	struct elf_file **held; /* the files its session was handed (elffiles.c) */
	size_t nheld, held_cap;
	struct pm_entry *prev, *next; /* LRU list, most recent first */
	uint64_t missed[MISS_RING];
	unsigned int nmissed;
};

struct proc_maps {
	struct elf_files *files;
	struct hashmap by_pid;
	struct pm_entry *head, *tail;
	size_t count;
};

static char *debuginfo_path;

static int pm__find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			char **file_name, Elf **elfp);

static int pm__no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			    const char *file_name, const char *debuglink_file,
			    GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	return -1;
}

static const Dwfl_Callbacks pm_callbacks = {
	.find_elf = pm__find_elf,
	.find_debuginfo = pm__no_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

/* ---- /proc/PID/maps lines -------------------------------------------------------------- */

/* Parses digits up to one of the characters in stops (a NUL always ends the line), leaving
 * *p at that character. */
static bool parse_num(const char **p, unsigned int base, const char *stops, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	for (;; s++, n++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (n == 0 || (*s != '\0' && !strchr(stops, *s)))
		return false;
	*out = v;
	*p = s;
	return true;
}

static bool skip_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

int map_line__parse(char *line, struct map_line *out)
{
	const char *p = line;
	uint64_t dev;
	size_t len;
	char *path;

	if (!line || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!parse_num(&p, 16, "-", &out->start) || !skip_char(&p, '-') ||
	    !parse_num(&p, 16, " ", &out->end) || !skip_char(&p, ' ') || out->end < out->start)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		if (p[i] == '\0' || !strchr("rwxps-", p[i]))
			return -EINVAL;
		out->perms[i] = p[i];
	}
	p += 4;
	if (!skip_char(&p, ' ') || !parse_num(&p, 16, " ", &out->offset) || !skip_char(&p, ' ') ||
	    !parse_num(&p, 16, ":", &dev) || !skip_char(&p, ':') || !parse_num(&p, 16, " ", &dev) ||
	    !skip_char(&p, ' ') || !parse_num(&p, 10, " \n", &out->inode))
		return -EINVAL;
	while (*p == ' ')
		p++;
	path = line + (p - line);
	len = strlen(path);
	if (len && path[len - 1] == '\n')
		path[--len] = '\0';
	out->path = len ? path : NULL;
	return 0;
}

/* ---- a process's file mappings --------------------------------------------------------- */

/* PROCMAP_QUERY (Linux 6.11, uapi/linux/fs.h, newer than the headers strand builds with) */
struct vma_query {
	uint64_t size;
	uint64_t query_flags, query_addr;				   /* in */
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset; /* out */
	uint64_t inode;							   /* out */
	uint32_t dev_major, dev_minor;					   /* out */
	uint32_t vma_name_size, build_id_size;				   /* in/out */
	uint64_t vma_name_addr, build_id_addr;				   /* in */
};
_Static_assert(sizeof(struct vma_query) == 104, "PROCMAP_QUERY's struct procmap_query");

#define VMA_QUERY	       _IOWR('f', 17, struct vma_query)
#define VMA_READABLE	       0x01
#define VMA_WRITABLE	       0x02
#define VMA_EXECUTABLE	       0x04
#define VMA_SHARED	       0x08
#define QUERY_COVERING_OR_NEXT 0x10
#define QUERY_FILE_BACKED      0x20

/* The first mapping at or after addr (of a file, with file), its name in name. */
static int query_vma(int fd, uint64_t addr, bool file, struct vma_query *q, char *name, size_t size)
{
	memset(q, 0, sizeof(*q));
	q->size = sizeof(*q);
	q->query_flags = QUERY_COVERING_OR_NEXT | (file ? QUERY_FILE_BACKED : 0);
	q->query_addr = addr;
	if (name) {
		q->vma_name_addr = (uint64_t)(uintptr_t)name;
		q->vma_name_size = (uint32_t)size;
	}
	return ioctl(fd, VMA_QUERY, q) ? -errno : 0;
}

/* Returns 1 when the kernel cannot be asked (older than 6.11): the caller reads the text. */
static int each_file_queried(int fd, int (*fn)(void *ctx, const struct map_line *ml), void *ctx)
{
	char name[PATH_MAX];
	uint64_t prev_end = 0;
	struct vma_query q;

	for (;;) {
		struct map_line ml = {0};
		int err = query_vma(fd, prev_end, true, &q, name, sizeof(name));

		if (err == -ENOENT) /* none after prev_end */
			return 0;
		if ((err == -ENOTTY || err == -EINVAL) && !prev_end)
			return 1;
		if (err)
			return err;
		ml.start = q.vma_start;
		ml.end = q.vma_end;
		ml.offset = q.vma_offset;
		ml.inode = q.inode;
		ml.path = q.vma_name_size ? name : NULL;
		ml.perms[0] = q.vma_flags & VMA_READABLE ? 'r' : '-';
		ml.perms[1] = q.vma_flags & VMA_WRITABLE ? 'w' : '-';
		ml.perms[2] = q.vma_flags & VMA_EXECUTABLE ? 'x' : '-';
		ml.perms[3] = q.vma_flags & VMA_SHARED ? 's' : 'p';
		/* a gap since the last: whether a mapping of no file fills some of it */
		if (prev_end && ml.start != prev_end) {
			struct vma_query any;

			ml.after_other = !query_vma(fd, prev_end, false, &any, NULL, 0) &&
					 any.vma_start < ml.start;
		}
		if (fn(ctx, &ml))
			return 0;
		prev_end = ml.end;
	}
}

static int each_file_parsed(FILE *f, int (*fn)(void *ctx, const struct map_line *ml), void *ctx)
{
	bool other = false, any = false;
	char *line = NULL;
	size_t cap = 0;
	int stop = 0;

	while (!stop && getline(&line, &cap, f) > 0) {
		struct map_line ml;

		if (map_line__parse(line, &ml))
			continue;
		if (!ml.inode && (!ml.path || ml.path[0] != '/')) {
			other = true;
			continue;
		}
		ml.after_other = other && any;
		other = false;
		any = true;
		stop = fn(ctx, &ml);
	}
	free(line);
	return 0;
}

int procmaps__each_file(pid_t pid, int (*fn)(void *ctx, const struct map_line *ml), void *ctx)
{
	char base[64], path[80];
	int fd, err;
	FILE *f;

	if (pid > 0)
		procfs__dir(pid, base, sizeof(base));
	else
		snprintf(base, sizeof(base), "/proc/self");
	snprintf(path, sizeof(path), "%s/maps", base);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	err = each_file_queried(fd, fn, ctx);
	if (err != 1) {
		close(fd);
		return err;
	}
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = each_file_parsed(f, fn, ctx);
	fclose(f);
	return err;
}

/* ---- opening a process's files --------------------------------------------------------- */

/* The file of the mapping starting at start, even when deleted or replaced on disk. */
static int pm__open_map_file(pid_t pid, uint64_t start, char *path, size_t size)
{
	char base[64], dir[80], prefix[32];
	struct dirent *de;
	int fd = -1;
	DIR *d;

	procfs__dir(pid, base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/map_files", base);
	snprintf(prefix, sizeof(prefix), "%" PRIx64 "-", start);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, size, "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		break;
	}
	closedir(d);
	return fd;
}

static int pm__find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			char **file_name, Elf **elfp)
{
	struct pm_entry *e = *userdata;
	char path[PATH_MAX], dir[64];
	struct elf_file *held;
	int fd = -1;
	Elf *elf;

	*elfp = NULL;
	if (!e)
		return -1;
	/* Through the process's root so that files of other mount namespaces (containers) are
	 * the ones it mapped, not the host's files of the same name. */
	procfs__dir(e->pid, dir, sizeof(dir));
	if (modname[0] == '/' && !str_ends_with(modname, " (deleted)") &&
	    (size_t)snprintf(path, sizeof(path), "%s/root%s", dir, modname) < sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = pm__open_map_file(e->pid, base, path, sizeof(path));
	if (fd < 0)
		return -1;
	/* one descriptor per file for every process that maps it; none of the session's own */
	elf = elf_files__get(e->pm->files, fd, &held);
	if (!elf)
		return -1;
	if (e->nheld == e->held_cap) {
		e->held_cap = e->held_cap ? 2 * e->held_cap : 16;
		e->held = xrealloc(e->held, e->held_cap * sizeof(*e->held));
	}
	e->held[e->nheld++] = held;
	*file_name = strdup(path);
	*elfp = elf;
	return -1;
}

/* ---- reporting modules ----------------------------------------------------------------- */

struct pm_group {
	char *path;
	uint64_t low, high, inode, first_offset;
	bool exec;
};

struct pm_groups {
	struct pm_group *v;
	size_t n, cap;
};

static void pm__add_line(struct pm_groups *gs, const struct map_line *ml)
{
	struct pm_group *g = gs->n ? &gs->v[gs->n - 1] : NULL;

	if (g && ml->after_other)
		g->inode = UINT64_MAX;
	if (g && ml->path && ml->inode == g->inode && !strcmp(ml->path, g->path) &&
	    ml->start >= g->high) {
		g->high = ml->end;
		g->exec |= ml->perms[2] == 'x';
		return;
	}
	/* Only named files are modules; anything else just ends the current run. */
	if (!ml->path || ml->path[0] != '/') {
		if (g)
			g->inode = UINT64_MAX;
		return;
	}
	if (gs->n == gs->cap) {
		gs->cap = gs->cap ? gs->cap * 2 : 32;
		gs->v = xrealloc(gs->v, gs->cap * sizeof(*gs->v));
	}
	gs->v[gs->n++] = (struct pm_group){
		.path = xstrdup(ml->path),
		.low = ml->start,
		.high = ml->end,
		.inode = ml->inode,
		.first_offset = ml->offset,
		.exec = ml->perms[2] == 'x',
	};
}

static void pm__report_group(struct pm_entry *e, Dwfl *dwfl, const struct pm_group *g)
{
	Dwfl_Module *mod;
	void **userdata;

	/* Only files with code, and only when mapped from the start of the file: libdw derives
	 * the load bias from the module's lowest address. */
	if (!g->exec || g->first_offset != 0)
		return;
	mod = dwfl_report_module(dwfl, g->path, g->low, g->high);
	if (!mod)
		return;
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = e;
}

static int pm__open_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
			   void *arg)
{
	Dwarf_Addr bias;

	dwfl_module_getelf(mod, &bias);
	return DWARF_CB_OK;
}

static int pm__add_file(void *ctx, const struct map_line *ml)
{
	pm__add_line(ctx, ml);
	return 0;
}

static int pm__read_maps(struct pm_entry *e)
{
	struct pm_groups gs = {0};
	int err = procmaps__each_file(e->pid, pm__add_file, &gs);

	/* An exiting process shows empty maps: keep the modules known so far. One that left
	 * while listed keeps those listed. */
	if (gs.n == 0) {
		err = err ? err : -ESRCH;
	} else {
		err = 0;
		dwfl_report_begin(e->dwfl);
		for (size_t i = 0; i < gs.n; i++)
			pm__report_group(e, e->dwfl, &gs.v[i]);
		dwfl_report_end(e->dwfl, NULL, NULL);
		/* Open every file now, through /proc/PID/root while it exists: a process that
		 * exits before its stacks are symbolized takes that path with it. (Opening a
		 * file reads its headers.) */
		dwfl_getmodules(e->dwfl, pm__open_module, NULL, 0);
	}
	for (size_t i = 0; i < gs.n; i++)
		free(gs.v[i].path);
	free(gs.v);
	return err;
}

/* ---- the cache ------------------------------------------------------------------------- */

struct proc_maps *proc_maps__new(void)
{
	struct proc_maps *pm = xcalloc(1, sizeof(*pm));

	pm->files = elf_files__new();
	hashmap__init(&pm->by_pid);
	return pm;
}

static void pm__unlink(struct proc_maps *pm, struct pm_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		pm->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		pm->tail = e->prev;
	e->prev = e->next = NULL;
}

static void pm__push_front(struct proc_maps *pm, struct pm_entry *e)
{
	e->prev = NULL;
	e->next = pm->head;
	if (pm->head)
		pm->head->prev = e;
	pm->head = e;
	if (!pm->tail)
		pm->tail = e;
}

/* The session ends its references to the files, then the files are given back. */
static void pm__end(struct proc_maps *pm, struct pm_entry *e)
{
	dwfl_end(e->dwfl);
	for (size_t i = 0; i < e->nheld; i++)
		elf_files__put(pm->files, e->held[i]);
	free(e->held);
	free(e);
}

static void pm__drop(struct proc_maps *pm, struct pm_entry *e)
{
	pm__unlink(pm, e);
	hashmap__del(&pm->by_pid, (uint64_t)e->pid);
	pm->count--;
	pm__end(pm, e);
}

void proc_maps__free(struct proc_maps *pm)
{
	if (!pm)
		return;
	while (pm->head)
		pm__drop(pm, pm->head);
	hashmap__free(&pm->by_pid);
	elf_files__free(pm->files);
	free(pm);
}

void proc_maps__forget(struct proc_maps *pm, pid_t pid)
{
	struct pm_entry *e = hashmap__get(&pm->by_pid, (uint64_t)pid);

	if (e)
		pm__drop(pm, e);
}

static struct pm_entry *pm__create(struct proc_maps *pm, pid_t pid)
{
	struct pm_entry *e = xcalloc(1, sizeof(*e));

	e->pid = pid;
	e->pm = pm;
	e->dwfl = dwfl_begin(&pm_callbacks);
	if (!e->dwfl || pm__read_maps(e) < 0) {
		pm__end(pm, e);
		return NULL;
	}
	if (pm->count >= PROC_MAPS_MAX)
		pm__drop(pm, pm->tail);
	hashmap__set(&pm->by_pid, (uint64_t)pid, e);
	pm__push_front(pm, e);
	pm->count++;
	return e;
}

static bool pm__missed_before(struct pm_entry *e, uint64_t page)
{
	unsigned int n = e->nmissed < MISS_RING ? e->nmissed : MISS_RING;

	for (unsigned int i = 0; i < n; i++)
		if (e->missed[i] == page)
			return true;
	e->missed[e->nmissed++ % MISS_RING] = page;
	return false;
}

static struct pm_entry *pm__get(struct proc_maps *pm, pid_t pid, uint64_t addr)
{
	struct pm_entry *e;

	if (pid <= 0)
		return NULL;
	e = hashmap__get(&pm->by_pid, (uint64_t)pid);
	if (!e)
		return pm__create(pm, pid);
	pm__unlink(pm, e);
	pm__push_front(pm, e);
	/* A failed re-read (the process exited) keeps what was known: stacks sampled before
	 * the exit are still symbolized. */
	if (addr && !dwfl_addrmodule(e->dwfl, addr) && !pm__missed_before(e, addr >> 12))
		pm__read_maps(e);
	return e;
}

Dwfl *proc_maps__dwfl(struct proc_maps *pm, pid_t pid, uint64_t addr)
{
	struct pm_entry *e = pm__get(pm, pid, addr);

	return e ? e->dwfl : NULL;
}
