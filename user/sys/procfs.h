/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What /proc says about processes and threads that existed before strand attached. */
#ifndef STRAND_PROCFS_H
#define STRAND_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_thread {
	pid_t tid;
	char name[16];
	char state;	   /* R, S, D, T, Z, ... as in /proc/PID/task/TID/stat */
	uint64_t birth_ns; /* CLOCK_MONOTONIC, comparable with BPF timestamps */
};

typedef void (*proc_thread_fn)(void *ctx, pid_t pid, const struct proc_thread *t);

/* Calls fn for every thread of pid; returns the count or -errno (-ESRCH: no such process). */
int procfs__threads(pid_t pid, proc_thread_fn fn, void *ctx);

bool procfs__exists(pid_t pid);
/* How many threads pid has (/proc/PID/stat, no listing of them); -errno. */
long procfs__thread_count(pid_t pid);
/* When pid started (CLOCK_MONOTONIC); 0 when it cannot be read. */
uint64_t procfs__birth_ns(pid_t pid);
/* Waits (polling, at most timeout_ms) until every thread of pid is stopped: a SIGSTOP
 * reaches each thread on its own, a blocked one once it leaves its wait. 0, -ETIMEDOUT or
 * -ESRCH. */
int procfs__wait_stopped(pid_t pid, int timeout_ms);
/* Why pid cannot be traced ("no such process", a zombie, a kernel thread); NULL if it can. */
const char *procfs__untraceable(pid_t pid);
/* The /proc directory to read pid's memory map and files through: /proc/PID, or a live
 * thread's /proc/PID/task/TID when the leader has exited and others live on (a zombie
 * leader's maps are empty, its root and map_files gone). */
void procfs__dir(pid_t pid, char *buf, size_t size);
/* The process's comm, "" when gone. */
void procfs__comm(pid_t pid, char *buf, size_t size);
/* The path pid's program was run by (execve's, AT_EXECFN: "/usr/bin/redis-server", where its
 * executable is the file the symlink names, redis-check-rdb); "" when it cannot be read (a
 * zombie, a kernel thread). Not argv[0], which a process may rewrite for ps. */
void procfs__exec_path(pid_t pid, char *buf, size_t size);

/* Reads len bytes of pid's memory at addr (process_vm_readv); 0, -EFAULT (unmapped or
 * short) or -errno (-ESRCH: gone). */
int procfs__read_mem(pid_t pid, uint64_t addr, void *buf, size_t len);
/* The same, of one 64-bit word (a pointer of a runtime's structures). */
static inline int procfs__read_u64(pid_t pid, uint64_t addr, uint64_t *v)
{
	return procfs__read_mem(pid, addr, v, sizeof(*v));
}

/* Reads count blocks of size bytes at addrs[] into out (block i at out + i * size), a few
 * hundred per system call; a block that cannot be read whole is zeroed. Returns the number
 * read whole. Blocks up to max_gap bytes apart, each after the last, are read as one range,
 * the bytes between thrown away: the kernel pins a range's pages once, and a range costs
 * it about what 1-2 KiB of copying does. (A runtime's objects of one size lie a size class
 * apart: Go's 416-byte g structs, whose fields of interest end at 336, are read 19 to a
 * range, not one; the tops of 2 KiB goroutine stacks are 1.5 KiB apart.) */
#define READ_GAP_OBJECTS 256
size_t procfs__read_blocks(pid_t pid, const uint64_t *addrs, size_t count, size_t size,
			   size_t max_gap, uint8_t *out);

/* Parses the fields strand needs from a /proc stat line; exposed for tests and fuzzing. */
int procfs__parse_stat(const char *line, char *name, size_t name_size, char *state,
		       uint64_t *start_ticks);

#endif /* STRAND_PROCFS_H */
