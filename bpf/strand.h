/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only ABI between strand's BPF programs and user space: event records sent through the
 * ring buffer, map keys and values, and counters. Fixed-width types only, explicit padding,
 * and _Static_assert on every size, so both compilers agree on the layout.
 */
#ifndef STRAND_H
#define STRAND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define STRAND_COMM_LEN 16

/* Bytes of user stack copied at a spawn site's first sighting; enough for the deepest
 * call chains of ordinary C/C++ programs (perf's --call-graph dwarf defaults to 8 KiB). */
#define STRAND_STACK_BYTES (16 * 1024)

/* Bytes of a new thread's descriptor a clone site's first samples copy: glibc's struct
 * pthread (at the thread pointer on x86-64) keeps the start routine ~1.6 KiB in. */
#define STRAND_DESC_BYTES 2048

/* Return-address slots remembered per spawn site to tell call paths apart in the kernel. */
#define STRAND_MAX_SLOTS 24

/* Spawns of a not-yet-learned site that carry a full stack copy before the kernel stops
 * sending copies and waits for user space to learn the site's slots: a burst from a new
 * site (a loop of pthread_create) outruns user space's first unwind, and every spawn that
 * carries its stack is attributed exactly. 64 copies are 1 MiB of ring buffer. */
#define STRAND_UNLEARNED_COPIES 64

/* Bytes above sp a learned site's return-address slots are read from at once. */
#define STRAND_SLOT_WINDOW 2048

/* After its full copies, the spawns of a site still not learned carry only the slot window
 * (2 KiB, not 18): user space keys them exactly from it once it has learned the site, where
 * a burst would otherwise outrun its first (slow) symbolization. */
#define STRAND_UNLEARNED_WINDOWS 4096

/* Frames of a language runtime's own (CPython's) a spawn carries: the innermost ones, where
 * the program's call of Thread.start is. */
#define STRAND_LANG_FRAMES 32

enum strand_event_type {
	STRAND_EV_SPAWN = 1,	      /* a thread was created; may carry a stack sample */
	STRAND_EV_EXIT = 2,	      /* a thread exited */
	STRAND_EV_EXEC = 3,	      /* a traced process replaced its image */
	STRAND_EV_GO_SITE = 4,	      /* a goroutine spawn site seen for the first time */
	STRAND_EV_EXITING = 5,	      /* a process on its way out, held: read it, then SIGCONT */
	STRAND_EV_GO_OVER_BUDGET = 6, /* a process's goroutine probes hit their budget */
};

enum strand_spawn_flags {
	STRAND_SPAWN_HAS_STACK = 1 << 0,   /* a struct strand_stack_sample follows */
	STRAND_SPAWN_UNLEARNED = 1 << 1,   /* site key is coarse: slots not learned yet */
	STRAND_SPAWN_NEW_PROCESS = 1 << 2, /* fork of a new process (followed child) */
	STRAND_SPAWN_PTHREAD = 1 << 3,	   /* created through pthread_create */
	/* the spawner's process was sent SIGSTOP: user space reads its memory map, then
	 * sends SIGCONT */
	STRAND_SPAWN_STOPPED = 1 << 4,
	/* the clone site (spawner's pc) is new: coarse_key is the clone key alone (struct
	 * strand_clone_site), and a sample carries the new thread's descriptor */
	STRAND_SPAWN_CLONE_UNLEARNED = 1 << 5,
	/* site key coarse, and stack[] holds the STRAND_SLOT_WINDOW bytes above sp (stack_len
	 * of them valid, no regs): the record ends there; with STRAND_SPAWN_CLONE_UNLEARNED,
	 * desc_len bytes of the new thread's descriptor follow the window in stack[] */
	STRAND_SPAWN_SLOT_WINDOW = 1 << 6,
	/* a full sample's lang[] holds lang_nframes frames of the interpreter's */
	STRAND_SPAWN_LANG_FRAMES = 1 << 7,
};

/* One frame of an interpreter's (CPython's _PyInterpreterFrame), as read at the spawn: the
 * frame's code object, and its last instruction with bit 0 set when the frame is the first
 * of its C-level evaluation call (code units are 2-byte aligned: the bit is free). */
struct strand_lang_frame {
	__u64 code;
	__u64 instr;
};

#define STRAND_LANG_ENTRY 1ULL

/* x86_64 user registers at the spawn, in DWARF register-number order (0..16 = rax, rdx,
 * rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, rip): the unwinder's initial frame. */
#define STRAND_NREGS 17

struct strand_event_hdr {
	__u32 type;
	__u32 tgid;
	__u32 tid;
	__u32 cpu;
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

struct strand_spawn_event {
	struct strand_event_hdr hdr; /* hdr.tid = the new thread, hdr.tgid = its process */
	__u32 parent_tid;
	__u32 parent_tgid;
	__u64 site_key;	     /* fine key: same call path, same key */
	__u64 coarse_key;    /* spawning pc, caller and start routine only */
	__u64 start_routine; /* pthread_create's third argument, 0 if not a pthread */
	/* the interpreter's frames (code objects, instructions) of a spawner that runs
	 * Python, hashed: 0 for any other; the site's keys are the native ones mixed with it */
	__u64 lang_key;
	__u32 flags;	 /* enum strand_spawn_flags */
	__u32 stack_len; /* bytes of stack[] that are valid */
	char comm[STRAND_COMM_LEN];
	/* With STRAND_SPAWN_HAS_STACK: */
	__u64 regs[STRAND_NREGS];
	__u32 desc_len; /* bytes of descriptor[] that are valid */
	__u32 pad;
	__u8 stack[STRAND_STACK_BYTES];
	/* With STRAND_SPAWN_CLONE_UNLEARNED: the start of the new thread's descriptor, where
	 * user space reads the start routine once it has learned where it is */
	__u8 descriptor[STRAND_DESC_BYTES];
	/* With STRAND_SPAWN_LANG_FRAMES: innermost first */
	__u32 lang_nframes;
	__u32 lang_pad;
	struct strand_lang_frame lang[STRAND_LANG_FRAMES];
};

struct strand_exit_event {
	struct strand_event_hdr hdr;
	__u32 exit_code;
	__u32 group_dead;
	char comm[STRAND_COMM_LEN];
	__u64 start_ns; /* when the thread was born (task_struct.start_time, CLOCK_MONOTONIC) */
};

struct strand_exec_event {
	struct strand_event_hdr hdr;
	char comm[STRAND_COMM_LEN];
};

struct strand_exiting_event {
	struct strand_event_hdr hdr; /* hdr.tid: the thread that called the exit function */
	__s32 code;		     /* the exit status it passed */
	__u32 pad;
};

/* The small form of a spawn: everything before regs[]. */
#define STRAND_SPAWN_SMALL_SIZE __builtin_offsetof(struct strand_spawn_event, regs)
/* The form with the slot window (STRAND_SPAWN_SLOT_WINDOW). */
#define STRAND_SPAWN_WINDOW_SIZE                                                                   \
	(__builtin_offsetof(struct strand_spawn_event, stack) + STRAND_SLOT_WINDOW)
/* The slot window of a spawn from a clone site not learned yet: the descriptor follows. */
#define STRAND_SPAWN_CLONE_WINDOW_SIZE (STRAND_SPAWN_WINDOW_SIZE + STRAND_DESC_BYTES)

/* Which processes to trace. */
enum strand_target_flags {
	STRAND_TARGET_TRACE = 1 << 0,
	STRAND_TARGET_FOLLOW_FORKS = 1 << 1, /* new processes it forks are traced too */
	/* Processes strand started (or that they forked) may exit before user space has read
	 * their memory map, and then no frame of theirs can be symbolized: stop such a
	 * process at its first stack sample until user space has read the map. */
	STRAND_TARGET_STOP_FOR_MAPS = 1 << 2,
	STRAND_TARGET_MAPS_REQUESTED = 1 << 3, /* kernel-owned: the stop was sent */
	/* Hold the process when it calls its exit function (runtime.exit, _exit): user space
	 * reads what it leaves behind, then sends SIGCONT. */
	STRAND_TARGET_HOLD_AT_EXIT = 1 << 4,
};

/* How the exit function that holds a process takes its exit status (the probe's cookie). */
enum strand_exit_abi {
	STRAND_EXIT_ABI_GO = 1, /* Go's ABI0 (runtime.exit is assembly): on the stack */
	STRAND_EXIT_ABI_C = 2,	/* the C ABI: in RDI */
};

/* Learned shape of a spawn site (keyed by coarse key), written by user space. */
struct strand_site_slots {
	__u32 nslots;
	__u32 copies;			/* stack copies sent while unlearned (kernel-owned) */
	__s32 offset[STRAND_MAX_SLOTS]; /* byte offsets from the spawner's sp */
};

/*
 * Learned shape of a clone site (keyed by the spawner's tgid and syscall pc), written by
 * user space from the site's first stack sample. A C library's thread creation is a fixed
 * chain of frames above the clone, so the return address into pthread_create's caller sits
 * at one offset from sp for every call, and glibc keeps the start routine in the new
 * thread's descriptor, which is its thread pointer, at an offset it publishes for debuggers
 * (the _thread_db_pthread_start_routine symbol). No uprobe is needed on the way.
 */
struct strand_clone_site {
	__s32 caller_slot; /* byte offset from sp of the caller's return address; -1: none */
	__u32 start_off;   /* of the start routine in the thread descriptor; 0: unknown */
	__u32 learned;	   /* user space has written this entry */
	__u32 copies;	   /* stack copies sent while unlearned (kernel-owned) */
};

/* What the pthread_create uprobe leaves for the clone that follows, where the C library
 * publishes no descriptor layout (musl, a static binary): kept per thread. */
struct strand_pending_create {
	__u64 start_routine;
	__u64 caller_ret;
};

/*
 * Where CPython 3.11 keeps what the kernel reads a spawning thread's frames by, written by
 * user space per process (keyed by tgid) once it has found the interpreter and its version
 * (user/sym/python.h): the thread state of the thread holding the GIL, which is the
 * spawner's when its thread_id is the spawner's thread pointer (Thread.start runs with the
 * GIL held), and the offsets of the chain from it to each frame's code and instruction.
 */
struct strand_python_layout {
	__u64 tstate_current; /* address of _PyRuntime.gilstate.tstate_current */
	__u16 tstate_cframe;
	__u16 tstate_thread_id;
	__u16 cframe_current_frame;
	__u16 frame_code;
	__u16 frame_previous;
	__u16 frame_prev_instr;
	__u16 frame_is_entry;
	__u16 pad;
};

/* Per-CPU counters; every loss is counted here and reported. */
enum strand_counter {
	STRAND_CNT_EVENTS,	  /* records submitted */
	STRAND_CNT_RINGBUF_DROPS, /* records lost: ring buffer full */
	STRAND_CNT_STACK_FAILS,	  /* stack copies that could not be read */
	STRAND_CNT_MAP_FULL,	  /* map updates refused */
	STRAND_CNT_UNLEARNED,	  /* spawns sent with a coarse key only */
	STRAND_CNT_SPAWNS_SEEN,	  /* spawns in traced processes */
	STRAND_CNT_GO_SPAWNS,	  /* goroutines created in traced Go processes */
	STRAND_CNT_GO_EXITS, /* goroutines strand knew (created or parked while traced) that exited
			      */
	STRAND_CNT_GO_PARKS, /* goroutines that parked (gopark) */
	STRAND_CNT_GO_STATE_FULL, /* goroutines whose park time could not be kept: map full */
	STRAND_CNT__MAX,
};

/*
 * Per-thread state in task-local storage, for threads of traced processes. The scheduler
 * hook writes it when the thread blocks; the task iterator reads it, with the registers.
 */
struct strand_task_state {
	__u64 wait_since_ns; /* when it last blocked (switched out not runnable), 0: unknown */
	__u64 wait_seq;	     /* blocks so far: a changed value means it woke in between */
	__u64 stack_seq;     /* the wait_seq whose user stack was already sent */
	__u32 block_state;   /* prev_state at the switch: TASK_INTERRUPTIBLE, ... */
	__u32 flags;	     /* enum strand_task_flags */
	__s64 restart_nr;    /* with STRAND_TASK_RESTARTING: the system call to be restarted */
};

enum strand_task_flags {
	STRAND_TASK_SINCE_ESTIMATED = 1 << 0, /* blocked before strand attached: the start of the
					       * wait comes from the scheduler's clock */
	/* stopped (SIGSTOP, a ptrace stop) in the middle of a wait the kernel restarts: its
	 * next block is that wait again, not a new one */
	STRAND_TASK_RESTARTING = 1 << 1,
};

/* One record of the task iterator per thread of a traced process (bpf_seq_write). */
enum strand_record_flags {
	STRAND_REC_BLOCKED = 1 << 0,	/* not runnable now */
	STRAND_REC_IN_SYSCALL = 1 << 1, /* blocked inside a system call: syscall/args valid */
	STRAND_REC_ESTIMATED = 1 << 2,	/* since_ns estimated (blocked before attach) */
	STRAND_REC_HAS_STACK = 1 << 3,	/* stack_len bytes of user stack follow the record */
	STRAND_REC_EXITING = 1 << 4,
	STRAND_REC_ON_CPU = 1 << 5, /* running on a CPU now (else, if runnable, waiting for one) */
	/* stopped (SIGSTOP: a process held on its way out) in the middle of a wait the kernel
	 * restarts once it continues: blocked in it still */
	STRAND_REC_STOPPED_IN_WAIT = 1 << 6,
};

struct strand_task_record {
	__u32 magic; /* STRAND_RECORD_MAGIC: the stream is checked, not trusted */
	__u32 tid;
	__u32 tgid;
	__u32 flags;	 /* enum strand_record_flags */
	__u32 state;	 /* task->__state */
	__u32 stack_len; /* bytes that follow this record */
	__u64 now_ns;
	__u64 since_ns; /* start of the current wait, CLOCK_MONOTONIC */
	__u64 wait_seq;
	__s64 syscall; /* orig_ax */
	__u64 args[6];
	__u64 start_ns; /* task->start_time, CLOCK_MONOTONIC */
	char comm[STRAND_COMM_LEN];
	__u64 regs[STRAND_NREGS];
};

#define STRAND_RECORD_MAGIC 0x5354524e /* "STRN" */

/* One thread as the listing iterator sees it: what attaching needs of the threads already
 * running (read from /proc, a file or two per thread, it took a second for 100k). */
struct strand_task_brief {
	__u32 magic; /* STRAND_BRIEF_MAGIC */
	__u32 tid;
	__u32 tgid;
	__u32 ppid;	/* the parent process's tgid (real_parent): whose descendant it is */
	__u64 start_ns; /* task->start_time, CLOCK_MONOTONIC */
	char comm[STRAND_COMM_LEN];
	char leader_comm[STRAND_COMM_LEN]; /* the process's name: its main thread's */
};

#define STRAND_BRIEF_MAGIC 0x5354524c /* "STRL" */

/*
 * Goroutines. The uprobes on the Go runtime read runtime.g through the offsets user space
 * found for each process (DWARF or inferred), written here before the probes attach.
 */
struct strand_go_config {
	__s32 goid, gopc, startpc; /* in runtime.g */
	__s32 g_m;		   /* runtime.g.m */
	__s32 m_curg;		   /* runtime.m.curg: the goroutine an M runs; -1: unknown */
	__s32 sched_bp;		   /* runtime.g.sched.bp: a goroutine's saved frame pointer */
	__s32 atomicstatus;	   /* runtime.g.atomicstatus */
	__u32 pad;
};

/* What the create and exit probes may cost one process: hits counted per window; the
 * window's limit reached, user space is told once (tripped) and detaches them. Set and reset
 * by user space, counted by the probes. */
struct strand_go_budget {
	__u64 window_ns;    /* the window's length */
	__u64 window_start; /* when the present window began (bpf_ktime_get_ns) */
	__u32 hits;	    /* hits in it */
	__u32 limit;	    /* hits allowed in one window */
	__u32 tripped;	    /* 1 once told: no more counting until user space resets it */
	__u32 pad;
};

struct strand_go_budget_event {
	struct strand_event_hdr hdr;
	__u32 hits; /* hits in the window that went over */
	__u32 pad;
	__u64 window_ns; /* how long that window had run */
};

/* Where runtime.m.curg lies, learned by the create probe while user space does not know it:
 * at a spawn the M runs the spawning goroutine, the one word of the M pointing at a running
 * goroutine whose g.m points back. -1: not learned. */
#define STRAND_M_CURG_FROM 128 /* m.curg is 184-192 in Go 1.19-1.26, after m.tls */
#define STRAND_M_CURG_TO   256

/* A goroutine (its g's address) or a spawn site (gopc) of one process. */
struct strand_go_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

enum strand_go_flags {
	STRAND_GO_PARKED = 1 << 0,  /* park_ns is when it last parked; no ready since */
	STRAND_GO_CREATED = 1 << 1, /* created while traced: parent_goid is known */
};

/*
 * Per goroutine of a traced process created or parked while traced: exact park times and
 * its creator. They live in go_slots, a set-associative table of buckets of
 * STRAND_GO_WAYS, not in a hash map: an update and a delete per goroutine cost ~0.7 us on
 * kernels whose every return goes through a mitigation thunk, the table's plain loads and
 * one compare-and-swap a few ns. User space reads it mapped in memory.
 */
struct strand_go_state {
	__u64 tag; /* strand_go_tag(tgid, goid); 0: a free way */
	__u64 park_ns;
	__u64 parent_goid;
	__u64 gopc;   /* its spawn site, when created while traced: its exit needs no read */
	__u32 reason; /* gopark's wait reason */
	__u32 flags;  /* enum strand_go_flags */
};

#define STRAND_GO_WAYS	   4
#define STRAND_GO_PID_BITS 22 /* pid_max is at most 2^22 */

struct strand_go_bucket {
	struct strand_go_state ways[STRAND_GO_WAYS];
};

/* A goroutine's tag: never 0 (goid 0 is the scheduler's g0, never probed). */
static inline __u64 strand_go_tag(__u32 tgid, __u64 goid)
{
	return goid << STRAND_GO_PID_BITS | (tgid & ((1u << STRAND_GO_PID_BITS) - 1));
}

/* Its bucket, for a table of mask + 1 buckets (a power of two). Consecutive goroutine ids
 * of a process take consecutive buckets, so a burst of spawns touches a few cache lines and
 * pages, not a random line of the whole table each (that costs ~0.4 us a spawn); processes
 * start at different places. */
static inline __u32 strand_go_bucket_of(__u64 tag, __u32 mask)
{
	__u32 tgid = (__u32)tag & ((1u << STRAND_GO_PID_BITS) - 1);

	return (__u32)((tag >> STRAND_GO_PID_BITS) + tgid * 0x9e3779b1u) & mask;
}

/* Per spawn site (gopc) of a traced process. */
struct strand_go_site {
	__u64 spawned;
	__u64 exited;
	__u64 parents;	    /* distinct goroutines that spawned here */
	__u64 max_children; /* the fan-out factor: most spawned here by one parent */
	__u64 max_parent;   /* that parent's goroutine id */
	__u64 peak_live;    /* most alive at once of those created while traced (spawned -
			     * exited at each spawn): exact where scans would miss a burst */
	/* The site's first caller and how many it spawned, kept here rather than in go_callers:
	 * most go statements are reached from one place, and a map lookup per spawn costs. */
	__u64 caller0;
	__u64 caller0_spawned;
};

/* Children of one parent goroutine at one spawn site: the fan-out. */
struct strand_go_fanout_key {
	__u32 tgid;
	__u32 pad;
	__u64 gopc;
	__u64 parent_goid;
};

#define STRAND_GO_MAX_FRAMES 64

/* A spawn site's first goroutine from each caller: the spawner's stack, walked by frame
 * pointers. */
struct strand_go_site_event {
	struct strand_event_hdr hdr;
	__u64 gopc;
	__u64 startpc;
	__u64 parent_goid;
	__u64 caller; /* return address into the function that called the go statement's */
	__u32 nframes;
	__u32 pad;
	__u64 ips[STRAND_GO_MAX_FRAMES];
};

/* Goroutines created at one site (gopc) from one caller: a helper that spawns (a logger,
 * a fire-and-forget wrapper) is one go statement called from many places. */
struct strand_go_caller_key {
	__u32 tgid;
	__u32 pad;
	__u64 gopc;
	__u64 caller;
};

/* A cheap 64-bit mix (the finalizer of splitmix64) to build map keys from several words;
 * user space builds the same keys to learn a site ahead of its next spawn. */
static inline __attribute__((always_inline)) __u64 strand_mix64(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* A spawner's interpreter frames hashed into lang_key: from STRAND_LANG_KEY_SEED, each
 * frame's code and instruction (its entry bit included) mixed in, innermost first; user
 * space hashes frames it read itself the same way. */
#define STRAND_LANG_KEY_SEED 0x5079ULL

static inline __attribute__((always_inline)) __u64
strand_lang_mix(__u64 key, const struct strand_lang_frame *f)
{
	return strand_mix64(strand_mix64(key, f->code), f->instr);
}

#ifndef __bpf__
_Static_assert(sizeof(struct strand_task_record) == 264, "task record layout");
_Static_assert(sizeof(struct strand_task_state) == 40, "task state layout");
_Static_assert(sizeof(struct strand_task_brief) == 56, "task brief layout");
_Static_assert(sizeof(struct strand_event_hdr) == 24, "event header layout");
_Static_assert(STRAND_SPAWN_SMALL_SIZE == 88, "small spawn layout");
_Static_assert(sizeof(struct strand_spawn_event) == 88 + 8 * STRAND_NREGS + 8 + STRAND_STACK_BYTES +
							    STRAND_DESC_BYTES + 8 +
							    16 * STRAND_LANG_FRAMES,
	       "spawn layout");
_Static_assert(sizeof(struct strand_python_layout) == 24, "python layout");
_Static_assert(sizeof(struct strand_exit_event) == 56, "exit layout");
_Static_assert(sizeof(struct strand_exiting_event) == 32, "exiting layout");
_Static_assert(sizeof(struct strand_site_slots) == 8 + 4 * STRAND_MAX_SLOTS, "slots layout");
_Static_assert(sizeof(struct strand_clone_site) == 16, "clone site layout");
_Static_assert(sizeof(struct strand_go_config) == 32, "go config layout");
_Static_assert(sizeof(struct strand_go_budget) == 32, "go budget layout");
_Static_assert(sizeof(struct strand_go_key) == 16, "go key layout");
_Static_assert(sizeof(struct strand_go_state) == 40, "go state layout");
_Static_assert(sizeof(struct strand_go_bucket) == 160, "go bucket layout");
_Static_assert(sizeof(struct strand_go_site) == 64, "go site layout");
_Static_assert(sizeof(struct strand_go_fanout_key) == 24, "go fan-out key layout");
_Static_assert(sizeof(struct strand_go_site_event) == 24 + 40 + 8 * STRAND_GO_MAX_FRAMES,
	       "go site event layout");
_Static_assert(sizeof(struct strand_go_caller_key) == 24, "go caller key layout");
#endif

#endif /* STRAND_H */
