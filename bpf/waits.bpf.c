// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Blocked threads: what each thread of a traced process waits on, since when.
 *
 * Hooking syscalls would put every syscall of the machine on the slow path; a thread that
 * blocks is switched out instead, so the scheduler hook notes only *that* it blocked and
 * when (a task-local storage write). What it blocks on is in its saved user registers for as
 * long as it stays blocked: the task iterator reads them, and the user stack of waits that
 * have become long, when user space asks (a few times a second, not per event).
 */
#include "common.bpf.h"

#define PF_EXITING	     0x00000004 /* include/linux/sched.h */
#define PF_KTHREAD	     0x00200000
#define TASK_INTERRUPTIBLE   0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_STOPPED	     0x0004 /* __TASK_STOPPED */
#define TASK_TRACED	     0x0008 /* __TASK_TRACED */
#define ENOSYS		     38
/* include/linux/errno.h: what a wait a signal interrupted returns, to be restarted */
#define ERESTARTSYS	      512
#define ERESTARTNOINTR	      513
#define ERESTARTNOHAND	      514
#define ERESTART_RESTARTBLOCK 516

/* A thread stopped by a signal while blocked in a system call stops with the call's return
 * still the restart code (the restart is set up after the stop): it is in that wait yet, and
 * will be back in it when the process continues. */
static __always_inline bool stopped_in_wait(__u32 state, const struct pt_regs *regs,
					    const struct strand_task_state *st)
{
	long ret = (long)regs->ax;

	return (state & (TASK_STOPPED | TASK_TRACED)) && st->wait_since_ns &&
	       (long)regs->orig_ax >= 0 &&
	       (ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND ||
		ret == -ERESTART_RESTARTBLOCK);
}

/* Waits at least this old get their user stack copied by the iterator. */
const volatile __u64 stack_after_ns = 1000000000ULL;

/*
 * A thread blocked since before it was traced has no task storage until it next blocks (made
 * by the iterator for each of 100k such threads, it was a fifth of a first scan: ~1.2 us and
 * three interrupt restores each). The iterator dates such a wait at every scan, the same way
 * (user space keeps the first), and remembers here, a bit a tid, that its stack was sent. A
 * bit is stale only once its tid is another thread's that is blocked with no storage; a thread
 * of a traced process born after the trace has storage from its first wait.
 */
#define OLD_WAIT_WORDS ((1u << STRAND_GO_PID_BITS) / 64)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OLD_WAIT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} old_wait_stacks SEC(".maps");

/* The bit of tid's stack sent (NULL: none to be had). */
static __always_inline __u64 *old_wait_word(__u32 tid)
{
	__u32 key = tid / 64;

	return key < OLD_WAIT_WORDS ? bpf_map_lookup_elem(&old_wait_stacks, &key) : NULL;
}

/* When a thread blocked since before the trace last got a CPU, against when the running task
 * did, both by the runqueues' clocks: when its wait began. Not by se.exec_start: that is the
 * task clock, which leaves out steal time (paravirt time accounting), so two CPUs' drift apart
 * by seconds on a busy VM. */
static __always_inline __u64 wait_began(struct task_struct *task, __u64 now)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__u64 cur_clock, its_clock, age;

	if (bpf_core_field_exists(task->sched_info.last_arrival)) {
		cur_clock = cur->sched_info.last_arrival;
		its_clock = task->sched_info.last_arrival;
	} else { /* CONFIG_SCHED_INFO off */
		cur_clock = cur->se.exec_start;
		its_clock = task->se.exec_start;
	}
	age = cur_clock > its_clock ? cur_clock - its_clock : 0;
	return now > age ? now - age : 1;
}

/* task->state became task->__state in 5.14 (commit 2f064a59a11f, "sched: Change
 * task_struct::state") */
struct task_struct___pre514 {
	long state;
};

static __always_inline __u32 task_state_of(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state; /* t is trusted: a load, not a helper call */
	return (__u32)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* The current task is prev at sched_switch: use it, a trusted pointer, in both flavours. */
static __always_inline int on_switch(bool preempt, unsigned int prev_state)
{
	struct task_struct *prev = bpf_get_current_task_btf();
	struct strand_task_state *st;

	const struct pt_regs *regs;

	/* preempted or yielding: still runnable, not a wait */
	if (preempt)
		return 0;
	if (!(prev_state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE))) {
		/* a stop in the middle of a wait (strand holding the process still, or its
		 * exit): the wait goes on once the kernel restarts the call */
		if (!(prev_state & (TASK_STOPPED | TASK_TRACED)))
			return 0;
		st = bpf_task_storage_get(&task_states, prev, 0, 0);
		regs = (const struct pt_regs *)bpf_task_pt_regs(prev);
		/* one blocked since before the trace (no storage yet) keeps its wait too: the
		 * storage made now says it is the same, its start as user space first saw it */
		if (!st && (target_flags(prev->tgid) & STRAND_TARGET_TRACE)) {
			st = bpf_task_storage_get(&task_states, prev, 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (st && !st->wait_since_ns) {
				st->wait_since_ns = bpf_ktime_get_ns();
				st->flags |= STRAND_TASK_SINCE_ESTIMATED;
			}
		}
		if (st && stopped_in_wait(prev_state, regs, st)) {
			st->flags |= STRAND_TASK_RESTARTING;
			st->restart_nr = (__s64)BPF_CORE_READ(regs, orig_ax);
		}
		return 0;
	}
	/* a dying thread's last switch is not a wait (and its tid may be reused soon); a
	 * kernel thread is never traced, and it is most of a machine's switches */
	if (prev->flags & (PF_EXITING | PF_KTHREAD))
		return 0;
	st = bpf_task_storage_get(&task_states, prev, 0, 0);
	/* A thread of a traced process gets its state at its first wait, not at its spawn:
	 * making it costs ~1.2 us, and most threads of a spawn storm never wait. */
	if (!st && (target_flags(prev->tgid) & STRAND_TARGET_TRACE))
		st = bpf_task_storage_get(&task_states, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 0; /* not a thread of a traced process */
	if (st->flags & STRAND_TASK_RESTARTING) {
		regs = (const struct pt_regs *)bpf_task_pt_regs(prev);
		st->flags &= ~STRAND_TASK_RESTARTING;
		if ((__s64)BPF_CORE_READ(regs, orig_ax) == st->restart_nr)
			return 0; /* the same call, blocked again: the same wait */
	}
	st->wait_since_ns = bpf_ktime_get_ns();
	st->wait_seq++;
	st->block_state = prev_state;
	st->flags = 0;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	return on_switch(preempt, prev_state);
}

/* Scratch space for one record and its stack: too large for the BPF stack. */
struct record_buf {
	struct strand_task_record rec;
	__u8 stack[STRAND_STACK_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct record_buf);
} record_scratch SEC(".maps");

static long end_of_vma(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	(void)task;
	*(__u64 *)ctx = vma->vm_end;
	return 0;
}

/* Another task's stack from sp (sleepable): up to the end of its mapping, read at once. A
 * thread's stack ends a few KiB above a blocked thread's sp (its descriptor and TLS sit at
 * the top), and a read past the mapping fails: without the mapping's end, smaller and
 * smaller reads were tried, each failure paid for, at every thread of every scan. When the
 * mapping cannot be looked up (its lock is held), the sizes are tried as before. */
static __always_inline __u32 copy_task_stack(__u8 *dst, __u64 sp, struct task_struct *task)
{
	__u64 end = 0;

	if (!bpf_find_vma(task, sp, end_of_vma, &end, 0) && end > sp) {
		__u64 len = end - sp;

		if (len > STRAND_STACK_BYTES)
			len = STRAND_STACK_BYTES;
		if (len && !bpf_copy_from_user_task(dst, (__u32)len, (void *)sp, task, 0))
			return (__u32)len;
	}
	if (!bpf_copy_from_user_task(dst, STRAND_STACK_BYTES, (void *)sp, task, 0))
		return STRAND_STACK_BYTES;
	if (!bpf_copy_from_user_task(dst, STRAND_STACK_BYTES / 2, (void *)sp, task, 0))
		return STRAND_STACK_BYTES / 2;
	if (!bpf_copy_from_user_task(dst, STRAND_STACK_BYTES / 4, (void *)sp, task, 0))
		return STRAND_STACK_BYTES / 4;
	__u32 to_page_end = 4096 - (sp & 4095); /* 1..4096 */
	__u32 two_pages = to_page_end + 4096;

	if (two_pages <= 8192 && !bpf_copy_from_user_task(dst, two_pages, (void *)sp, task, 0))
		return two_pages;
	if (to_page_end <= 4096 && !bpf_copy_from_user_task(dst, to_page_end, (void *)sp, task, 0))
		return to_page_end;
	count(STRAND_CNT_STACK_FAILS);
	return 0;
}

/* One thread's record (and stack) for a scan. A scan of many threads is two dumps read side
 * by side, each taking the threads of one parity of tid (half: 0 or 1; -1 takes all): a
 * sleepable program may be preempted on its CPU by the other dump's, so each has its own
 * scratch record. */
static __always_inline int dump_task(struct bpf_iter__task *ctx, int half)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct strand_task_state *st, none = {};
	__u64 *old_bits, old_bit;
	struct record_buf *buf;
	struct pt_regs *regs;
	__u32 scratch = half > 0, state;
	__u64 now;

	if (!task || (task->flags & PF_KTHREAD))
		return 0;
	if (half >= 0 && (task->pid & 1) != half)
		return 0;
	if (!(target_flags(task->tgid) & STRAND_TARGET_TRACE))
		return 0;
	buf = bpf_map_lookup_elem(&record_scratch, &scratch);
	if (!buf)
		return 0;

	struct strand_task_record *rec = &buf->rec;

	now = bpf_ktime_get_ns();
	state = task_state_of(task);
	/* None: blocked since before the trace (see old_wait_stacks), or its storage could not
	 * be made. Read with no history, its wait's age from the scheduler's clocks, as one
	 * older than the attach: a thread is never left out of a scan for it. */
	st = bpf_task_storage_get(&task_states, task, 0, 0);
	old_bits = st ? NULL : old_wait_word((__u32)task->pid);
	old_bit = 1ULL << ((__u32)task->pid % 64);
	if (!st) {
		st = &none;
		/* dated now, so that a stop in the middle of its wait is told as one */
		if (state & (TASK_STOPPED | TASK_TRACED))
			none.wait_since_ns = wait_began(task, now);
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->magic = STRAND_RECORD_MAGIC;
	rec->tid = task->pid;
	rec->tgid = task->tgid;
	rec->state = state;
	rec->now_ns = now;
	rec->start_ns = task->start_time;
	rec->wait_seq = st->wait_seq;
	__builtin_memcpy(rec->comm, task->comm, sizeof(rec->comm));
	if (task->flags & PF_EXITING)
		rec->flags |= STRAND_REC_EXITING;
	if (task->on_cpu)
		rec->flags |= STRAND_REC_ON_CPU;

	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	regs_to_dwarf(rec->regs, regs);
	/* the syscall entry stores -ENOSYS as the return value until the syscall returns */
	bool stopped = stopped_in_wait(state, regs, st);

	if (stopped)
		rec->flags |= STRAND_REC_STOPPED_IN_WAIT;
	if (((long)regs->ax == -ENOSYS && (long)regs->orig_ax >= 0) || stopped) {
		rec->flags |= STRAND_REC_IN_SYSCALL;
		rec->syscall = regs->orig_ax;
		rec->args[0] = regs->di;
		rec->args[1] = regs->si;
		rec->args[2] = regs->dx;
		rec->args[3] = regs->r10;
		rec->args[4] = regs->r8;
		rec->args[5] = regs->r9;
	} else {
		rec->syscall = -1;
	}

	bool stack_sent = false;

	if ((state & (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)) || stopped) {
		rec->flags |= STRAND_REC_BLOCKED;
		if (!st->wait_since_ns) { /* blocked before strand attached */
			st->wait_since_ns = wait_began(task, now);
			st->flags |= STRAND_TASK_SINCE_ESTIMATED;
		}
		rec->since_ns = st->wait_since_ns;
		if (st->flags & STRAND_TASK_SINCE_ESTIMATED)
			rec->flags |= STRAND_REC_ESTIMATED;
		/* +1: wait_seq 0 (blocked before attach) must differ from "never sent" */
		stack_sent = old_bits ? (*old_bits & old_bit) : st->stack_seq == st->wait_seq + 1;
		/* and every wait of a process held on its way out: the last look there is */
		if ((now - st->wait_since_ns >= stack_after_ns || stopped) && !stack_sent) {
			rec->stack_len = copy_task_stack(buf->stack, regs->sp, task);
			if (rec->stack_len)
				rec->flags |= STRAND_REC_HAS_STACK;
			else
				stack_sent = true; /* unreadable: do not retry */
		}
	}
	__u32 stack_len = rec->stack_len;

	/* When the seq buffer fills, what this call wrote is dropped and it runs again for
	 * the same task after user space read the buffer: mark the stack sent only once both
	 * writes went through. */
	if (bpf_seq_write(seq, rec, sizeof(*rec)))
		return 0;
	if (stack_len > 0 && stack_len <= STRAND_STACK_BYTES &&
	    !bpf_seq_write(seq, buf->stack, stack_len))
		stack_sent = true;
	if (!stack_sent)
		return 0;
	if (old_bits)
		__sync_fetch_and_or(old_bits, old_bit);
	else
		st->stack_seq = st->wait_seq + 1;
	return 0;
}

SEC("iter.s/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	return dump_task(ctx, -1);
}

SEC("iter.s/task")
int dump_tasks_even(struct bpf_iter__task *ctx)
{
	return dump_task(ctx, 0);
}

SEC("iter.s/task")
int dump_tasks_odd(struct bpf_iter__task *ctx)
{
	return dump_task(ctx, 1);
}

/* Every user thread (of one process when the link names it), in brief: what is running at
 * attach. Nothing is filtered by the target map, which does not hold a process yet. */
SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct strand_task_brief b = {};

	if (!task || (task->flags & PF_KTHREAD) || task->tgid == self_tgid)
		return 0;
	b.magic = STRAND_BRIEF_MAGIC;
	b.tid = task->pid;
	b.tgid = task->tgid;
	b.ppid = task->real_parent->tgid;
	b.start_ns = task->start_time;
	bpf_probe_read_kernel_str(b.comm, sizeof(b.comm), task->comm);
	bpf_probe_read_kernel_str(b.leader_comm, sizeof(b.leader_comm), task->group_leader->comm);
	bpf_seq_write(ctx->meta->seq, &b, sizeof(b));
	return 0;
}
