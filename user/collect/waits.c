// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collect/waits.h"
#include "collect/wait_decode.h"
#include "lib/phases.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/stacks.h"
#include "sym/symbolize.h"
#include "sym/unwind.h"
#include "sys/fdinfo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define TASK_UNINTERRUPTIBLE 0x0002

struct wake {
	uint64_t count, last_ns;
	pid_t pid;
};

struct wait_table {
	struct loader *ld;
	struct stacks *sym; /* the engine's, lent: wait stacks into words */
	struct model *model;
	uint64_t detail_after_ns;
	uint64_t scan_ns;	/* time of the scan in progress */
	struct hashmap wakes;	/* hash(pid, object) -> struct wake */
	struct hashmap stacks;	/* path hash -> frames (frames__*), a reference of its own */
	uint64_t stacks_copied; /* records that came with a user stack, in all */
};

struct wait_table *wait_table__new(struct loader *ld, struct stacks *sym, struct model *m,
				   uint64_t detail_after_ns)
{
	struct wait_table *wt = xcalloc(1, sizeof(*wt));

	wt->ld = ld;
	wt->sym = sym;
	wt->model = m;
	wt->detail_after_ns = detail_after_ns;
	hashmap__init(&wt->wakes);
	hashmap__init(&wt->stacks);
	return wt;
}

/* Drops the stacks no wait holds any more (with all, every one: the table's end). */
static void forget_stacks(struct wait_table *wt, bool all)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&wt->stacks, &i, &key, &val);)
		if (all || frames__refs(val) == 1) {
			hashmap__del(&wt->stacks, key);
			frames__release(val);
		}
}

void wait_table__free(struct wait_table *wt)
{
	if (!wt)
		return;
	hashmap__free_values(&wt->wakes);
	forget_stacks(wt, true);
	hashmap__free(&wt->stacks);
	free(wt);
}

/* The frames of a wait's stack, shared with the other waits at the same stack. */
static struct sym_frame *share_stack(struct wait_table *wt, struct sym_frame *frames, int depth,
				     uint64_t hash)
{
	struct sym_frame *have = hashmap__get(&wt->stacks, hash);

	if (!have && depth > 0) {
		have = frames__new(frames, depth);
		hashmap__set(&wt->stacks, hash, have);
	}
	free(frames);
	return frames__ref(have);
}

static uint64_t wake_key(pid_t pid, uint64_t object)
{
	return hash_combine(hash_u64((uint64_t)pid), object);
}

/* The wait site of a thread: its spawn site and wait stack (a pool's threads may each park
 * on an object of their own, as HotSpot's and CPython's do: served shows at the site). */
static uint64_t site_key(pid_t pid, uint32_t site, uint64_t stack_hash)
{
	return hash_combine(hash_combine(wake_key(pid, stack_hash), site), 0x5173);
}

static void count_wake(struct wait_table *wt, pid_t pid, uint64_t key)
{
	struct wake *wk = hashmap__get(&wt->wakes, key);

	if (!wk) {
		wk = xcalloc(1, sizeof(*wk));
		wk->pid = pid;
		hashmap__set(&wt->wakes, key, wk);
	}
	wk->count++;
	wk->last_ns = wt->scan_ns;
}

/* A wait ended: whoever waits on the same object, or at the same wait site, saw it served. */
static void note_wake(struct wait_table *wt, const struct task *t, const struct task_wait *w)
{
	if (w->kind == WAIT_UNKNOWN)
		return;
	if (w->object)
		count_wake(wt, t->pid, wake_key(t->pid, w->object));
	if (w->stack_hash)
		count_wake(wt, t->pid, site_key(t->pid, t->site ? t->site->id : 0, w->stack_hash));
}

static uint64_t wakes_since(struct wait_table *wt, uint64_t key, uint64_t since_ns,
			    uint64_t *last_ns)
{
	struct wake *wk = hashmap__get(&wt->wakes, key);

	*last_ns = wk ? wk->last_ns : 0;
	return wk && wk->last_ns > since_ns ? wk->count : 0;
}

uint64_t wait_table__wakes_since(struct wait_table *wt, pid_t pid, uint64_t object,
				 uint64_t since_ns, uint64_t *last_ns)
{
	return wakes_since(wt, wake_key(pid, object), since_ns, last_ns);
}

uint64_t wait_table__site_wakes_since(struct wait_table *wt, pid_t pid, uint32_t site,
				      uint64_t stack_hash, uint64_t since_ns, uint64_t *last_ns)
{
	*last_ns = 0;
	return stack_hash ? wakes_since(wt, site_key(pid, site, stack_hash), since_ns, last_ns) : 0;
}

/* A futex wait says what it is through the C library function that made it (glibc's
 * names, and the versioned and internal ones they are built on). */
static const struct {
	const char *function; /* a prefix of the frame's function */
	enum wait_kind kind;
	const char *reason, *timed_reason;
	bool pthread_mutex; /* a pthread_mutex_t: its owner's tid is in it */
} futex_callers[] = {
	{"pthread_cond_timedwait", WAIT_CONDVAR, "pthread_cond_timedwait", NULL, false},
	{"__pthread_cond_timedwait", WAIT_CONDVAR, "pthread_cond_timedwait", NULL, false},
	{"___pthread_cond_timedwait", WAIT_CONDVAR, "pthread_cond_timedwait", NULL, false},
	{"pthread_cond_clockwait", WAIT_CONDVAR, "pthread_cond_clockwait", NULL, false},
	{"__pthread_cond_clockwait", WAIT_CONDVAR, "pthread_cond_clockwait", NULL, false},
	{"pthread_cond_wait", WAIT_CONDVAR, "pthread_cond_wait", "pthread_cond_timedwait", false},
	{"__pthread_cond_wait", WAIT_CONDVAR, "pthread_cond_wait", "pthread_cond_timedwait", false},
	{"___pthread_cond_wait", WAIT_CONDVAR, "pthread_cond_wait", "pthread_cond_timedwait",
	 false},
	{"pthread_mutex_timedlock", WAIT_MUTEX, "pthread_mutex_timedlock", NULL, true},
	{"__pthread_mutex_timedlock", WAIT_MUTEX, "pthread_mutex_timedlock", NULL, true},
	{"__pthread_mutex_clocklock", WAIT_MUTEX, "pthread_mutex_clocklock", NULL, true},
	{"pthread_mutex_lock", WAIT_MUTEX, "pthread_mutex_lock", NULL, true},
	{"__pthread_mutex_lock", WAIT_MUTEX, "pthread_mutex_lock", NULL, true},
	{"___pthread_mutex_lock", WAIT_MUTEX, "pthread_mutex_lock", NULL, true},
	{"pthread_rwlock_rdlock", WAIT_MUTEX, "pthread_rwlock_rdlock", NULL, false},
	{"pthread_rwlock_wrlock", WAIT_MUTEX, "pthread_rwlock_wrlock", NULL, false},
	{"pthread_rwlock_timed", WAIT_MUTEX, "pthread_rwlock_timedlock", NULL, false},
	{"pthread_rwlock_clock", WAIT_MUTEX, "pthread_rwlock_clocklock", NULL, false},
	{"__pthread_rwlock", WAIT_MUTEX, "pthread_rwlock", NULL, false},
	{"pthread_timedjoin", WAIT_JOIN, "pthread_timedjoin_np", NULL, false},
	{"pthread_clockjoin", WAIT_JOIN, "pthread_clockjoin_np", NULL, false},
	{"pthread_join", WAIT_JOIN, "pthread_join", "pthread_timedjoin_np", false},
	{"__pthread_clockjoin", WAIT_JOIN, "pthread_join", "pthread_timedjoin_np", false},
	{"___pthread_join", WAIT_JOIN, "pthread_join", "pthread_timedjoin_np", false},
	{"sem_timedwait", WAIT_SEMAPHORE, "sem_timedwait", NULL, false},
	{"__sem_timedwait", WAIT_SEMAPHORE, "sem_timedwait", NULL, false},
	{"sem_clockwait", WAIT_SEMAPHORE, "sem_clockwait", NULL, false},
	{"sem_wait", WAIT_SEMAPHORE, "sem_wait", "sem_timedwait", false},
	{"__new_sem_wait", WAIT_SEMAPHORE, "sem_wait", "sem_timedwait", false},
	{"do_futex_wait", WAIT_SEMAPHORE, "sem_wait", "sem_timedwait", false},
	/* a lock inside the C library itself (malloc's arenas, stdio): no owner kept */
	{"__lll_lock_wait", WAIT_MUTEX, "a C library lock (__lll_lock_wait)", NULL, false},
};

/* The first caller of the table found anywhere on the stack (the table is in order of
 * precedence: a pthread mutex over the C library's internal lock it is built on), -1 when
 * none is. */
static int futex_caller(const struct task_wait *w)
{
	for (size_t k = 0; k < ARRAY_SIZE(futex_callers); k++) {
		size_t len = strlen(futex_callers[k].function);

		for (int i = 0; i < w->depth; i++)
			if (w->stack[i].function &&
			    !strncmp(w->stack[i].function, futex_callers[k].function, len))
				return (int)k;
	}
	return -1;
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

/* A futex wait, named by its caller; a pthread mutex's owner, a join's thread. */
static void describe_futex(struct task_wait *w, pid_t pid)
{
	unsigned int cmd = (unsigned int)w->args[1] & FUTEX_OP_CMD_MASK;
	bool timed = wait_timeout__timed(&w->timeout);
	int k = w->stack ? futex_caller(w) : -1;

	if (w->syscall != SYS_FUTEX && k < 0) /* restart_syscall of something else */
		return;
	if (k < 0) {
		snprintf(w->reason, sizeof(w->reason), "futex wait");
		w->kind = WAIT_FUTEX;
	} else {
		w->kind = futex_callers[k].kind;
		snprintf(w->reason, sizeof(w->reason), "%s",
			 timed && futex_callers[k].timed_reason ? futex_callers[k].timed_reason
								: futex_callers[k].reason);
	}
	if (w->syscall != SYS_FUTEX)
		return; /* restarted: the futex's arguments are gone */
	/* a priority-inheritance mutex keeps its owner in the futex word itself */
	if (cmd == FUTEX_OP_LOCK_PI || cmd == FUTEX_OP_LOCK_PI2) {
		uint32_t word = 0;
		struct iovec local = {&word, sizeof(word)};
		struct iovec remote = {(void *)(uintptr_t)w->args[0], sizeof(word)};

		if (pid > 0 && process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof(word))
			w->lock_owner = (pid_t)(word & 0x3fffffff); /* FUTEX_TID_MASK */
	} else if (k >= 0 && futex_callers[k].pthread_mutex && pid > 0) {
		w->lock_owner = read_mutex_owner(pid, w->args[0]);
	}
	/* pthread_join waits on the joined thread's tid field until the kernel clears it at
	 * the thread's exit: the value it waits to change is that tid */
	if (w->kind == WAIT_JOIN && (int32_t)w->args[2] > 0)
		w->join_tid = (pid_t)(int32_t)w->args[2];
}

static void append(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* "(timed, 42.0 s left)" after the reason, as of now_ns. */
static void say_timeout(struct task_wait *w, uint64_t now_ns)
{
	uint64_t left = w->timeout_at_ns > now_ns ? w->timeout_at_ns - now_ns : 0;

	w->reason[w->reason_len] = '\0';
	if (!w->timeout_at_ns)
		append(w->reason, sizeof(w->reason), " (timed)");
	else if (left >= 86400 * NSEC_PER_SEC)
		append(w->reason, sizeof(w->reason), " (timed, %.0f h left)",
		       (double)left / 3600e9);
	else
		append(w->reason, sizeof(w->reason), " (timed, %.1f s left)", (double)left / 1e9);
}

/* When the timeout will end the wait (read once: a deadline does not move), said. */
static void describe_timeout(struct task_wait *w, pid_t pid, uint64_t now_ns)
{
	int64_t left;

	if (!wait_timeout__timed(&w->timeout))
		return;
	left = wait_timeout__left(&w->timeout, pid, w->since_ns, now_ns);
	w->timeout_at_ns = left >= 0 ? now_ns + (uint64_t)left : 0;
	w->reason_len = (uint8_t)strlen(w->reason);
	say_timeout(w, now_ns);
}

static void describe(struct task_wait *w, pid_t pid, uint64_t now_ns)
{
	const char *sys = syscall__name(w->syscall);
	char fd_text[200] = "";
	struct fd_desc fd;

	w->pipe_write_fd = -1;
	w->epoll_fds = -1;
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
	/* futexes (and timed waits the kernel restarted) are named by their caller */
	if (w->kind == WAIT_FUTEX || w->syscall == SYS_FUTEX || w->timeout.kind == WAIT_TIMED_SOME)
		describe_futex(w, pid);
	describe_timeout(w, pid, now_ns);
	if (w->uninterruptible)
		append(w->reason, sizeof(w->reason), " [uninterruptible]");
}

static struct task_wait *new_wait(const struct strand_task_record *rec)
{
	struct task_wait *w = xcalloc(1, sizeof(*w));

	w->seq = rec->wait_seq;
	w->since_ns = rec->since_ns ? rec->since_ns : rec->now_ns;
	w->estimated = rec->flags & STRAND_REC_ESTIMATED;
	w->uninterruptible = rec->state & TASK_UNINTERRUPTIBLE;
	w->syscall = rec->flags & STRAND_REC_IN_SYSCALL ? rec->syscall : -1;
	memcpy(w->args, rec->args, sizeof(w->args));
	w->kind = wait__decode_syscall(w->syscall, w->args, &w->object, &w->timeout);
	w->pipe_write_fd = -1;
	w->epoll_fds = -1;
	describe(w, 0, rec->now_ns); /* a first reason, from the syscall alone */
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
			note_wake(wt, t, t->wait);
		task__clear_wait(t);
		return;
	}
	t->state = rec->state & TASK_UNINTERRUPTIBLE ? 'D' : 'S';
	if (t->wait && t->wait->seq != rec->wait_seq) {
		note_wake(wt, t, t->wait);
		task__clear_wait(t);
	}
	if (!t->wait)
		t->wait = new_wait(rec);
	w = t->wait;
	wt->stacks_copied += stack != NULL;
	if (stack && !w->stack) {
		struct stack_sample sample = {
			.pid = t->pid,
			.regs = (const uint64_t *)rec->regs,
			.stack = stack,
			.stack_len = rec->stack_len,
			.tid = t->tid,
		};

		struct sym_frame *frames;

		w->depth = stacks__resolve(wt->sym, &sample, &frames, &w->stack_hash);
		w->stack = share_stack(wt, frames, w->depth, w->stack_hash);
		w->depth = frames__depth(w->stack);
	}
	if (!w->detailed && rec->now_ns - w->since_ns >= wt->detail_after_ns) {
		/* through the thread itself: its process's leader may be a zombie, whose memory
		 * and fds /proc no longer shows */
		describe(w, t->tid, rec->now_ns);
		w->detailed = true;
	} else if (w->timeout_at_ns) {
		say_timeout(w, rec->now_ns);
	}
}

int wait_table__scan(struct wait_table *wt)
{
	int n;

	wt->scan_ns = now_mono_ns();
	/* the kernel's work for each of a hundred thousand threads (its first scan copies each
	 * blocked one's stack) is worth a second CPU; a few thousand are not worth a thread */
	n = loader__scan_tasks(wt->ld, wt->model->tasks.len >= WAIT_SCAN_HALVES_FROM, on_record,
			       wt);
	phase__done("threads read (task iterator)");
	forget_stacks(wt, false);
	return n;
}

uint64_t wait_table__stacks_copied(const struct wait_table *wt)
{
	return wt->stacks_copied;
}

void wait_table__forget(struct wait_table *wt, pid_t pid)
{
	uint64_t key;
	void *val;

	for (size_t i = 0; hashmap__next(&wt->wakes, &i, &key, &val);)
		if (((struct wake *)val)->pid == pid)
			free(hashmap__del(&wt->wakes, key));
}
