// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sys/procfs.h"
#include "lib/util.h"

#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int procfs__parse_stat(const char *line, char *name, size_t name_size, char *state,
		       uint64_t *start_ticks)
{
	/* "tid (comm) S ppid ...": comm may hold spaces and parentheses, so split at the
	 * last ')'. starttime is field 22, the 20th after the state. */
	const char *open = strchr(line, '('), *close = strrchr(line, ')');
	const char *p;
	size_t len;

	if (!open || !close || close < open || !close[1] || !close[2])
		return -EINVAL;
	len = (size_t)(close - open - 1);
	if (len >= name_size)
		len = name_size - 1;
	memcpy(name, open + 1, len);
	name[len] = '\0';
	*state = close[2];
	p = close + 3;
	for (int field = 4; field <= 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	*start_ticks = strtoull(p, NULL, 10);
	return 0;
}

static uint64_t ticks_to_mono_ns(uint64_t ticks)
{
	static long hz;
	uint64_t since_boot, age, boot_now = now_boot_ns(), mono_now = now_mono_ns();

	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	since_boot = ticks * (NSEC_PER_SEC / (uint64_t)hz);
	if (since_boot > boot_now)
		since_boot = boot_now;
	/* monotonic and boottime differ by the time spent suspended: go through the age */
	age = boot_now - since_boot;
	return mono_now > age ? mono_now - age : 0;
}

int procfs__threads(pid_t pid, proc_thread_fn fn, void *ctx)
{
	char path[64], line[1024];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(dir))) {
		struct proc_thread t = {0};
		uint64_t ticks;
		uint32_t tid;

		if (!parse_u32(de->d_name, &tid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%u/stat", pid, tid);
		if (read_small_file(path, line, sizeof(line)) <= 0)
			continue; /* exited meanwhile */
		if (procfs__parse_stat(line, t.name, sizeof(t.name), &t.state, &ticks))
			continue;
		t.tid = (pid_t)tid;
		t.birth_ns = ticks_to_mono_ns(ticks);
		fn(ctx, pid, &t);
		n++;
	}
	closedir(dir);
	return n;
}

/* Counts the threads of pid not stopped yet (a stop reaches each thread on its own). */
static void count_running(void *ctx, pid_t pid, const struct proc_thread *t)
{
	(void)pid;
	if (t->state != 'T' && t->state != 't' && t->state != 'Z' && t->state != 'X')
		(*(int *)ctx)++;
}

int procfs__wait_stopped(pid_t pid, int timeout_ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (;;) {
		int running = 0, n = procfs__threads(pid, count_running, &running);

		if (n < 0)
			return n;
		if (!running)
			return 0;
		if (now_mono_ns() >= end)
			return -ETIMEDOUT;
		usleep(500);
	}
}

/* The stat of a process's leader thread, /proc/PID/task/PID/stat: its state, flags and start
 * are the process's, and reading it does not sum the CPU time of every thread of the process
 * as /proc/PID/stat does (100k threads: milliseconds a read). */
static void leader_stat_path(pid_t pid, char *path, size_t size)
{
	snprintf(path, size, "/proc/%d/task/%d/stat", pid, pid);
}

uint64_t procfs__birth_ns(pid_t pid)
{
	char path[64], line[1024], name[16], state;
	uint64_t ticks;

	leader_stat_path(pid, path, sizeof(path));
	if (read_small_file(path, line, sizeof(line)) <= 0 ||
	    procfs__parse_stat(line, name, sizeof(name), &state, &ticks))
		return 0;
	return ticks_to_mono_ns(ticks);
}

long procfs__thread_count(pid_t pid)
{
	char path[64], buf[1024];
	const char *p;
	long n;

	/* the leader's stat: /proc/PID/stat would sum every thread's CPU time first */
	leader_stat_path(pid, path, sizeof(path));
	if (read_small_file(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return -ESRCH;
	/* num_threads, field 20: after the state, 16 numbers */
	return sscanf(p + 1,
		      " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld",
		      &n) == 1
		       ? n
		       : -EINVAL;
}

bool procfs__exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return access(path, F_OK) == 0;
}

/* The state letter and the flags of /proc/PATH/stat ("PID (comm) S ppid ... flags"); the
 * comm may hold spaces and parentheses, the last ')' ends it. */
static bool stat_state(const char *path, char *state, unsigned long *flags)
{
	char buf[1024];
	const char *p;

	if (read_small_file(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return false;
	return sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", state, flags) == 2;
}

#define PF_KTHREAD 0x00200000UL

/* A thread of pid that has not exited, 0 when none (the process is gone or a zombie). */
static pid_t live_thread(pid_t pid)
{
	char path[64], state;
	unsigned long flags;
	struct dirent *de;
	pid_t tid = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && !tid && (de = readdir(dir))) {
		char task[300];
		uint32_t t;

		if (!parse_u32(de->d_name, &t))
			continue;
		snprintf(task, sizeof(task), "/proc/%d/task/%u/stat", pid, t);
		if (stat_state(task, &state, &flags) && state != 'Z' && state != 'X')
			tid = (pid_t)t;
	}
	if (dir)
		closedir(dir);
	return tid;
}

void procfs__dir(pid_t pid, char *buf, size_t size)
{
	char path[64], state = 0;
	unsigned long flags;
	pid_t tid;

	leader_stat_path(pid, path, sizeof(path));
	if (stat_state(path, &state, &flags) && state == 'Z' && (tid = live_thread(pid)))
		snprintf(buf, size, "/proc/%d/task/%d", pid, tid);
	else
		snprintf(buf, size, "/proc/%d", pid);
}

const char *procfs__untraceable(pid_t pid)
{
	char path[64], state;
	unsigned long flags;

	leader_stat_path(pid, path, sizeof(path));
	if (!stat_state(path, &state, &flags))
		return "no such process";
	if (flags & PF_KTHREAD)
		return "it is a kernel thread, with no user space to trace";
	/* a leader that left with pthread_exit is a zombie whose threads live on */
	if ((state == 'Z' || state == 'X') && !live_thread(pid))
		return "it is a zombie (it has exited; its parent has not reaped it)";
	return NULL;
}

void procfs__comm(pid_t pid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_small_file(path, buf, size) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

void procfs__exec_path(pid_t pid, char *buf, size_t size)
{
	uint64_t auxv[2 * 64], at = 0;
	char path[64];
	int n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	n = read_small_file(path, (char *)auxv, sizeof(auxv));
	for (int i = 0; n > 0 && (i + 1) * 16 <= n && auxv[2 * i] != AT_NULL; i++)
		if (auxv[2 * i] == AT_EXECFN)
			at = auxv[2 * i + 1];
	/* the kernel's copy at the top of its first stack, above the environment: a process
	 * that rewrites its argv for ps (redis, postgres) leaves it */
	if (!at || size < 2)
		return;
	for (size_t got = 0; got + 1 < size;) {
		/* a page at a time: the string ends a few bytes below the stack's top */
		size_t to_page = 4096 - ((at + got) & 4095);
		size_t want = size - 1 - got < to_page ? size - 1 - got : to_page;

		if (procfs__read_mem(pid, at + got, buf + got, want)) {
			buf[0] = '\0';
			return;
		}
		if (memchr(buf + got, '\0', want))
			return;
		got += want;
		buf[got] = '\0';
	}
}

int procfs__read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

#define READ_BATCH 512 /* iovecs per process_vm_readv, each side (IOV_MAX is 1024) */

struct read_batch {
	struct iovec remote[READ_BATCH], local[READ_BATCH];
	size_t nremote, nlocal, blocks;
	size_t end[READ_BATCH];	     /* where each block ends in the bytes read */
	size_t in_range[READ_BATCH]; /* blocks read by each range */
	size_t bytes, max_gap;
	uint8_t gap[]; /* where the bytes between two blocks of a range go */
};

static bool local_add(struct read_batch *b, void *at, size_t len, bool mergeable)
{
	struct iovec *last = b->nlocal ? &b->local[b->nlocal - 1] : NULL;

	if (mergeable && last && (uint8_t *)last->iov_base + last->iov_len == at) {
		last->iov_len += len;
	} else {
		if (b->nlocal == READ_BATCH)
			return false;
		b->local[b->nlocal++] = (struct iovec){at, len};
	}
	b->bytes += len;
	return true;
}

/* Adds the block at addr (read into to) to the batch: false when the batch is full. Blocks at
 * read solo are not merged with another (a range of them failed). */
static bool batch_add(struct read_batch *b, uint64_t addr, size_t size, uint8_t *to, bool solo)
{
	struct iovec *r = b->nremote ? &b->remote[b->nremote - 1] : NULL;
	uint64_t end = r ? (uint64_t)(uintptr_t)r->iov_base + r->iov_len : 0;

	if (b->blocks == READ_BATCH)
		return false;
	if (r && !solo && b->in_range[b->nremote - 1] && addr >= end && addr - end <= b->max_gap) {
		size_t skip = addr - end;

		/* the gap and the block need up to two local iovecs */
		if (b->nlocal + 2 > READ_BATCH)
			return false;
		if (skip)
			local_add(b, b->gap, skip, false);
		local_add(b, to, size, !skip);
		r->iov_len += skip + size;
		b->in_range[b->nremote - 1]++;
	} else {
		if (b->nremote == READ_BATCH || b->nlocal == READ_BATCH)
			return false;
		local_add(b, to, size, true);
		b->remote[b->nremote] = (struct iovec){(void *)(uintptr_t)addr, size};
		/* a block read on its own is never grown: 0 marks it so */
		b->in_range[b->nremote++] = solo ? 0 : 1;
	}
	b->end[b->blocks++] = b->bytes;
	return true;
}

static size_t range_blocks(const struct read_batch *b, size_t range)
{
	return b->in_range[range] ? b->in_range[range] : 1;
}

size_t procfs__read_blocks(pid_t pid, const uint64_t *addrs, size_t count, size_t size,
			   size_t max_gap, uint8_t *out)
{
	struct read_batch *b = xmalloc(sizeof(*b) + max_gap);
	size_t done = 0, good = 0, solo_until = 0;

	while (done < count) {
		size_t ok = 0, range = 0, first = 0;
		ssize_t n;

		b->nremote = b->nlocal = b->blocks = b->bytes = 0;
		b->max_gap = max_gap;
		while (done + b->blocks < count &&
		       batch_add(b, addrs[done + b->blocks], size, out + (done + b->blocks) * size,
				 done + b->blocks < solo_until))
			;
		n = process_vm_readv(pid, b->local, b->nlocal, b->remote, b->nremote, 0);
		if (n < 0 && errno == ESRCH)
			break;
		if (n < 0)
			n = 0;
		while (ok < b->blocks && b->end[ok] <= (size_t)n)
			ok++;
		done += ok;
		good += ok;
		if (ok == b->blocks)
			continue;
		/* a read stops at the first range that failed: a block read alone is zeroed and
		 * passed, a range of several is read again a block at a time */
		while (first + range_blocks(b, range) <= ok)
			first += range_blocks(b, range++);
		if (range_blocks(b, range) > 1) {
			solo_until = done - ok + first + range_blocks(b, range);
			continue;
		}
		memset(out + done * size, 0, size);
		done++;
	}
	if (done < count)
		memset(out + done * size, 0, (count - done) * size);
	free(b);
	return good;
}
