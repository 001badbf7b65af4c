// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collect/wait_decode.h"
#include "lib/util.h"

#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#define TIMER_ABSTIME_FLAG 1 /* clock_nanosleep's flags */

/* Where a call keeps its timeout: TO_NONE it has none; TO_MS an int of milliseconds in
 * args[arg] (negative: none); the others a pointer in args[arg] (NULL: none). */
enum timeout_form { TO_NONE, TO_MS, TO_REL, TO_TV, TO_FUTEX, TO_SLEEP, TO_RESTART, TO_WAITV };

/* x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the syscalls threads block in. */
static const struct {
	int nr;
	const char *name;
	enum wait_kind kind;
	enum timeout_form timeout;
	int arg; /* the argument holding the timeout */
} syscalls[] = {
	{0, "read", WAIT_READ, TO_NONE, 0},
	{1, "write", WAIT_SYSCALL, TO_NONE, 0},
	{7, "poll", WAIT_POLL, TO_MS, 2},
	{17, "pread64", WAIT_READ, TO_NONE, 0},
	{19, "readv", WAIT_READ, TO_NONE, 0},
	{20, "writev", WAIT_SYSCALL, TO_NONE, 0},
	{23, "select", WAIT_POLL, TO_TV, 4},
	{34, "pause", WAIT_SIGNAL, TO_NONE, 0},
	{35, "nanosleep", WAIT_SLEEP, TO_REL, 0},
	{42, "connect", WAIT_SYSCALL, TO_NONE, 0},
	{43, "accept", WAIT_ACCEPT, TO_NONE, 0},
	{44, "sendto", WAIT_SYSCALL, TO_NONE, 0},
	{45, "recvfrom", WAIT_READ, TO_NONE, 0},
	{46, "sendmsg", WAIT_SYSCALL, TO_NONE, 0},
	{47, "recvmsg", WAIT_READ, TO_NONE, 0},
	{56, "clone", WAIT_SYSCALL, TO_NONE, 0},
	{58, "vfork", WAIT_CHILD, TO_NONE, 0}, /* the parent waits until its child execs or exits */
	{61, "wait4", WAIT_CHILD, TO_NONE, 0},
	{65, "semop", WAIT_SYSCALL, TO_NONE, 0},
	{70, "msgrcv", WAIT_SYSCALL, TO_NONE, 0},
	{72, "fcntl", WAIT_SYSCALL, TO_NONE, 0},
	{73, "flock", WAIT_SYSCALL, TO_NONE, 0},
	{128, "rt_sigtimedwait", WAIT_SIGNAL, TO_REL, 2},
	{130, "rt_sigsuspend", WAIT_SIGNAL, TO_NONE, 0},
	{202, "futex", WAIT_FUTEX, TO_FUTEX, 3},
	{208, "io_getevents", WAIT_SYSCALL, TO_REL, 4},
	/* a timed wait the kernel resumes after a signal or a ptrace stop: the original call
	 * is gone from the registers, its timeout is known to exist */
	{219, "restart_syscall", WAIT_SYSCALL, TO_RESTART, 0},
	{220, "semtimedop", WAIT_SYSCALL, TO_REL, 3},
	{230, "clock_nanosleep", WAIT_SLEEP, TO_SLEEP, 2},
	{232, "epoll_wait", WAIT_EPOLL, TO_MS, 3},
	{247, "waitid", WAIT_CHILD, TO_NONE, 0},
	{257, "openat", WAIT_SYSCALL, TO_NONE, 0},
	{270, "pselect6", WAIT_POLL, TO_REL, 4},
	{271, "ppoll", WAIT_POLL, TO_REL, 2},
	{281, "epoll_pwait", WAIT_EPOLL, TO_MS, 3},
	{288, "accept4", WAIT_ACCEPT, TO_NONE, 0},
	{295, "preadv", WAIT_READ, TO_NONE, 0},
	{299, "recvmmsg", WAIT_READ, TO_REL, 4},
	{426, "io_uring_enter", WAIT_SYSCALL, TO_NONE, 0},
	{441, "epoll_pwait2", WAIT_EPOLL, TO_REL, 3},
	{449, "futex_waitv", WAIT_FUTEX, TO_WAITV, 3},
};

const char *syscall__name(int64_t nr)
{
	for (size_t i = 0; i < ARRAY_SIZE(syscalls); i++)
		if (syscalls[i].nr == nr)
			return syscalls[i].name;
	return NULL;
}

const char *wait_kind__name(enum wait_kind kind)
{
	static const char *const names[] = {
		[WAIT_UNKNOWN] = "blocked", [WAIT_MUTEX] = "mutex",
		[WAIT_CONDVAR] = "condvar", [WAIT_SEMAPHORE] = "semaphore",
		[WAIT_JOIN] = "join",	    [WAIT_FUTEX] = "futex",
		[WAIT_EPOLL] = "epoll",	    [WAIT_POLL] = "poll",
		[WAIT_SLEEP] = "sleep",	    [WAIT_READ] = "read",
		[WAIT_ACCEPT] = "accept",   [WAIT_CHILD] = "child",
		[WAIT_SIGNAL] = "signal",   [WAIT_SYSCALL] = "syscall",
	};

	return kind < ARRAY_SIZE(names) && names[kind] ? names[kind] : "blocked";
}

/* futex(2): which commands wait, and how their args[3] is read (kernel/futex/syscalls.c:
 * FUTEX_WAIT's timeout is relative, the others' absolute; LOCK_PI's is CLOCK_REALTIME). */
static void futex_timeout(const uint64_t args[6], struct wait_timeout *t)
{
	unsigned int op = (unsigned int)args[1], cmd = op & FUTEX_OP_CMD_MASK;
	bool realtime = op & FUTEX_OP_CLOCK_REALTIME;

	if (!args[3])
		return;
	t->value = args[3];
	switch (cmd) {
	case FUTEX_OP_WAIT:
		t->kind = WAIT_TIMED_REL;
		break;
	case FUTEX_OP_LOCK_PI:
		t->kind = WAIT_TIMED_ABS;
		t->clock = CLOCK_REALTIME;
		break;
	case FUTEX_OP_WAIT_BITSET:
	case FUTEX_OP_WAIT_REQUEUE_PI:
	case FUTEX_OP_LOCK_PI2:
		t->kind = WAIT_TIMED_ABS;
		t->clock = realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC;
		break;
	default: /* FUTEX_WAKE and friends do not wait; args[3] is no timeout there */
		t->value = 0;
	}
}

enum wait_kind wait__decode_syscall(int64_t nr, const uint64_t args[6], uint64_t *object,
				    struct wait_timeout *timeout)
{
	enum wait_kind kind = WAIT_SYSCALL;
	enum timeout_form form = TO_NONE;
	int arg = 0;

	*object = 0;
	timeout->kind = WAIT_UNTIMED;
	timeout->value = 0;
	timeout->clock = CLOCK_MONOTONIC;
	if (nr < 0)
		return WAIT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(syscalls); i++) {
		if (syscalls[i].nr == nr) {
			kind = syscalls[i].kind;
			form = syscalls[i].timeout;
			arg = syscalls[i].arg;
		}
	}
	switch (kind) {
	case WAIT_FUTEX:
		/* condvars alternate between two adjacent words: one object */
		*object = args[0] & ~7ULL;
		break;
	case WAIT_EPOLL:
	case WAIT_READ:
	case WAIT_ACCEPT:
		*object = args[0];
		break;
	default:
		break;
	}
	switch (form) {
	case TO_NONE:
		break;
	case TO_MS:
		if ((int32_t)args[arg] >= 0) {
			timeout->kind = WAIT_TIMED_MS;
			timeout->value = (uint32_t)args[arg];
		}
		break;
	case TO_REL:
	case TO_TV:
		if (args[arg]) {
			timeout->kind = form == TO_TV ? WAIT_TIMED_TV : WAIT_TIMED_REL;
			timeout->value = args[arg];
		}
		break;
	case TO_FUTEX:
		futex_timeout(args, timeout);
		break;
	case TO_WAITV: /* futex_waitv(waiters, n, flags, timeout, clockid): absolute */
		if (args[3]) {
			timeout->kind = WAIT_TIMED_ABS;
			timeout->value = args[3];
			timeout->clock = (int)args[4];
		}
		break;
	case TO_SLEEP: /* clock_nanosleep(clock, flags, request, remain) */
		timeout->kind = args[1] & TIMER_ABSTIME_FLAG ? WAIT_TIMED_ABS : WAIT_TIMED_REL;
		timeout->value = args[2];
		timeout->clock = (int)args[0];
		break;
	case TO_RESTART:
		timeout->kind = WAIT_TIMED_SOME;
		break;
	}
	return kind;
}

static bool read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len};
	struct iovec remote = {(void *)(uintptr_t)addr, len};

	return pid > 0 && addr && process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static int64_t ts_ns(int64_t sec, int64_t nsec)
{
	/* a timeout of years is forever for this purpose: keep it from overflowing */
	if (sec < 0 || nsec < 0 || nsec >= 1000000000LL || sec > 100LL * 365 * 86400)
		return -1;
	return sec * 1000000000LL + nsec;
}

int64_t wait_timeout__left(const struct wait_timeout *t, pid_t pid, uint64_t since_ns,
			   uint64_t now_ns)
{
	int64_t waited = now_ns > since_ns ? (int64_t)(now_ns - since_ns) : 0, total = -1;
	struct timespec ts, now;
	struct timeval tv;

	switch (t->kind) {
	case WAIT_TIMED_MS:
		total = (int64_t)t->value * 1000000LL;
		break;
	case WAIT_TIMED_REL:
		if (read_remote(pid, t->value, &ts, sizeof(ts)))
			total = ts_ns(ts.tv_sec, ts.tv_nsec);
		break;
	case WAIT_TIMED_TV:
		if (read_remote(pid, t->value, &tv, sizeof(tv)))
			total = ts_ns(tv.tv_sec, tv.tv_usec * 1000LL);
		break;
	case WAIT_TIMED_ABS: {
		int64_t deadline, at;

		if (!read_remote(pid, t->value, &ts, sizeof(ts)) || clock_gettime(t->clock, &now))
			return -1;
		deadline = ts_ns(ts.tv_sec, ts.tv_nsec);
		at = ts_ns(now.tv_sec, now.tv_nsec);
		if (deadline < 0 || at < 0)
			return -1;
		return deadline > at ? deadline - at : 0;
	}
	default:
		return -1;
	}
	if (total < 0)
		return -1;
	return total > waited ? total - waited : 0;
}
