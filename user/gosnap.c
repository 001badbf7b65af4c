// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "gosnap.h"
#include "procfs.h"
#include "procmaps.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_BATCH     512 /* iovecs per process_vm_readv (IOV_MAX is 1024) */
#define MAX_GOROUTINES (16u << 20)

/* The lowest PT_LOAD address of the ELF: where the executable's first mapping starts. */
static int first_load_vaddr(const char *path, uint64_t *vaddr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = -ENOEXEC;
	Elf *elf;
	size_t n;

	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && !elf_getphdrnum(elf, &n)) {
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
				*vaddr = ph.p_vaddr & ~4095ULL;
				err = 0;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

/* Where the executable is mapped: the mapping of /proc/PID/exe's file at offset 0. */
static int exe_map_start(pid_t pid, uint64_t *start)
{
	char path[64], exe[PATH_MAX], line[PATH_MAX + 256];
	ssize_t n;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		struct map_line ml;

		line[strcspn(line, "\n")] = '\0';
		if (!map_line__parse(line, &ml) && ml.path && !ml.offset && !strcmp(ml.path, exe)) {
			*start = ml.start;
			err = 0;
		}
	}
	fclose(f);
	return err;
}

int go_process__open(pid_t pid, struct go_process *gp)
{
	char exe[64];
	uint64_t vaddr = 0, start = 0;
	int err;

	memset(gp, 0, sizeof(*gp));
	gp->pid = pid;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	err = golayout__from_dwarf(exe, &gp->layout);
	if (err)
		return err;
	err = first_load_vaddr(exe, &vaddr);
	if (!err)
		err = exe_map_start(pid, &start);
	if (err)
		return err;
	gp->bias = start - vaddr;
	return 0;
}

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* Reads count blocks of size bytes at addrs[] into out, batched; returns blocks read. */
static size_t read_blocks(pid_t pid, const uint64_t *addrs, size_t count, size_t size, uint8_t *out)
{
	struct iovec local[READ_BATCH], remote[READ_BATCH];
	size_t done = 0;

	while (done < count) {
		size_t k = count - done < READ_BATCH ? count - done : READ_BATCH;
		ssize_t n;

		for (size_t i = 0; i < k; i++) {
			local[i] = (struct iovec){out + (done + i) * size, size};
			remote[i] = (struct iovec){(void *)(uintptr_t)addrs[done + i], size};
		}
		n = process_vm_readv(pid, local, k, remote, k, 0);
		if (n <= 0)
			break;
		/* a partial read stops at the first block that failed */
		done += (size_t)n / size;
		if ((size_t)n < k * size) {
			memset(out + done * size, 0, size);
			done++; /* skip the unreadable one; its zeroes fail validation */
		}
	}
	return done;
}

static uint64_t field(const uint8_t *g, int32_t off, size_t width)
{
	uint64_t v = 0;

	if (off >= 0)
		memcpy(&v, g + off, width);
	return v;
}

int go_process__snapshot(struct go_process *gp, struct go_snapshot *snap)
{
	const struct go_layout *l = &gp->layout;
	uint64_t hdr[3], allglen, *ptrs;
	uint8_t *gs;
	size_t n, got;
	int err;

	snap->n = 0;
	snap->listed = snap->invalid = 0;
	/* allgs is a []*g: pointer, length, capacity */
	err = read_mem(gp->pid, l->allgs + gp->bias, hdr, sizeof(hdr));
	if (!err)
		err = read_mem(gp->pid, l->allglen + gp->bias, &allglen, sizeof(allglen));
	if (err)
		return err == -ESRCH || !procfs__exists(gp->pid) ? -ESRCH : err;
	n = hdr[1] < allglen ? hdr[1] : allglen;
	if (n > MAX_GOROUTINES || hdr[1] > hdr[2])
		return -EBADMSG; /* not a slice header: the layout does not fit this process */
	snap->listed = n;
	if (!n)
		return 0;
	ptrs = xcalloc(n, sizeof(*ptrs));
	gs = xcalloc(n, l->g_size);
	err = read_mem(gp->pid, hdr[0], ptrs, n * sizeof(*ptrs));
	got = err ? 0 : read_blocks(gp->pid, ptrs, n, l->g_size, gs);
	if (snap->cap < got) {
		snap->cap = got;
		snap->g = xrealloc(snap->g, got * sizeof(*snap->g));
	}
	for (size_t i = 0; i < got; i++) {
		const uint8_t *g = gs + i * l->g_size;
		struct go_g *out = &snap->g[snap->n];
		uint32_t status = (uint32_t)field(g, l->atomicstatus, 4);

		if ((status & ~(uint32_t)GO_SCAN) > GO_PREEMPTED || !ptrs[i]) {
			snap->invalid++;
			continue;
		}
		if ((status & ~(uint32_t)GO_SCAN) == GO_DEAD)
			continue;
		out->goid = field(g, l->goid, 8);
		out->status = status;
		out->waitreason = (uint32_t)field(g, l->waitreason, 1);
		out->gopc = field(g, l->gopc, 8);
		out->startpc = field(g, l->startpc, 8);
		out->parent_goid = field(g, l->parent_goid, 8);
		out->sched_sp = field(g, l->sched_sp, 8);
		out->sched_pc = field(g, l->sched_pc, 8);
		out->sched_bp = field(g, l->sched_bp, 8);
		snap->n++;
	}
	snap->invalid += n - got;
	free(ptrs);
	free(gs);
	return err;
}

void go_snapshot__free(struct go_snapshot *snap)
{
	free(snap->g);
	memset(snap, 0, sizeof(*snap));
}
