/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The state model: traced processes, their live tasks, and the spawn sites that created
 * them. Fed by the collector, read by the reports. One spawn site is one (process, start
 * routine, symbolized call path); kernel-side keys are aliases that point at it.
 */
#ifndef STRAND_MODEL_H
#define STRAND_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/hashmap.h"
#include "lib/timeline.h"
#include "sym/symbolize.h"

enum task_kind {
	TASK_THREAD,
	TASK_PROCESS, /* a followed child process */
};

const char *task_kind__name(enum task_kind kind);

struct site {
	uint32_t id; /* stable within one trace, printed as "s<id>" */
	pid_t pid;
	enum task_kind kind;
	bool before_attach; /* the pseudo-site of tasks that predate the trace */
	bool unresolved;    /* spawns whose stack could not be had */
	uint64_t start_routine;
	struct sym_frame start_frame; /* valid when start_routine != 0 */
	struct sym_frame *stack;      /* symbolized spawn stack, innermost first */
	int depth;
	bool truncated;
	uint64_t spawned, exited, live, peak_live;
	uint64_t first_ns, last_ns; /* first and last spawn, monotonic */
	/* parent tid -> children spawned here (high 32 bits) and of them alive (low 32) */
	struct hashmap children;
	uint64_t max_children;
	pid_t max_parent; /* the parent with max_children */
	/* most children of one parent from here alive at once, and that parent: a fan-out is
	 * that, not a thread-per-request server that made thousands one after the other */
	uint64_t max_live_children;
	pid_t max_live_parent;
	uint32_t parents;
	struct timeline live_over_time; /* live tasks at every scan */
};

/* What a blocked task waits on, as far as it is known. */
enum wait_kind {
	WAIT_UNKNOWN,	/* blocked, not in a system call (page fault, ...) */
	WAIT_MUTEX,	/* futex under pthread_mutex_lock or a lock built on it */
	WAIT_CONDVAR,	/* futex under pthread_cond_wait */
	WAIT_SEMAPHORE, /* futex under sem_wait */
	WAIT_JOIN,	/* futex under pthread_join */
	WAIT_FUTEX,	/* another futex wait */
	WAIT_EPOLL,
	WAIT_POLL,  /* poll, ppoll, select, pselect6 */
	WAIT_SLEEP, /* nanosleep, clock_nanosleep */
	WAIT_READ,  /* read, readv, pread, recv*: on the fd in wait.fd */
	WAIT_ACCEPT,
	WAIT_CHILD,  /* wait4, waitid */
	WAIT_SIGNAL, /* pause, sigsuspend, rt_sigtimedwait */
	WAIT_SYSCALL /* any other system call */
};

/* How a wait's timeout is given, as the system call takes it. */
enum wait_timeout_kind {
	WAIT_UNTIMED,	 /* no timeout: only an event ends it */
	WAIT_TIMED_MS,	 /* value: milliseconds (epoll_wait, poll) */
	WAIT_TIMED_REL,	 /* value: address of a relative struct timespec */
	WAIT_TIMED_ABS,	 /* value: address of an absolute struct timespec on clock */
	WAIT_TIMED_TV,	 /* value: address of a relative struct timeval (select) */
	WAIT_TIMED_SOME, /* timed, its value unknown (a timed wait restarted by the kernel) */
};

struct wait_timeout {
	enum wait_timeout_kind kind;
	uint64_t value;
	int clock; /* clockid_t of an absolute timeout */
};

struct task_wait {
	uint64_t seq;	   /* the kernel's wait_seq of this wait */
	uint64_t since_ns; /* monotonic */
	bool estimated;	   /* blocked before attach: start from the scheduler's clock */
	bool uninterruptible;
	int64_t syscall; /* -1: not in a syscall */
	uint64_t args[6];
	enum wait_kind kind;
	uint64_t object; /* the futex address, the fd, ...: what wakes it */
	struct wait_timeout timeout;
	uint64_t timeout_at_ns; /* when the timeout ends it (monotonic); 0: unknown or none */
	char reason[192];
	uint8_t reason_len;	 /* timed waits: the reason before its "(timed, ...)" */
	bool detailed;		 /* stack, fd and lock owner read (done once the wait is long) */
	int fd_kind;		 /* enum fd_kind when the wait is on an fd */
	int pipe_write_fd;	 /* pipes: an fd of this process on the write end, -1 none */
	int epoll_fds;		 /* epoll: fds in the set, -1 unknown */
	bool listening;		 /* sockets: a listening socket */
	bool inbound;		 /* sockets: accepted by this host (its local port listens) */
	int tcp_speaker;	 /* TCP: who spoke last on it (enum tcp_speaker), from tcp_info */
	char tcp_talk[112];	 /* ... in words: "we sent 120 bytes, last 41.0 s ago; ..." */
	pid_t lock_owner;	 /* pthread mutexes: the owner tid from the mutex, 0 unknown */
	pid_t join_tid;		 /* joins: the thread joined (the futex's expected value) */
	struct sym_frame *stack; /* the user stack at the wait, innermost first (frames__*) */
	int depth;
	uint64_t stack_hash; /* identifies the wait site */
};

struct task {
	pid_t tid, pid, parent_tid;
	enum task_kind kind;
	struct site *site;
	uint64_t birth_ns; /* monotonic; for tasks before attach, derived from /proc */
	bool before_attach;
	char name[16];
	char state;		/* from the last scan: R, S (blocked), D (uninterruptible) */
	bool on_cpu;		/* R: running on a CPU at the last scan (else waiting for one) */
	struct task_wait *wait; /* when blocked */
	/* a thread of a Go program: what the runtime uses it for (its M), as of the last scan */
	const char *go_role; /* "sysmon", "idle", "syscall", ...; NULL: not an M, or unknown */
	uint64_t goid;	     /* the goroutine it runs or is in a system call for; 0: none */
	uint32_t go_site;    /* that goroutine's spawn site (g<N>); 0: none */
};

struct process {
	pid_t pid;
	char comm[16];
	char *exe; /* /proc/PID/exe when first seen (NULL: unreadable), for reports read later */
	char *exec_path; /* the path it was run by (a symlink's), when first seen (NULL: none) */
	bool exited;
	int exit_code;	       /* as wait(2) encodes it */
	bool go;	       /* a Go program: its threads are the runtime's Ms */
	bool go_threads_known; /* each thread's M was read: one without is not an M */
	/* held on its way out (the exit hold) and read then, calling exit with exit_status:
	 * what it leaves blocked is left for good */
	bool held_at_exit;
	int exit_status;
	/* ... and judged then: later scans, which find it gone or going, keep that judgement */
	bool exit_judged;
	struct site *before_site;
	/* when its threads alive then began to be listed: one born before that and never
	 * listed exited in between (CLOCK_MONOTONIC ns; 0: not listed) */
	uint64_t listed_ns;
};

struct model_drops {
	uint64_t unknown_exits;	    /* exits of tasks never seen alive */
	uint64_t coarse_attributed; /* spawns attributed by coarse key (no exact path) */
	uint64_t unresolved_spawns; /* spawns with no stack at all */
	uint64_t task_limit;	    /* tasks not tracked: limit reached */
};

struct model {
	struct hashmap tasks;	       /* tid -> task */
	struct hashmap untracked;      /* tid -> site of a task past max_tasks: its exit counts */
	struct hashmap site_by_key;    /* hash(pid, kernel key) -> site */
	struct hashmap site_by_coarse; /* hash(pid, coarse key) -> the first site seen under it */
	struct hashmap site_by_path;   /* hash(pid, start routine, path) -> site */
	struct hashmap procs;	       /* pid -> process */
	struct site **sites;
	size_t nsites, sites_cap;
	uint32_t next_site_id;
	uint64_t spawned, exited, before_attach;
	uint64_t start_ns, end_ns; /* monotonic bounds of the trace */
	uint64_t all_listed_ns;	   /* the whole machine's listed_ns (struct process) */
	size_t max_tasks;
	struct model_drops drops;
};

void model__init(struct model *m, size_t max_tasks);
void model__free(struct model *m);

struct process *model__process(struct model *m, pid_t pid, const char *comm);
/* pid replaced its image: its name and executable are read anew. */
void model__process_exec(struct model *m, pid_t pid, const char *comm);
struct process *model__find_process(struct model *m, pid_t pid);
/* Drops a process and all that is left of it (tasks whose exit was lost, its spawn sites):
 * the daemon, once it was reported gone. */
void model__forget_process(struct model *m, pid_t pid);

/* A task alive when the trace began. */
void model__add_existing(struct model *m, pid_t pid, pid_t tid, const char *name,
			 uint64_t birth_ns);

struct site *model__site_by_key(struct model *m, pid_t pid, uint64_t key);
void model__alias_key(struct model *m, pid_t pid, uint64_t key, struct site *site);
/* A coarse key (the kernel's key of a spawn before its site's shape is learned) may stand
 * for several call paths: the first site seen under it is remembered, to take the spawns
 * of that key no exact key finds. */
void model__learn_coarse(struct model *m, pid_t pid, uint64_t coarse, struct site *site);
bool model__coarse_learned(struct model *m, pid_t pid, uint64_t coarse);
/* The site of a spawn no exact key found: the first seen under its coarse key, or the
 * process's site of spawns whose stack is unknown; either counted in drops. */
struct site *model__fallback_site(struct model *m, pid_t pid, enum task_kind kind, uint64_t coarse);

/*
 * The site with this call path, created if it is new (*is_new says which; the caller then
 * gives it its stack). path holds one identity word per frame.
 */
struct site *model__site_by_path(struct model *m, pid_t pid, enum task_kind kind,
				 uint64_t start_routine, const uint64_t *path, int depth,
				 bool *is_new);

void model__spawn(struct model *m, struct site *site, pid_t pid, pid_t tid, pid_t parent_tid,
		  uint64_t ts_ns);
/* A task exited; exits of tasks never seen alive are counted in drops. */
/* Task tid of process pid exited; birth_ns is when it was born (0: not known). */
void model__exit(struct model *m, pid_t pid, pid_t tid, uint64_t ts_ns, uint64_t birth_ns);
void model__process_exit(struct model *m, pid_t pid, int exit_code);

/* Samples every site's live count (once per scan): the shape over time. */
void model__sample_sites(struct model *m, uint64_t now_ns);

/* Sites sorted for reports: most live first, then most spawned. Caller frees the array. */
struct site **model__sorted_sites(struct model *m, size_t *n);
/* The live task tid, NULL if unknown. */
struct task *model__task(struct model *m, pid_t tid);
void task__clear_wait(struct task *t);

/* Wait stacks are shared by the waits at one stack (a hundred thousand threads parked at
 * one place hold one copy): a copy of depth frames with one reference, another reference,
 * and one given back (the last frees it). */
struct sym_frame *frames__new(const struct sym_frame *f, int depth);
struct sym_frame *frames__ref(struct sym_frame *f);
void frames__release(struct sym_frame *f);
/* References held now; frames held. */
int frames__refs(const struct sym_frame *f);
int frames__depth(const struct sym_frame *f);

/* What is learned of a stack from its frames alone, kept with it: a hundred thousand threads
 * at one stack have it worked out once, not at each scan for each (thread_roles.c). */
struct frames_facts {
	bool known;
	bool parks_per_thread;
	uint64_t role_rules; /* the role rules whose frame and module it has, a bit each */
};
struct frames_facts *frames__facts(struct sym_frame *f);

/* Live tasks sorted by pid, tid. Caller frees the array. */
struct task **model__sorted_tasks(struct model *m, size_t *n);

#endif /* STRAND_MODEL_H */
