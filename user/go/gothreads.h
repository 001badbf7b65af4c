/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The OS threads of a Go process as the runtime sees them: its Ms, read from runtime.allm
 * (linked by m.alllink) in the target's memory. For each thread: its id, the goroutine it
 * runs or is in a system call or C call for, what started it (runtime.sysmon, ...), whether
 * it is the main thread's M. This is how a thread blocked in read() becomes "goroutine 42,
 * in a system call", and a futex sleeper "an idle M". The layout comes from golayout.c
 * (DWARF) or gominfer.c (proved against the process); a field it lacks is reported unknown.
 */
#ifndef STRAND_GOTHREADS_H
#define STRAND_GOTHREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gopclntab;
struct go_layout;

struct go_thread {
	pid_t tid;	 /* m.procid; 0 while its thread starts, or a cgo extra M not in use */
	bool m0;	 /* the first M: the main thread's */
	int8_t spinning; /* m.spinning: 1 looking for work, 0 not, -1 unknown */
	uint64_t m;	 /* the runtime.m's address in the target */
	uint64_t curg;	 /* m.curg: the goroutine it runs or is in a syscall/C call for; 0 none */
	uint64_t goid;	 /* curg's id and status (enum go_status), read right after the M */
	uint32_t status;
	uint64_t mstartfn; /* run-time entry of m.mstartfn (runtime.sysmon, ...); 0: none */
	const char *start; /* its name from .gopclntab (lives as long as the table); NULL */
	uint64_t park;	   /* &m.park: the futex word an idle M sleeps on; 0: unknown */
};

/*
 * Reads the Ms of pid (executable loaded at bias) with layout l; pcln (may be NULL) names
 * the start functions. *out is an array of *n threads, newest M first, to free(). Returns
 * 0 (with *n = 0 before the runtime has made its list), -ENODATA when l has no M layer,
 * -EBADMSG when the list does not hold what the layout says (ends nowhere, loops, a thread
 * id no thread can have), -ESRCH when the process is gone, or another -errno.
 */
int go_threads__read(pid_t pid, uint64_t bias, struct gopclntab *pcln, const struct go_layout *l,
		     struct go_thread **out, size_t *n);

/* What a thread does for the runtime, from its start function and its goroutine. */
enum go_thread_role {
	GO_M_UNKNOWN,	/* the layout does not say (m.curg unknown) */
	GO_M_SYSMON,	/* runtime.sysmon: the monitor, which never runs goroutines */
	GO_M_TEMPLATE,	/* runtime.templateThread: starts threads for locked ones */
	GO_M_RUNNING,	/* running its goroutine */
	GO_M_SYSCALL,	/* in a system call or a C call for its goroutine */
	GO_M_SWITCHING, /* its goroutine is being parked or readied (a moment) */
	GO_M_SPINNING,	/* no goroutine, looking for work */
	GO_M_IDLE,	/* no goroutine: in the scheduler, parked if it sleeps on park */
	GO_M_NO_THREAD, /* no thread yet (tid 0, being started) */
	GO_M_EXTRA,	/* a cgo extra M, kept for C threads calling Go, not in use */
};

/* l tells which fields are known: the role is GO_M_UNKNOWN when m.curg is not. */
enum go_thread_role go_thread__role(const struct go_thread *t, const struct go_layout *l);
const char *go_thread_role__name(enum go_thread_role role);

/* The raw list of Ms: each M's address and its first `window` bytes, allm order. */
struct go_ms {
	uint64_t *addr;
	uint8_t *bytes;
	size_t n, window;
};

/* How the list is read: the live process (procfs__read_mem) or, in tests, fake memory. */
typedef int (*go_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/*
 * Walks the list from head (the value of runtime.allm) through the word at alllink, at
 * most max Ms (GO_MAX_MS for any process). Returns 0, -EFAULT (an M is unreadable), -ELOOP
 * (an M is seen twice), -E2BIG (longer than max), -EINVAL (alllink outside the window).
 */
int go_ms__walk(go_read_fn read, void *ctx, uint64_t head, int32_t alllink, size_t window,
		size_t max, struct go_ms *ms);
/* A little-endian field of M i (0 when outside the window or off < 0). */
uint64_t go_ms__word(const struct go_ms *ms, size_t i, int32_t off, size_t width);
void go_ms__free(struct go_ms *ms);

/* process_vm_readv of pid, for go_ms__walk: ctx points to the pid_t. */
int go_read__process(void *ctx, uint64_t addr, void *buf, size_t len);

#define GO_MAX_MS (1u << 17) /* Go's default limit is 10,000 threads (SetMaxThreads) */

#endif /* STRAND_GOTHREADS_H */
