/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of the Go runtime in one binary: where the fields of runtime.g sit, where the
 * goroutine list and the wait-reason names are. Read from the binary's DWARF (never from a
 * guess): field offsets move between Go releases (parentGoid arrived in 1.21, wait reasons
 * were renumbered), and a wrong offset gives answers that look right and are not.
 */
#ifndef STRAND_GOLAYOUT_H
#define STRAND_GOLAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GO_MAX_WAIT_REASONS 64

struct go_layout {
	uint32_t g_size;
	/* offsets in runtime.g, -1 when the field does not exist in this release */
	int32_t goid, gopc, startpc, atomicstatus, waitreason, parent_goid;
	/* g.waitsince: when a GC first saw it blocked, 0 again as soon as it runs */
	int32_t waitsince;
	/* g.trackingSeq (uint8, Go >= 1.17): seeded at random when the goroutine is made, one
	 * more each time it stops running (casgstatus out of _Grunning): a wait seen twice with
	 * the same value (and the same saved sp and pc) is one wait, not two */
	int32_t tracking_seq;
	int32_t sched_sp, sched_pc, sched_bp, sched_g, stack_lo, stack_hi;
	int32_t g_m;	/* runtime.g.m: the M (thread) running it */
	int32_t m_curg; /* runtime.m.curg: the goroutine an M runs */
	/* channel waits: g.waiting is the goroutine's list of sudogs (one per channel of a
	 * select), linked by sudog.waitlink, each naming its channel in sudog.c */
	int32_t g_waiting, sudog_waitlink, sudog_c;
	/* link-time addresses of runtime variables (add the load bias for PIE) */
	uint64_t allgs, allglen;
	/* runtime.waitReasonStrings, read from the file: index = the g's waitreason */
	int nwait_reasons;
	char wait_reasons[GO_MAX_WAIT_REASONS][40];
	/* where it came from: "DWARF", or "inferred" for binaries without DWARF */
	const char *source;
	char version[32]; /* "go1.19.8", from .go.buildinfo; "" when unknown */

	/*
	 * The M layer: the runtime's OS threads (runtime.m, listed from runtime.allm through
	 * m.alllink), read by gothreads.c. Offsets in runtime.m, -1 when unknown. From DWARF,
	 * checked against the process, or inferred and proved by gominfer.c; m_curg above
	 * belongs to this layer too.
	 */
	uint64_t allm;	      /* link-time address of runtime.allm; 0 when unknown */
	int32_t m_alllink;    /* the next M on allm */
	int32_t m_procid;     /* the thread id (gettid() on Linux) */
	int32_t m_mstartfn;   /* func(): a pointer to a funcval whose first word is the code */
	int32_t m_spinning;   /* bool: out of work, looking for some; DWARF only */
	int32_t m_park;	      /* note: the futex word an idle M sleeps on */
	uint32_t m_size;      /* sizeof(runtime.m), DWARF only (0: unknown) */
	const char *m_source; /* "DWARF" or "inferred"; NULL while the M layer is unknown */
	char m_problem[256];  /* why it is unknown, or which fields are and why */

	/*
	 * The network poller: which fd a goroutine in "IO wait" waits on (gonetpoll.c).
	 * Offsets in runtime.pollDesc (netpoll.go) of fd and of rg and wg, which hold the g
	 * parked to read and to write (or pdReady 1, pdWait 2, 0); -1 when unknown. pd_dwarf:
	 * DWARF gave them, still to be checked against the process. Usable only once
	 * go_netpoll__prove has proved them and set pd_source; pd_epfd is then the runtime's
	 * epoll set (runtime.epfd) and pd_decoders the ways of reading a *pollDesc out of its
	 * epoll_event.data that the process fits (GO_PD_*).
	 */
	int32_t pd_fd, pd_rg, pd_wg, pd_epfd;
	bool pd_dwarf;
	uint32_t pd_decoders;
	const char *pd_source; /* "DWARF" or "inferred"; NULL while unknown */
	char pd_problem[128];  /* why it is unknown */

	/*
	 * The Go heap's index, from DWARF only (mheap_ is 0 without it): runtime.mheap_.arenas
	 * leads to each arena's heapArena, whose spans[] name the mspan of every page; an
	 * mspan says where its objects start and how big they are (gomem.c).
	 */
	uint64_t mheap; /* link-time address of runtime.mheap_ */
	int32_t mheap_arenas, arena_spans, span_start, span_npages, span_elemsize, span_state;

	/*
	 * What could still wake a program whose goroutines all sleep (godeadlock.c), from DWARF
	 * only (allp is 0 without it): runtime.allp, a []*p; each p's timer heap at p_timers,
	 * entries timer_stride bytes apart with the *timer first (a []*timer before Go 1.23,
	 * then timers.heap, a []timerWhen); in a timer, the func it calls and its argument (an
	 * interface: type word, data word); runtime.iscgo, a bool (C threads can call into Go).
	 */
	uint64_t allp, iscgo;
	int32_t p_timers, timer_stride, timer_f, timer_arg;

	/*
	 * The semaphores goroutines sleep on in sync.Mutex, RWMutex and WaitGroup (sema.go),
	 * DWARF only (semtable 0 without it): runtime.semtable, sema_count roots sema_stride
	 * bytes apart, each a treap of sudogs (its root at sema_treap) by the address waited
	 * on (sudog.elem), children at sudog.prev and .next, more waiters on the same address
	 * along sudog.waitlink; a sudog's g is its first word.
	 */
	uint64_t semtable;
	int32_t sema_count, sema_stride, sema_treap, sudog_prev, sudog_next, sudog_elem;
};

/* An empty layout: every offset unknown (-1), no addresses (the heap's included). */
void golayout__init(struct go_layout *layout);

/*
 * Fills layout from the DWARF of the Go binary at path. Returns 0, -ENODATA when the binary
 * has no DWARF (stripped) or lacks a needed type or variable, -ENOEXEC when it is not an ELF.
 */
int golayout__from_dwarf(const char *path, struct go_layout *layout);

/* Leaves the M layer unknown (every offset -1, m_curg too), saying why. */
void golayout__forget_m(struct go_layout *l, const char *why);
/* Leaves the pollDesc layout unknown (offsets -1), saying why. */
void golayout__forget_netpoll(struct go_layout *l, const char *why);

/* Reads count wait-reason names from the [count]string array at addr in pid's memory;
 * keeps them only if they look like the table (printable, "chan receive" among them). */
int golayout__read_wait_reasons(pid_t pid, uint64_t addr, int count, struct go_layout *l);

/* Whether the ELF at path is a Go program (it has .go.buildinfo or .gopclntab, which
 * stripping keeps). */
bool golayout__is_go(const char *path);

/* Go's goroutine states (runtime2.go, stable since Go 1.0 but for additions at the end). */
enum go_status {
	GO_IDLE = 0,
	GO_RUNNABLE = 1,
	GO_RUNNING = 2,
	GO_SYSCALL = 3,
	GO_WAITING = 4,
	GO_DEAD = 6,
	GO_COPYSTACK = 8,
	GO_PREEMPTED = 9,
	GO_LEAKED = 10,	    /* Go >= 1.26: found leaked by the GC (an experiment) */
	GO_DEAD_EXTRA = 11, /* Go >= 1.26: the dead goroutine of a cgo extra M */
	GO_SCAN = 0x1000,   /* a flag on the others: the GC is scanning the stack */
};

const char *go_status__name(uint32_t status);

#endif /* STRAND_GOLAYOUT_H */
