/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the goroutine tracker: its per-process state, shared by goroutines.c (processes,
 * probes, scans, sites) and gogroups.c (groups, verdicts, what an exited process leaves).
 * Not for the rest of strand: goroutines.h is the interface.
 */
#ifndef STRAND_GOTRACK_H
#define STRAND_GOTRACK_H

#include "go/goroutines.h"
#include "go/gosnap.h"
#include "go/gostack.h"
#include "go/gothreads.h"
#include "go/gowait.h"
#include "lib/hashmap.h"
#include "lib/keyindex.h"
#include "lib/util.h"
#include "sym/gopclntab.h"

struct gopclntab;
struct go_heap;

#define MAX_FINAL_GROUPS 256 /* groups kept of a process that exited, as last seen */

/*
 * What strand knows of the goroutine in one g, a slot of allgs (which only grows, and whose
 * gs the runtime reuses): carried from scan to scan while one goroutine holds the slot, the
 * rest rebuilt at each scan. One fixed-size record a slot, updated in place: no per-goroutine
 * heap object, no table by goroutine id.
 */
struct row {
	uint64_t goid; /* whose record it is; 0: none (the slot's g is dead, or was not read) */
	/* carried */
	uint64_t state_key; /* its state and wait, told from the next wait by trackingSeq */
	uint64_t seen_ns;   /* the first scan that saw it so */
	int64_t waitsince;  /* g.waitsince at the last scan (0: none set) */
	uint64_t dated_ns;  /* the first scan that saw that g.waitsince; 0: none set */
	/* this scan's, the last scan's until read_rows: for which channels were served since */
	uint64_t obj;  /* the channel (or select's set) it waits on, 0: none */
	uint64_t park; /* when it parked: exact (probes) or first seen, 0: not waiting */
	/* this scan's (its creator is its snapshot entry's parent_goid, from the probes when
	 * they saw it made) */
	/* seconds, as floats: a million records are 8 MB smaller, and a wait of a day is
	 * still told to a hundredth of a second */
	float blocked;	   /* exact wait, -1: unknown */
	float runtime_age; /* the runtime's own dating of the wait (now - g.waitsince), which
			    * may overstate it by a GC's interval; -1: none */
	uint32_t site;	   /* index in the tracker's sites; its thread and fd are in the process's
			    * maps (go_g_tid, go_g_fd): few goroutines have one */
	bool before_attach : 1; /* waiting since before the probes attached */
	bool runtime_dated : 1; /* blocked is from the runtime's waitsince, seen unchanged */
	bool scan_dated : 1;	/* blocked is from the scans: the same wait (g.trackingSeq) at
				 * every one since the first that saw it, a lower bound */
	bool timed : 1;		/* a select with a pending timer's channel among its cases */
	/* its stack (NULL: running, or no saved context), kept while it has not run */
	struct go_stack_ref stack_ref;
};

/* Records are kept in pages of slots, a page only while a live goroutine is in it, and
 * memory only where a record was written (a mapping of its own): a process whose allgs
 * holds a million gs dead since a burst costs what its live ones do. */
#define ROWS_PER_PAGE (BIG_PAGE / sizeof(struct row))

/* a million of them: kept small on purpose */
_Static_assert(sizeof(struct row) <= 88, "struct row grew");

/* What an fd an IO wait is on was, as far as the report cares, cached by fd and inode. */
struct net_fd {
	uint64_t inode;
	int kind;    /* enum net_kind */
	int speaker; /* who spoke last on a TCP connection (enum tcp_speaker) */
	char text[160];
	char talk[112]; /* the conversation in words, from tcp_info */
};

struct go_proc_state {
	pid_t pid;
	bool is_go, maybe_go, probes, exited;
	bool exit_armed; /* the exit hold's probe was tried (trace only) */
	bool at_exit;	 /* held on its way out, read as it leaves its goroutines */
	bool exit_read;	 /* ... and read then: later scans would find it gone */
	int exit_code;	 /* ... the status it exits with */
	bool mid_test;	 /* ... from inside a test still running (its groups say) */
	int attempts, wait_attempts, m_attempts, parent_attempts, wait_field_attempts;
	bool wait_layout_done;	/* the channel-wait offsets proved */
	uint64_t objects_sig;	/* the channel-wait offsets the rows' objects were read with */
	bool switch_known;	/* runtime.systemstack_switch looked up for the stack walks */
	int np_attempts;	/* scans that tried to prove the network poller's layout */
	struct hashmap net_of;	/* g -> fd + 1, write in bit 31, of the last scan's IO waits */
	struct hashmap net_fds; /* fd -> struct net_fd * (owned) */
	struct go_heap *heap;	/* its heap's index, for what stranded goroutines keep */
	bool heap_tried;
	struct hashmap heap_of; /* group key -> struct heap_measure * (owned) */
	char comm[16];		/* when it was tried: a new image (exec) is tried again */
	struct go_process gp;
	struct gopclntab *pcln; /* Go's own line table: file:line for Go frames (shared) */
	uint64_t pcln_key;	/* its binary, in the tracker's tables */
	struct go_snapshot snap;
	/* by allgs slot, in pages (go_slot_row; snap.g[i]'s: go_row) */
	struct row **row_pages;
	size_t npages;
	struct go_stack_cache *stacks;
	struct go_thread *threads; /* the runtime's Ms at the last scan */
	size_t nthreads;
	bool threads_read;
	struct go_chan_table chans;
	uint64_t probes_ns;	/* when the probes were attached */
	uint64_t first_scan_ns; /* the first snapshot that read its goroutines */
	bool born_before;	/* it started before strand did */
	bool create_probes;	/* the create (and exit) probes are attached */
	/* their overhead budget (gobudget.c): detached (shed) while spent */
	bool shed;
	uint32_t sheds;
	uint64_t shed_ns, rearm_ns, rearm_every_ns;
	char shed_why[224];
	uint64_t max_goid;	/* the largest goroutine id seen: about how many were created */
	struct hashmap site_of; /* gopc -> site index + 1 */
	struct key_index row_of_goid; /* goroutine id -> index in rows, of the last snapshot */
	struct hashmap curg_row;      /* g a thread runs -> index in rows + 1 */
	struct hashmap tid_of;	      /* g -> the thread running it or in its system call */
	struct hashmap first_of;      /* group key -> count + 1 at the first scan that saw it */
	/* group key -> creator_returned + 1 at the last scan: a creator is taken to have returned
	 * only when two scans in a row say so (a stack read racing its goroutine says wrong) */
	struct hashmap returned_of;
	struct hashmap peak_of; /* group key -> largest count */
	/* a process that exited: its groups with a verdict, as the last scan saw them */
	struct go_group *final;
	size_t nfinal;
	/* its program's goroutines all asleep for good (godeadlock.c): where they sleep (a
	 * hash; 0: not all asleep, why says why), since when, over how many scans; deadlocked
	 * once two scans in a row agree */
	uint64_t asleep_sig, asleep_since_ns, asleep_n;
	int asleep_scans;
	bool deadlocked;
	char asleep_why[96];
	/* heap walks (golost.c): goroutine id -> its sudog when the last walk found its
	 * channels unreachable; those two walks in a row found so (lost: id -> 1) */
	struct hashmap unreached, lost;
	struct hashmap chan_elems;   /* channel -> its element type's name (the tracker's) */
	struct hashmap select_cases; /* goroutine id -> struct select_cases * (owned) */
	uint64_t walked_ns, walks, walk_objects, walk_bytes, walk_ns;
	bool walks_given_up; /* one was cut short: the heap is too large for the budget */
	char walk_why[96];   /* why the last walk proved nothing, "" when it ran */
};

struct go_tracker {
	struct symbolizer *sym;
	struct loader *ld;
	uint64_t threshold_ns, runaway;
	size_t max_goroutines; /* per process; 0: no limit */
	uint64_t started_ns;   /* when strand started tracking */
	struct hashmap procs;  /* pid -> struct go_proc_state */
	struct go_site *sites;
	size_t nsites, sites_cap;
	uint32_t next_site_id; /* ids stay unique when a purged process's sites go */
	struct go_group *groups;
	size_t ngroups, cap;
	struct hashmap group_index; /* group key -> index + 1, during a regroup */
	struct hashmap strings;	    /* hash -> char * (owned): names outlive a process's table */
	struct hashmap tables;	    /* file key -> struct shared_table: one per Go binary */
	uint64_t stranded;
	uint64_t now_ns;
	bool states_lost;     /* the probes' goroutine map filled: absent records prove nothing */
	bool hold_exits;      /* hold each Go process on its way out (runtime.exit) */
	bool exact_waits;     /* time waits by probes on park and ready, not by the scans */
	double overhead_pct;  /* the probes' budget per process, in % of one CPU */
	double trap_ns;	      /* what one trap costs, timed at start */
	uint32_t budget_hits; /* hits of the create and exit probes allowed per window */
	uint64_t sheds_total; /* times a process's probes were shed, forgotten ones too */
	/* a goroutine blocked when its process exits is a leak (goleak's semantics, for the
	 * commands strand runs: CI) */
	bool exit_leaks;
};

/* godeadlock.c: whether the program is deadlocked, every goroutine asleep with nothing left
 * to wake one; read after each scan of a live process. */
void go_check_deadlock(struct go_tracker *t, struct go_proc_state *st);
/* The channels pending timers will send on (time.Timer, time.After, a Ticker's), added to
 * chans: 0, or -1 when the timers cannot be read (no DWARF). */
int go_timer_channels(struct go_proc_state *st, struct hashmap *chans);

/* golost.c: walks the heap of a live process, held still, when goroutines of its own are
 * parked on channels, to prove which nothing can reach (trace mode only). */
void go_prove_lost(struct go_tracker *t, struct go_proc_state *st);

/* The tracker's own copy of a name from a process's line table. */
const char *go_keep(struct go_tracker *t, const char *s);
/* The frames of pc, inlined calls expanded, innermost first, at most max (>= 1): module from
 * the symbolizer, function and file:line from .gopclntab; names kept. Returns how many. */
int go_resolve_frames(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out, int max);
/* The innermost of them: where the code at pc is (a go statement in an inlined function). */
void go_resolve_frame(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out);
/* The functions of pc's frames, innermost first (not kept: valid while the process lives);
 * and the physical one, the outermost. */
int go_functions_at(struct go_proc_state *st, uint64_t pc, bool is_return, const char **names,
		    int max);
const char *go_function_at(struct go_proc_state *st, uint64_t pc, bool is_return);
/* Whether a wait stack's pc i is looked up as a return address (at its call). */
bool go_stack_pc_is_return(struct go_proc_state *st, const struct go_stack *s, int i);
/* A function of the program (or a library it uses), not the standard library nor cgo glue. */
bool go_is_program_code(const char *fn);
bool go_in_runtime(const char *fn);
/* The record of slot, NULL when its page holds no live goroutine. */
static inline struct row *go_slot_row(const struct go_proc_state *st, uint32_t slot)
{
	size_t page = slot / ROWS_PER_PAGE;

	return page < st->npages && st->row_pages[page] ? &st->row_pages[page][slot % ROWS_PER_PAGE]
							: NULL;
}

/* The record of the snapshot's i-th goroutine (every one has one). */
static inline struct row *go_row(const struct go_proc_state *st, size_t i)
{
	return go_slot_row(st, st->snap.g[i].slot);
}

/* gorows.c: the records after a snapshot: each goroutine's record is its slot's while its
 * id is the same (update_seen: when it was first seen in its present state); then this
 * scan's part of each (read: its stack, wait object, dating, site, creator). */
void go_rows__update_seen(struct go_proc_state *st, uint64_t now);
void go_row_page_free(struct row *page);
/* The index of the spawn site of gopc, created at its first sighting. */
uint32_t go_site_for(struct go_tracker *t, struct go_proc_state *st, uint64_t gopc,
		     uint64_t startpc);
void go_rows__read(struct go_tracker *t, struct go_proc_state *st);
/* The row of the last snapshot's goroutine goid + 1; 0: not in it. */
size_t go_row_of_goid(const struct go_proc_state *st, uint64_t goid);
/* The thread goroutine g (its address) runs on or is in a system call on at the last scan;
 * 0: none. */
pid_t go_g_tid(const struct go_proc_state *st, uint64_t g);
/* The fd goroutine g waits on in IO wait at the last scan; -1: not known. */
int go_g_fd(const struct go_proc_state *st, uint64_t g);
/* The wait reason, or the status, of g. */
const char *go_state_name(const struct go_proc_state *st, const struct go_g *g);
/* When g was first seen in its present state (ns), 0: not seen before. */
uint64_t go_first_seen(const struct go_proc_state *st, const struct go_g *g);
/* The first scan that saw g with its present g.waitsince; 0: none set. */
uint64_t go_first_dated(const struct go_proc_state *st, const struct go_g *g);
/* The frame of a stack where the program's own code waits (computed once per stack). */
int go_wait_frame(struct go_proc_state *st, struct go_stack *s);

/* goruntime.c: the layers of a process's runtime, each tried until proved. */
/* Attaches the runtime probes (first scan): probes first, then the snapshot, so nothing
 * falls between the two. */
void go_attach_probes(struct go_tracker *t, struct go_proc_state *st);
/* gobudget.c: the create and exit probes' budget, set each time they attach; once shed,
 * whether their time to be armed again has come (at a scan). */
void go_budget__arm(struct go_tracker *t, struct go_proc_state *st);
bool go_budget__rearm_due(struct go_tracker *t, struct go_proc_state *st);
/* Sheds the probes of a process whose spent budget the kernel could not report. */
void go_budget__check(struct go_tracker *t, struct go_proc_state *st);
/* A waiting goroutine's exact wait, from the probes, into r; and its creator into g. */
void go_probe_wait(struct go_tracker *t, struct go_proc_state *st, struct go_g *g, struct row *r);
/* The layout's parts a young process may not prove yet, looked for again at later scans
 * (and once more on its way out): the wait fields, the channel waits, the creator. */
void go_find_wait_fields(struct go_proc_state *st);
void go_find_wait_layout(struct go_proc_state *st);
void go_find_parent(struct go_proc_state *st);
/* Whether the next snapshot should read every g's M for go_find_m_layer, called after it. */
bool go_m_layer_due(const struct go_proc_state *st);
void go_find_m_layer(struct go_tracker *t, struct go_proc_state *st);
/* The Ms and the IO waits' fds of the scan, once their layouts are proved. */
void go_read_threads(struct go_proc_state *st);
void go_read_netwaits(struct go_proc_state *st);

#endif /* STRAND_GOTRACK_H */
