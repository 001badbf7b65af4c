// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Thread lifecycle: creation and exit of threads (and followed child processes) in traced
 * processes, with the spawner's user stack copied once per spawn site so user space can
 * unwind it with DWARF CFI. Later spawns from a known site cost a few map lookups.
 *
 * A spawn site is identified in three steps, each learned by user space from a stack sample
 * and written back. The clone key is the spawner's process and syscall pc. Its first sample
 * teaches where pthread_create's caller's return address sits and where the C library keeps
 * the start routine (struct strand_clone_site); the coarse key adds those two. A coarse
 * site's first sample teaches where the return addresses of its call chain sit relative to
 * the stack pointer; the fine key adds them, so two call paths through the same helper
 * become two sites. No uprobe is on the way where the C library publishes its layout: a
 * trap at pthread_create cost a spawn storm ~3 us a thread here (its handler takes the
 * mm's lock, which the storm's stack mmaps keep busy).
 */
#include "common.bpf.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */
#define SIGSTOP	   19

/* coarse key -> learned return-address slots. LRU: the keys carry the pid, and a daemon
 * outlives many processes; a live site's slots evicted are learned again from a sample. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct strand_site_slots);
} site_slots SEC(".maps");

/* clone key -> where that clone site keeps its caller and start routine */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct strand_clone_site);
} clone_sites SEC(".maps");

/* fine keys whose stack user space already has */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} sites_seen SEC(".maps");

/* Per thread: what its pthread_create call said, consumed by the clone that follows. Task
 * storage goes with the thread, where a tid-keyed map wanted a delete per exit. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct strand_pending_create);
} pending_create SEC(".maps");

/* tgid -> where its CPython keeps the frames of the thread holding the GIL */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct strand_python_layout);
} python_procs SEC(".maps");

/* The interpreter's frames of the spawn being handled, read before its record is reserved
 * (whether it needs a full sample depends on them). */
struct lang_scratch {
	__u32 nframes;
	__u32 pad;
	struct strand_lang_frame frame[STRAND_LANG_FRAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lang_scratch);
} lang_scratch SEC(".maps");

#define SLOT_WINDOW STRAND_SLOT_WINDOW

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[SLOT_WINDOW / 8]);
} slot_scratch SEC(".maps");

static __always_inline void read_comm(char *dst, struct task_struct *t)
{
	__builtin_memcpy(dst, t->comm, STRAND_COMM_LEN);
}

/*
 * Copies as much of the user stack above sp as can be read: a thread spawning from a
 * shallow frame sits close to the top of its stack mapping, where a full-size read faults.
 */
static __always_inline __u32 copy_stack(__u8 *dst, __u64 sp)
{
	if (!bpf_probe_read_user(dst, STRAND_STACK_BYTES, (void *)sp))
		return STRAND_STACK_BYTES;
	if (!bpf_probe_read_user(dst, STRAND_STACK_BYTES / 2, (void *)sp))
		return STRAND_STACK_BYTES / 2;
	if (!bpf_probe_read_user(dst, STRAND_STACK_BYTES / 4, (void *)sp))
		return STRAND_STACK_BYTES / 4;
	/* up to the end of sp's page, then one more page if it is there */
	__u32 to_page_end = 4096 - (sp & 4095); /* 1..4096 */
	__u32 two_pages = to_page_end + 4096;

	if (two_pages <= 8192 && !bpf_probe_read_user(dst, two_pages, (void *)sp))
		return two_pages;
	if (to_page_end <= 4096 && !bpf_probe_read_user(dst, to_page_end, (void *)sp))
		return to_page_end;
	count(STRAND_CNT_STACK_FAILS);
	return 0;
}

/* The slot window: SLOT_WINDOW bytes above sp, or up to the end of sp's page when the next
 * is not there (the top of a stack, whose distance to sp the kernel randomizes). The
 * frames are all below the top, so the learned slots fall inside what was read. */
static __always_inline __u32 copy_window(__u8 *dst, __u64 sp)
{
	__u32 to_page_end = 4096 - (sp & 4095); /* 1..4096 */

	if (!bpf_probe_read_user(dst, SLOT_WINDOW, (void *)sp))
		return SLOT_WINDOW;
	if (to_page_end < SLOT_WINDOW && !bpf_probe_read_user(dst, to_page_end, (void *)sp))
		return to_page_end;
	count(STRAND_CNT_STACK_FAILS);
	return 0;
}

/* Fine key: the coarse key plus the return addresses found at the learned slots, read in
 * one copy of the stack when they lie within SLOT_WINDOW of sp (as they do but for frames
 * with large locals), else one read each. A global function, verified once on its own:
 * inlined, its loops were verified again on every path of the spawn handler that reaches
 * them (0.11-0.19 s of loading, now 0.02). */
__noinline __u64 fine_key(__u64 coarse, struct strand_site_slots *slots, __u64 sp)
{
	__u32 zero = 0, n;
	__u64 *win = bpf_map_lookup_elem(&slot_scratch, &zero), key = coarse;
	__s32 hi = 0, odd = 0;
	__u32 len;

	if (!slots) /* a global function's pointer may be NULL to its verifier */
		return coarse;
	n = slots->nslots;

	for (int i = 0; i < STRAND_MAX_SLOTS; i++) {
		if (i >= n)
			break;
		hi = slots->offset[i] > hi ? slots->offset[i] : hi;
		odd |= slots->offset[i] & 7;
		odd |= slots->offset[i] < 0;
	}
	len = (__u32)hi + 8;
	if (win && !odd && len <= SLOT_WINDOW && !bpf_probe_read_user(win, len, (void *)sp)) {
		for (int i = 0; i < STRAND_MAX_SLOTS; i++) {
			if (i >= n)
				break;
			key = strand_mix64(
				key, win[((__u32)slots->offset[i] >> 3) & (SLOT_WINDOW / 8 - 1)]);
		}
		return key;
	}
	for (int i = 0; i < STRAND_MAX_SLOTS; i++) {
		__u64 ret = 0;

		if (i >= n)
			break;
		bpf_probe_read_user(&ret, sizeof(ret), (void *)(sp + slots->offset[i]));
		key = strand_mix64(key, ret);
	}
	return key;
}

/*
 * The spawner's Python frames, innermost first, into the per-CPU scratch, hashed: 0 when
 * the thread holding the GIL is not the spawner (a thread a C extension made, running no
 * Python) or the chain cannot be read. Each frame's code object and last instruction tell
 * its call apart; the chain is the thread's, so it is as it was at the call while the
 * thread is here in clone(). A global function, verified once.
 */
__noinline __u64 python_frames(struct strand_python_layout *py, __u64 thread_pointer)
{
	__u32 zero = 0;
	struct lang_scratch *out = bpf_map_lookup_elem(&lang_scratch, &zero);
	__u64 tstate = 0, thread_id = 0, cframe = 0, frame = 0, key = STRAND_LANG_KEY_SEED;
	__u32 n = 0;

	if (!py || !out || !thread_pointer)
		return 0;
	out->nframes = 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate), (void *)py->tstate_current) || !tstate ||
	    bpf_probe_read_user(&thread_id, sizeof(thread_id),
				(void *)(tstate + py->tstate_thread_id)) ||
	    thread_id != thread_pointer ||
	    bpf_probe_read_user(&cframe, sizeof(cframe), (void *)(tstate + py->tstate_cframe)) ||
	    !cframe ||
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)(cframe + py->cframe_current_frame)))
		return 0;
	for (int i = 0; i < STRAND_LANG_FRAMES && frame; i++) {
		__u64 code = 0, instr = 0, previous = 0;
		__u8 entry = 0;

		if (bpf_probe_read_user(&code, sizeof(code), (void *)(frame + py->frame_code)) ||
		    bpf_probe_read_user(&instr, sizeof(instr),
					(void *)(frame + py->frame_prev_instr)) ||
		    bpf_probe_read_user(&entry, sizeof(entry),
					(void *)(frame + py->frame_is_entry)) ||
		    bpf_probe_read_user(&previous, sizeof(previous),
					(void *)(frame + py->frame_previous)))
			break;
		if (code) {
			struct strand_lang_frame *f = &out->frame[n & (STRAND_LANG_FRAMES - 1)];

			f->code = code;
			f->instr = (instr & ~STRAND_LANG_ENTRY) | (entry ? STRAND_LANG_ENTRY : 0);
			key = strand_lang_mix(key, f);
			n++;
		}
		frame = previous;
	}
	out->nframes = n;
	return n ? key : 0;
}

/* The entry of key, made from init if there is none. */
static __always_inline void *lookup_or_add(void *map, __u64 *key, void *init)
{
	if (bpf_map_update_elem(map, key, init, BPF_NOEXIST) == -7 /* E2BIG */)
		count(STRAND_CNT_MAP_FULL);
	return bpf_map_lookup_elem(map, key);
}

enum spawn_sample { NO_SAMPLE, FULL_SAMPLE, SLOT_WINDOW_ONLY };

/* Until user space has learned a site, a few spawns carry full samples, then (where
 * windows may be sent) slot windows, then coarse keys alone. */
static __always_inline enum spawn_sample sample_unlearned(__u32 *copies, bool windows,
							  __u32 *spawn_flags)
{
	__u32 n = copies ? __sync_fetch_and_add(copies, 1) : ~0U;

	if (n < STRAND_UNLEARNED_COPIES)
		return FULL_SAMPLE;
	if (windows && n < STRAND_UNLEARNED_COPIES + STRAND_UNLEARNED_WINDOWS) {
		*spawn_flags |= STRAND_SPAWN_SLOT_WINDOW;
		return SLOT_WINDOW_ONLY;
	}
	*spawn_flags |= STRAND_SPAWN_UNLEARNED; /* counted once the spawn's sample is settled */
	return NO_SAMPLE;
}

/* Returns whether the child is traced. */
static __always_inline bool handle_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 ptid = parent->pid;
	__u32 ctgid = child->tgid;
	__u32 ctid = child->pid;
	__u32 flags = target_flags(ptgid);
	__u32 spawn_flags = 0;

	if (!(flags & STRAND_TARGET_TRACE))
		return false;
	/* kernel threads have no user stack to attribute (whole-machine mode) */
	if (parent->flags & PF_KTHREAD)
		return false;
	if (ctgid != ptgid) {
		if (!(flags & STRAND_TARGET_FOLLOW_FORKS) && !trace_all)
			return false;
		__u32 child_flags = flags & ~STRAND_TARGET_MAPS_REQUESTED;

		if (!trace_all && bpf_map_update_elem(&targets, &ctgid, &child_flags, BPF_ANY))
			count(STRAND_CNT_MAP_FULL);
		spawn_flags |= STRAND_SPAWN_NEW_PROCESS;
	}
	count(STRAND_CNT_SPAWNS_SEEN);

	struct task_struct *cur = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	__u64 ip = regs->ip;
	__u64 sp = regs->sp;
	__u64 start = 0, caller = 0, tp = 0;
	__u64 clone_key = strand_mix64(strand_mix64(0, ptgid), ip);
	struct strand_clone_site *clone = bpf_map_lookup_elem(&clone_sites, &clone_key);
	bool clone_learned = clone && clone->learned;

	/* a thread with a thread pointer of its own: glibc's is its descriptor */
	if (ctgid == ptgid) {
		tp = child->thread.fsbase;
		if (tp == parent->thread.fsbase)
			tp = 0;
	}
	if (clone_learned && clone->start_off) {
		if (tp &&
		    !bpf_probe_read_user(&start, sizeof(start), (void *)(tp + clone->start_off)))
			spawn_flags |= STRAND_SPAWN_PTHREAD;
	} else {
		struct strand_pending_create *pending =
			bpf_task_storage_get(&pending_create, cur, 0, 0);

		if (pending && pending->start_routine) {
			start = pending->start_routine;
			caller = pending->caller_ret;
			pending->start_routine = 0; /* consumed */
			spawn_flags |= STRAND_SPAWN_PTHREAD;
		}
	}
	if (clone_learned && !caller && clone->caller_slot >= 0)
		bpf_probe_read_user(&caller, sizeof(caller), (void *)(sp + clone->caller_slot));

	__u64 coarse =
		clone_learned ? strand_mix64(strand_mix64(clone_key, caller), start) : clone_key;
	__u64 key = coarse, lang_key = 0;
	enum spawn_sample sample = NO_SAMPLE;
	struct strand_site_slots *slots =
		clone_learned ? bpf_map_lookup_elem(&site_slots, &coarse) : NULL;
	struct strand_python_layout *py =
		ctgid == ptgid ? bpf_map_lookup_elem(&python_procs, &ptgid) : NULL;

	if (py)
		lang_key = python_frames(py, parent->thread.fsbase);
	__u64 seen_key = key;

	if (!clone_learned) {
		struct strand_clone_site fresh = {.caller_slot = -1};

		if (!clone)
			clone = lookup_or_add(&clone_sites, &clone_key, &fresh);
		spawn_flags |= STRAND_SPAWN_CLONE_UNLEARNED;
		/* windows carry the descriptor too: the coarse key is made from both later */
		sample = sample_unlearned(clone ? &clone->copies : NULL, true, &spawn_flags);
	} else if (slots && slots->nslots) {
		key = fine_key(coarse, slots, sp);
		seen_key = lang_key ? strand_mix64(key, lang_key) : key;
		if (!bpf_map_lookup_elem(&sites_seen, &seen_key)) {
			__u8 one = 1;

			bpf_map_update_elem(&sites_seen, &seen_key, &one, BPF_ANY);
			sample = FULL_SAMPLE;
		}
	} else {
		struct strand_site_slots fresh = {};

		if (!slots)
			slots = lookup_or_add(&site_slots, &coarse, &fresh);
		sample = sample_unlearned(slots ? &slots->copies : NULL, true, &spawn_flags);
	}
	/* A spawner's Python frames make sites of their own under one native path: each new
	 * pair of native key and frames comes whole once, learned or not. */
	if (lang_key && sample != FULL_SAMPLE) {
		seen_key = strand_mix64(key, lang_key);
		if (!bpf_map_lookup_elem(&sites_seen, &seen_key)) {
			__u8 one = 1;

			bpf_map_update_elem(&sites_seen, &seen_key, &one, BPF_ANY);
			sample = FULL_SAMPLE;
			spawn_flags &= ~(STRAND_SPAWN_SLOT_WINDOW | STRAND_SPAWN_UNLEARNED);
		}
	}
	if (spawn_flags & STRAND_SPAWN_UNLEARNED)
		count(STRAND_CNT_UNLEARNED);

	bool want_stack = sample == FULL_SAMPLE;
	/* a window of an unlearned clone site: the start routine is in the descriptor */
	bool window_desc = sample == SLOT_WINDOW_ONLY &&
			   (spawn_flags & STRAND_SPAWN_CLONE_UNLEARNED) && tp && !start;
	struct strand_spawn_event *ev;

	if (want_stack)
		ev = reserve_event(sizeof(struct strand_spawn_event));
	else if (window_desc)
		ev = reserve_event(STRAND_SPAWN_CLONE_WINDOW_SIZE);
	else if (sample == SLOT_WINDOW_ONLY)
		ev = reserve_event(STRAND_SPAWN_WINDOW_SIZE);
	else
		ev = reserve_event(STRAND_SPAWN_SMALL_SIZE);
	if (!ev) {
		if (want_stack) /* let the next spawn from this site try again */
			bpf_map_delete_elem(&sites_seen, &seen_key);
		return true;
	}
	fill_hdr(&ev->hdr, STRAND_EV_SPAWN, ctgid, ctid);
	ev->parent_tid = ptid;
	ev->parent_tgid = ptgid;
	ev->site_key = key;
	ev->coarse_key = coarse;
	ev->lang_key = lang_key;
	ev->start_routine = start;
	ev->stack_len = 0;
	read_comm(ev->comm, parent);
	if (want_stack && (flags & STRAND_TARGET_STOP_FOR_MAPS) &&
	    !(flags & STRAND_TARGET_MAPS_REQUESTED)) {
		__u32 requested = flags | STRAND_TARGET_MAPS_REQUESTED;

		bpf_map_update_elem(&targets, &ptgid, &requested, BPF_EXIST);
		bpf_send_signal(SIGSTOP);
		spawn_flags |= STRAND_SPAWN_STOPPED;
	}
	if (want_stack) {
		regs_to_dwarf(ev->regs, regs);
		ev->pad = 0;
		ev->stack_len = copy_stack(ev->stack, sp);
		ev->desc_len = 0;
		if (tp && (spawn_flags & STRAND_SPAWN_CLONE_UNLEARNED) &&
		    !bpf_probe_read_user(ev->descriptor, STRAND_DESC_BYTES, (void *)tp))
			ev->desc_len = STRAND_DESC_BYTES;
		spawn_flags |= STRAND_SPAWN_HAS_STACK;
		ev->lang_nframes = 0;
		ev->lang_pad = 0;
		if (lang_key) {
			__u32 zero = 0;
			struct lang_scratch *frames = bpf_map_lookup_elem(&lang_scratch, &zero);

			if (frames) {
				__builtin_memcpy(ev->lang, frames->frame, sizeof(ev->lang));
				ev->lang_nframes = frames->nframes;
				spawn_flags |= STRAND_SPAWN_LANG_FRAMES;
			}
		}
	} else if (sample == SLOT_WINDOW_ONLY) {
		ev->stack_len = copy_window(ev->stack, sp);
		ev->desc_len = 0;
		ev->pad = 0;
		if (window_desc &&
		    !bpf_probe_read_user(ev->stack + SLOT_WINDOW, STRAND_DESC_BYTES, (void *)tp))
			ev->desc_len = STRAND_DESC_BYTES;
	}
	ev->flags = spawn_flags;
	/* a stack sample is worth handling now: its site is learned sooner, and a process
	 * held for its memory map waits for it */
	if (want_stack)
		submit_now(ev);
	else
		submit_lazy(ev);
	return true;
}

static __always_inline int handle_exit(struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;
	__u32 tid = task->pid;

	if (!(target_flags(tgid) & STRAND_TARGET_TRACE))
		return 0;

	struct strand_exit_event *ev = reserve_event(sizeof(*ev));

	if (ev) {
		fill_hdr(&ev->hdr, STRAND_EV_EXIT, tgid, tid);
		ev->exit_code = task->exit_code;
		ev->group_dead = group_dead;
		ev->start_ns = task->start_time;
		read_comm(ev->comm, task);
		/* the end of a whole process is news: -p traces stop on it */
		if (group_dead)
			submit_now(ev);
		else
			submit_lazy(ev);
	}
	/* A followed process is forgotten with its last thread; a -p target stays in the map
	 * so that a reused pid is not traced by accident: user space removes it. */
	if (group_dead && !trace_all) {
		__u32 *flags = bpf_map_lookup_elem(&targets, &tgid);

		if (flags && (*flags & STRAND_TARGET_FOLLOW_FORKS))
			bpf_map_delete_elem(&targets, &tgid);
	}
	return 0;
}

static __always_inline int handle_exec(struct task_struct *task)
{
	__u32 tgid = task->tgid;
	__u32 flags = target_flags(tgid);

	if (!(flags & STRAND_TARGET_TRACE))
		return 0;
	if (flags & STRAND_TARGET_MAPS_REQUESTED) { /* a new image: its map is unknown again */
		flags &= ~STRAND_TARGET_MAPS_REQUESTED;
		bpf_map_update_elem(&targets, &tgid, &flags, BPF_EXIST);
	}

	struct strand_exec_event *ev = reserve_event(sizeof(*ev));

	if (ev) {
		fill_hdr(&ev->hdr, STRAND_EV_EXEC, tgid, task->pid);
		read_comm(ev->comm, task);
		submit_now(ev);
	}
	return 0;
}

/* tp_btf: the tracepoints' arguments are trusted pointers, their fields loaded directly (a
 * helper call costs ~100 ns where returns go through mitigation thunks). Every kernel strand
 * runs on has them: task storage and bpf_get_current_task_btf need kernel BTF too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	/* a new thread's wait state is made at its first wait (waits.bpf.c) */
	handle_fork(parent, child);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *task, bool group_dead)
{
	return handle_exit(task, group_dead);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *task)
{
	return handle_exec(task);
}

/*
 * pthread_create(thread, attr, start_routine, arg): remembers the start routine and the
 * caller's return address for the clone that follows. Attached a few bytes into the
 * function (after endbr64) where the instruction is emulated rather than single-stepped;
 * the return address is still at the top of the stack there.
 */
SEC("uprobe") /* BPF_UPROBE arrived after libbpf 1.1; BPF_KPROBE is the same */
int BPF_KPROBE(pthread_create_entry, void *thread, void *attr, void *start_routine)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct strand_pending_create *pending;

	if (!(target_flags(tgid) & STRAND_TARGET_TRACE))
		return 0;
	pending = bpf_task_storage_get(&pending_create, bpf_get_current_task_btf(), 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!pending) {
		count(STRAND_CNT_MAP_FULL);
		return 0;
	}
	bpf_probe_read_user(&pending->caller_ret, sizeof(pending->caller_ret),
			    (void *)PT_REGS_SP(ctx));
	pending->start_routine = (__u64)start_routine;
	return 0;
}
