// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A traced process on its way out, held: a uprobe on the function it exits through (Go's
 * runtime.exit, which main's return, os.Exit, a fatal error and a panic all reach; the C
 * library's _exit, which exit() calls once its atexit handlers are done, in processes of
 * more than one thread) stops the whole process with SIGSTOP before the exit_group system call
 * and says so to user space, which reads every goroutine and thread as the process leaves
 * them, then sends SIGCONT. One hit per process; only processes user space asked to hold
 * (STRAND_TARGET_HOLD_AT_EXIT). Should user space die meanwhile, its guardian sends the
 * SIGCONT (user/guardian.c).
 */
#include "common.bpf.h"

#define SIGSTOP 19

SEC("uprobe")
int BPF_KPROBE(exit_hold)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct strand_exiting_event *ev;
	__s32 code = 0;

	if (!(target_flags(tgid) & STRAND_TARGET_HOLD_AT_EXIT))
		return 0;
	if (bpf_get_attach_cookie(ctx) == STRAND_EXIT_ABI_GO) {
		bpf_probe_read_user(&code, sizeof(code), (void *)(PT_REGS_SP(ctx) + 8));
	} else {
		/* a process of one thread leaves no thread behind: not worth a stop (a
		 * command's every sh, cc and child between fork and exec) */
		struct task_struct *task = bpf_get_current_task_btf();

		if (BPF_CORE_READ(task, signal, nr_threads) <= 1)
			return 0;
		code = (__s32)PT_REGS_PARM1(ctx);
	}
	/* no record, no hold: nobody would know to release it */
	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return 0;
	fill_hdr(&ev->hdr, STRAND_EV_EXITING, tgid, (__u32)pid_tgid);
	ev->code = code;
	ev->pad = 0;
	bpf_send_signal(SIGSTOP);
	submit_now(ev);
	return 0;
}
