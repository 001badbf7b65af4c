/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The layout of runtime.m (the M layer: Go's OS threads) proved against the process, for
 * binaries without DWARF, and the one DWARF gives checked before it is trusted. Each field
 * has a property only the real one has: the list through m.alllink ends, at m0 in the
 * executable's image, after distinct Ms each pointed back at by its g0 (m.g0, the first
 * field), and holds the M of every goroutine running or in a system call; m0's m.procid is
 * the process id and the others' are thread ids of the process; exactly one m.mstartfn is
 * runtime.sysmon and the others are 0 or functions; m.curg is 0 or a goroutine of allgs and
 * is the goroutine of the M it is in a system call on; the futex word an idle thread sleeps
 * on is its M's m.park. A field without its proof (nothing running now, two offsets that
 * both hold) is left unknown, with the reason.
 */
#ifndef STRAND_GOMINFER_H
#define STRAND_GOMINFER_H

#include "lib/keyindex.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "go/gothreads.h"

struct gopclntab;
struct go_layout;

/*
 * Makes the M layer of layout (its g fields already set) trustworthy: checks the one from
 * DWARF, otherwise finds runtime.allm in the code and infers the offsets. Fills or clears
 * the M fields and says in layout->m_problem what is unknown and why. Returns 0, -ENODATA
 * (not proved yet: the runtime has not started its threads; call again later), -EBADMSG
 * (DWARF's layout does not fit the process: left unknown) or -errno. While m_problem is not
 * empty a later call may prove more (a goroutine in a system call proves m.curg, a parked
 * M m.park); what an inferred layer had proved is kept unless the process contradicts it.
 */
struct gom_gs;
/* gs: every g of allgs, as a snapshot just read them (taken: freed here); NULL: read here, a
 * pass over the whole list of its own. */
int gominfer__resolve(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *layout,
		      struct gom_gs *gs);

/* What the process shows, gathered once; the proofs below only read it (and, through
 * read, the target's memory), so tests can give them a made-up process. */
struct gom_g {
	uint64_t g, m; /* a goroutine of allgs and its g.m */
	uint32_t status;
};

/* The goroutines as the proofs need them: every g of allgs (what a thread's m.curg must be
 * one of), and those running or in a system call with their g.m. A million goroutines
 * take 12 MB, sorted in place, not a sorted copy of every g with its M. */
struct gom_gs {
	struct key_index all; /* g -> its status */
	struct gom_g *busy;
	size_t nbusy, cap;
};

void gom_gs__add(struct gom_gs *gs, uint64_t g, uint64_t m, uint32_t status);
/* A snapshot's second half, its index a view of to's room (key_index__view), joined to it;
 * half keeps only what it owns (its busy list). */
void gom_gs__join(struct gom_gs *to, struct gom_gs *half);
void gom_gs__free(struct gom_gs *gs);

struct gom_futex {
	pid_t tid;
	uint64_t uaddr; /* the futex word a thread sleeps on */
};

struct gom_facts {
	go_read_fn read;
	bool (*is_entry)(void *ctx, uint64_t pc); /* a run-time pc where a function starts */
	void *ctx;
	pid_t pid;		     /* the main thread: m0's */
	uint64_t image_lo, image_hi; /* the executable's image, run-time (m0 lies there) */
	uint64_t sysmon;	     /* run-time entry of runtime.sysmon */
	uint64_t head;		     /* the value of runtime.allm */
	const pid_t *tids;	     /* the threads of the process, sorted */
	size_t ntids;
	const struct gom_gs *gs; /* allgs, its index sorted (key_index__sort) */
	uint64_t allgs;		 /* run-time address of runtime.allgs (0: none), and how many of */
	size_t allgs_listed;	 /* its entries gs holds: goroutines made since are appended */
	const struct gom_futex *futex; /* threads asleep in futex(), sorted by tid */
	size_t nfutex;
	const int32_t *hints; /* m.alllink offsets the code suggests (none: not asked) */
	int nhints;
};

/* Infers the M offsets into l (g fields set). 0, or -ENODATA with why. Optional fields
 * (curg, mstartfn, park) left unknown are listed in l->m_problem. */
int gominfer__infer(const struct gom_facts *f, struct go_layout *l, char *why, size_t why_size);
/* Checks l's M offsets: 0, -EBADMSG with the field that does not hold in why, or
 * -ENODATA when there is nothing to check against yet. */
int gominfer__check(const struct gom_facts *f, const struct go_layout *l, char *why,
		    size_t why_size);

/* Parses /proc/PID/task/TID/syscall: the syscall number and first argument of a blocked
 * thread. 0, or -EINVAL (running, or not that format). Exposed for tests and fuzzing. */
int gominfer__parse_syscall(const char *line, long *nr, uint64_t *arg0);

#endif /* STRAND_GOMINFER_H */
