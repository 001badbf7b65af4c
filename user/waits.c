// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "waits.h"
#include "collector.h"
#include "fdinfo.h"
#include "loader.h"
#include "symbolize.h"
#include "unwind.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define TASK_UNINTERRUPTIBLE 0x0002
#define FUTEX_CMD_MASK	     0x7f /* without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */

struct wake {
	uint64_t count, last_ns;
	pid_t pid;
};

struct wait_table {
	struct loader *ld;
	struct collector *col;
	struct model *model;
	uint64_t detail_after_ns;
	uint64_t scan_ns;     /* time of the scan in progress */
	struct hashmap wakes; /* hash(pid, object) -> struct wake */
};

/* x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the syscalls threads block in. */
static const struct {
	int nr;
	const char *name;
	enum wait_kind kind;
} syscalls[] = {
	{0, "read", WAIT_READ},
	{1, "write", WAIT_SYSCALL},
	{7, "poll", WAIT_POLL},
	{17, "pread64", WAIT_READ},
	{19, "readv", WAIT_READ},
	{20, "writev", WAIT_SYSCALL},
	{23, "select", WAIT_POLL},
	{34, "pause", WAIT_SIGNAL},
	{35, "nanosleep", WAIT_SLEEP},
	{42, "connect", WAIT_SYSCALL},
	{43, "accept", WAIT_ACCEPT},
	{44, "sendto", WAIT_SYSCALL},
	{45, "recvfrom", WAIT_READ},
	{46, "sendmsg", WAIT_SYSCALL},
	{47, "recvmsg", WAIT_READ},
	{56, "clone", WAIT_SYSCALL},
	{58, "vfork", WAIT_CHILD}, /* the parent waits until its child execs or exits */
	{61, "wait4", WAIT_CHILD},
	{65, "semop", WAIT_SYSCALL},
	{70, "msgrcv", WAIT_SYSCALL},
	{72, "fcntl", WAIT_SYSCALL},
	{73, "flock", WAIT_SYSCALL},
	{128, "rt_sigtimedwait", WAIT_SIGNAL},
	{130, "rt_sigsuspend", WAIT_SIGNAL},
	{202, "futex", WAIT_FUTEX},
	{208, "io_getevents", WAIT_SYSCALL},
	{220, "semtimedop", WAIT_SYSCALL},
	{230, "clock_nanosleep", WAIT_SLEEP},
	{232, "epoll_wait", WAIT_EPOLL},
	{247, "waitid", WAIT_CHILD},
	{257, "openat", WAIT_SYSCALL},
	{270, "pselect6", WAIT_POLL},
	{271, "ppoll", WAIT_POLL},
	{281, "epoll_pwait", WAIT_EPOLL},
	{288, "accept4", WAIT_ACCEPT},
	{295, "preadv", WAIT_READ},
	{299, "recvmmsg", WAIT_READ},
	{426, "io_uring_enter", WAIT_SYSCALL},
	{441, "epoll_pwait2", WAIT_EPOLL},
	{449, "futex_waitv", WAIT_FUTEX},
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

enum wait_kind wait__decode_syscall(int64_t nr, const uint64_t args[6], uint64_t *object,
				    bool *forever)
{
	enum wait_kind kind = WAIT_SYSCALL;

	*object = 0;
	*forever = false;
	if (nr < 0)
		return WAIT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(syscalls); i++)
		if (syscalls[i].nr == nr)
			kind = syscalls[i].kind;
	switch (kind) {
	case WAIT_FUTEX:
		if (nr == 202) {
			/* condvars alternate between two adjacent words: one object */
			*object = args[0] & ~7ULL;
			*forever = args[3] == 0; /* no timeout */
		}
		break;
	case WAIT_EPOLL:
		*object = args[0];
		/* epoll_wait/epoll_pwait take milliseconds, epoll_pwait2 a timespec pointer */
		*forever = nr == 441 ? args[3] == 0 : (int32_t)args[3] < 0;
		break;
	case WAIT_READ:
	case WAIT_ACCEPT:
		*object = args[0];
		*forever = true;
		break;
	case WAIT_SIGNAL:
		*forever = nr != 128 || args[2] == 0;
		break;
	default:
		break;
	}
	return kind;
}

struct wait_table *wait_table__new(struct loader *ld, struct collector *col, struct model *m,
				   uint64_t detail_after_ns)
{
	struct wait_table *wt = xcalloc(1, sizeof(*wt));

	wt->ld = ld;
	wt->col = col;
	wt->model = m;
	wt->detail_after_ns = detail_after_ns;
	hashmap__init(&wt->wakes);
	return wt;
}

void wait_table__free(struct wait_table *wt)
{
	uint64_t key;
	void *val;

	if (!wt)
		return;
	for (size_t i = 0; hashmap__next(&wt->wakes, &i, &key, &val);)
		free(val);
	hashmap__free(&wt->wakes);
	free(wt);
}

static uint64_t wake_key(pid_t pid, uint64_t object)
{
	return hash_combine(hash_u64((uint64_t)pid), object);
}

/* A wait ended: whoever waits on the same object saw it served. */
static void note_wake(struct wait_table *wt, pid_t pid, const struct task_wait *w)
{
	struct wake *wk;

	if (!w->object || w->kind == WAIT_UNKNOWN)
		return;
	wk = hashmap__get(&wt->wakes, wake_key(pid, w->object));
	if (!wk) {
		wk = xcalloc(1, sizeof(*wk));
		wk->pid = pid;
		hashmap__set(&wt->wakes, wake_key(pid, w->object), wk);
	}
	wk->count++;
	wk->last_ns = wt->scan_ns;
}

uint64_t wait_table__wakes_since(struct wait_table *wt, pid_t pid, uint64_t object,
				 uint64_t since_ns, uint64_t *last_ns)
{
	struct wake *wk = hashmap__get(&wt->wakes, wake_key(pid, object));

	*last_ns = wk ? wk->last_ns : 0;
	return wk && wk->last_ns > since_ns ? wk->count : 0;
}

static bool stack_has(const struct task_wait *w, const char *const *names)
{
	for (int i = 0; i < w->depth; i++) {
		const char *fn = w->stack[i].function;

		for (int k = 0; fn && names[k]; k++)
			if (!strncmp(fn, names[k], strlen(names[k])))
				return true;
	}
	return false;
}

/* A futex wait says what it is through the C library function that made it. */
static enum wait_kind futex_kind(const struct task_wait *w)
{
	static const char *const mutex[] = {"pthread_mutex_lock", "__pthread_mutex_lock",
					    "__lll_lock_wait",	  "pthread_mutex_timedlock",
					    "pthread_rwlock",	  NULL};
	static const char *const cond[] = {"pthread_cond_wait", "__pthread_cond_wait",
					   "pthread_cond_timedwait", "pthread_cond_clockwait",
					   NULL};
	static const char *const sem[] = {"sem_wait", "__new_sem_wait", "sem_timedwait",
					  "do_futex_wait", NULL};
	static const char *const join[] = {"pthread_join", "__pthread_clockjoin", NULL};

	if (stack_has(w, cond))
		return WAIT_CONDVAR;
	if (stack_has(w, mutex))
		return WAIT_MUTEX;
	if (stack_has(w, join))
		return WAIT_JOIN;
	if (stack_has(w, sem))
		return WAIT_SEMAPHORE;
	return WAIT_FUTEX;
}

/* glibc's pthread_mutex_t keeps the owner's tid at offset 8, after __lock and __count. */
static pid_t read_mutex_owner(pid_t pid, uint64_t mutex)
{
	int32_t owner = 0;
	struct iovec local = {&owner, sizeof(owner)};
	struct iovec remote = {(void *)(uintptr_t)(mutex + 8), sizeof(owner)};

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != sizeof(owner) || owner < 0)
		return 0;
	return owner;
}

static void describe(struct task_wait *w, pid_t pid)
{
	const char *sys = syscall__name(w->syscall);
	char fd_text[200] = "";
	struct fd_desc fd;

	w->pipe_write_fd = -1;
	w->epoll_fds = -1;
	if (w->kind == WAIT_FUTEX && w->stack)
		w->kind = futex_kind(w);
	if (pid > 0 && (w->kind == WAIT_READ || w->kind == WAIT_ACCEPT || w->kind == WAIT_EPOLL) &&
	    fdinfo__describe(pid, (int)w->object, &fd) == 0) {
		w->fd_kind = fd.kind;
		w->pipe_write_fd = fd.write_end_fd;
		w->epoll_fds = fd.kind == FD_EPOLL ? fd.epoll_fds : -1;
		w->listening = fd.listening;
		w->inbound = fd.inbound;
		w->tcp_speaker = fd.spoke_last;
		tcpdiag__format(&fd.tcp_diag, w->tcp_talk, sizeof(w->tcp_talk));
		snprintf(fd_text, sizeof(fd_text), " (%s)", fd.text);
	}
	switch (w->kind) {
	case WAIT_MUTEX:
		w->lock_owner = pid > 0 ? read_mutex_owner(pid, w->args[0]) : 0;
		snprintf(w->reason, sizeof(w->reason), "pthread_mutex_lock");
		break;
	case WAIT_CONDVAR:
		snprintf(w->reason, sizeof(w->reason), "pthread_cond_wait");
		break;
	case WAIT_SEMAPHORE:
		snprintf(w->reason, sizeof(w->reason), "sem_wait");
		break;
	case WAIT_JOIN:
		snprintf(w->reason, sizeof(w->reason), "pthread_join");
		break;
	case WAIT_FUTEX:
		snprintf(w->reason, sizeof(w->reason), "futex wait");
		break;
	case WAIT_READ:
	case WAIT_ACCEPT:
	case WAIT_EPOLL:
		snprintf(w->reason, sizeof(w->reason), "%s on fd %d%s", sys ? sys : "wait",
			 (int)w->object, fd_text);
		break;
	case WAIT_UNKNOWN:
		snprintf(w->reason, sizeof(w->reason), "blocked outside a system call");
		break;
	default:
		if (sys)
			snprintf(w->reason, sizeof(w->reason), "%s", sys);
		else
			snprintf(w->reason, sizeof(w->reason), "syscall %lld",
				 (long long)w->syscall);
	}
	if (w->uninterruptible) {
		size_t len = strlen(w->reason);

		snprintf(w->reason + len, sizeof(w->reason) - len, " [uninterruptible]");
	}
}

static struct task_wait *new_wait(const struct strand_task_record *rec)
{
	struct task_wait *w = xcalloc(1, sizeof(*w));
	bool forever;

	w->seq = rec->wait_seq;
	w->since_ns = rec->since_ns ? rec->since_ns : rec->now_ns;
	w->estimated = rec->flags & STRAND_REC_ESTIMATED;
	w->uninterruptible = rec->state & TASK_UNINTERRUPTIBLE;
	w->syscall = rec->flags & STRAND_REC_IN_SYSCALL ? rec->syscall : -1;
	memcpy(w->args, rec->args, sizeof(w->args));
	w->kind = wait__decode_syscall(w->syscall, w->args, &w->object, &forever);
	w->pipe_write_fd = -1;
	w->epoll_fds = -1;
	describe(w, 0); /* a first reason, from the syscall alone */
	return w;
}

static void on_record(void *ctx, const struct strand_task_record *rec, const uint8_t *stack)
{
	struct wait_table *wt = ctx;
	struct task *t = model__task(wt->model, (pid_t)rec->tid);
	struct task_wait *w;

	/* unknown: born after the last drain, its spawn event is still on its way */
	if (!t || t->pid != (pid_t)rec->tgid || (rec->flags & STRAND_REC_EXITING))
		return;
	memcpy(t->name, rec->comm, sizeof(t->name) - 1);
	t->on_cpu = rec->flags & STRAND_REC_ON_CPU;
	if (!(rec->flags & STRAND_REC_BLOCKED)) {
		t->state = 'R';
		if (t->wait)
			note_wake(wt, t->pid, t->wait);
		task__clear_wait(t);
		return;
	}
	t->state = rec->state & TASK_UNINTERRUPTIBLE ? 'D' : 'S';
	if (t->wait && t->wait->seq != rec->wait_seq) {
		note_wake(wt, t->pid, t->wait);
		task__clear_wait(t);
	}
	if (!t->wait)
		t->wait = new_wait(rec);
	w = t->wait;
	if (stack && !w->stack) {
		struct stack_sample sample = {
			.pid = t->pid,
			.regs = (const uint64_t *)rec->regs,
			.stack = stack,
			.stack_len = rec->stack_len,
		};

		w->depth = collector__resolve_stack(wt->col, &sample, &w->stack, &w->stack_hash);
	}
	if (!w->detailed && rec->now_ns - w->since_ns >= wt->detail_after_ns) {
		describe(w, t->pid);
		w->detailed = true;
	}
}

int wait_table__scan(struct wait_table *wt)
{
	wt->scan_ns = now_mono_ns();
	return loader__scan_tasks(wt->ld, on_record, wt);
}

void wait_table__forget(struct wait_table *wt, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&wt->wakes, &i, &key, &val);)
		if (((struct wake *)val)->pid == pid)
			free(hashmap__del(&wt->wakes, key));
}
