/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a blocked thread's system call says by itself, from its number and arguments (the
 * task iterator reads them from the saved registers): the kind of wait, the object that
 * can end it (a futex address, an fd), and whether it has a timeout, so ends by itself.
 * Pure functions of the x86_64 syscall ABI; reading the timeout's value from the target's
 * memory is the only thing that touches a process.
 */
#ifndef STRAND_WAIT_DECODE_H
#define STRAND_WAIT_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/model.h"

/* Decodes syscall nr with its arguments: the kind, the object that can end the wait, and
 * its timeout. nr < 0 (not in a system call) is WAIT_UNKNOWN, untimed. */
enum wait_kind wait__decode_syscall(int64_t nr, const uint64_t args[6], uint64_t *object,
				    struct wait_timeout *timeout);

static inline bool wait_timeout__timed(const struct wait_timeout *t)
{
	return t->kind != WAIT_UNTIMED;
}

/*
 * Nanoseconds left before the timeout ends the wait of pid, which began at since_ns
 * (CLOCK_MONOTONIC) and is seen at now_ns; the value read from pid's memory where the call
 * keeps it. -1 when unknown (unreadable, or a restarted wait); 0 when it is due.
 */
int64_t wait_timeout__left(const struct wait_timeout *t, pid_t pid, uint64_t since_ns,
			   uint64_t now_ns);

/* futex(2): the waits whose args[3] is a timeout (FUTEX_WAIT, _BITSET, LOCK_PI, ...); for
 * FUTEX_LOCK_PI the futex word holds the owner's tid. */
#define FUTEX_OP_WAIT		 0
#define FUTEX_OP_LOCK_PI	 6
#define FUTEX_OP_WAIT_BITSET	 9
#define FUTEX_OP_WAIT_REQUEUE_PI 11
#define FUTEX_OP_LOCK_PI2	 13
#define FUTEX_OP_CMD_MASK	 0x7f /* without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */
#define FUTEX_OP_CLOCK_REALTIME	 256

#define SYS_FUTEX 202

const char *wait_kind__name(enum wait_kind kind);
const char *syscall__name(int64_t nr);

#endif /* STRAND_WAIT_DECODE_H */
