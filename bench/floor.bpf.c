// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The floor: empty programs on every hook strand uses, so that what they cost by being
 * there (the kernel's dispatch, a uprobe's trap) is measured apart from what strand's
 * programs do. bench/floor.c loads them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch)
{
	return 0;
}

/* strand's scan: a task iterator over every thread, once a second */
SEC("iter/task")
int floor_tasks(struct bpf_iter__task *ctx)
{
	return 0;
}

/* pthread_create and the Go runtime's create, exit, park and ready sites */
SEC("uprobe")
int floor_uprobe(struct pt_regs *ctx)
{
	return 0;
}
