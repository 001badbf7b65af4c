/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by strand's BPF programs: target filter, counters, ring buffer. */
#ifndef STRAND_COMMON_BPF_H
#define STRAND_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "strand.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space between open and load. */
const volatile __u8 trace_all = 0;  /* every process on the machine */
const volatile __u32 self_tgid = 0; /* strand itself: never traced */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

/* tgid -> enum strand_target_flags */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} targets SEC(".maps");

/* Per-thread state of the threads of traced processes (see struct strand_task_state).
 * Defined in every object that uses it; user space makes them one map (reuse_fd). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct strand_task_state);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STRAND_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(enum strand_counter which)
{
	__u32 key = which;
	__u64 *val = bpf_map_lookup_elem(&counters, &key);

	if (val)
		(*val)++;
}

/* Returns the target flags of a process, 0 when it is not traced. */
static __always_inline __u32 target_flags(__u32 tgid)
{
	__u32 *flags;

	if (tgid == self_tgid)
		return 0;
	if (trace_all)
		return STRAND_TARGET_TRACE;
	flags = bpf_map_lookup_elem(&targets, &tgid);
	return flags ? *flags : 0;
}

static __always_inline void *reserve_event(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count(STRAND_CNT_RINGBUF_DROPS);
	else
		count(STRAND_CNT_EVENTS);
	return rec;
}

/* Wake user space once this much is waiting; below it, its 100 ms poll collects records.
 * A wake-up per record would cost a context switch per spawn. */
#define WAKEUP_BACKLOG (512 * 1024)

/* Submits a record that user space need not see at once. */
static __always_inline void submit_lazy(void *rec)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BACKLOG
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(rec, flags);
}

/* Submits a record user space must act on at once (a process is held until it does). Not
 * flags 0: the ring buffer then wakes the reader only if it has read every earlier record,
 * and lazy ones are usually waiting before it. */
static __always_inline void submit_now(void *rec)
{
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void fill_hdr(struct strand_event_hdr *hdr, __u32 type, __u32 tgid,
				     __u32 tid)
{
	hdr->type = type;
	hdr->tgid = tgid;
	hdr->tid = tid;
	hdr->cpu = bpf_get_smp_processor_id();
	hdr->ts_ns = bpf_ktime_get_ns();
}

/* User registers in DWARF register-number order for x86_64 (0..16: rax, rdx, rcx, rbx,
 * rsi, rdi, rbp, rsp, r8..r15, rip): the unwinder's initial frame. regs is
 * bpf_task_pt_regs's, a trusted pointer: its fields are loads, where a copy through
 * bpf_probe_read_kernel cost a helper call the task iterator paid for every thread at
 * every scan. */
static __always_inline void regs_to_dwarf(__u64 *dst, const struct pt_regs *regs)
{
	dst[0] = regs->ax;
	dst[1] = regs->dx;
	dst[2] = regs->cx;
	dst[3] = regs->bx;
	dst[4] = regs->si;
	dst[5] = regs->di;
	dst[6] = regs->bp;
	dst[7] = regs->sp;
	dst[8] = regs->r8;
	dst[9] = regs->r9;
	dst[10] = regs->r10;
	dst[11] = regs->r11;
	dst[12] = regs->r12;
	dst[13] = regs->r13;
	dst[14] = regs->r14;
	dst[15] = regs->r15;
	dst[16] = regs->ip;
}

#endif /* STRAND_COMMON_BPF_H */
