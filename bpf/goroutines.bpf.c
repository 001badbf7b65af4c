// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Goroutine lifecycle in Go programs, from uprobes on the runtime: creation (the first
 * goroutine of each spawn site and caller brings the spawner's stack; every one is counted
 * per site, caller and parent), exit,
 * park and ready (exact blocked-since times). Each probe sits on an instruction the kernel
 * emulates (the stack check's JBE a few bytes into a function, or a CALL), found and
 * verified by user space with a disassembler: a probe on a function's first instruction
 * is single-stepped and costs ~20x more. Never uretprobes: Go moves goroutine stacks.
 *
 * Registers follow Go's internal ABI: arguments in RAX, RBX, RCX, ...; R14 holds the
 * current g.
 */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct strand_go_config);
} go_configs SEC(".maps");

/* Live goroutines of traced processes: park times and parents. Sized by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct strand_go_key);
	__type(value, struct strand_go_state);
} go_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct strand_go_key);
	__type(value, struct strand_go_site);
} go_sites SEC(".maps");

/* Children per (site, parent): a parent long gone ages out (LRU), as the fan-out factor
 * is about what one parent does in a burst. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct strand_go_fanout_key);
	__type(value, __u64);
} go_fanout SEC(".maps");

/* m.curg as the create probe found it, per process (see strand.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __s32);
} go_learned_curg SEC(".maps");

/* Goroutines per (site, caller); a new pair brings its stack. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct strand_go_caller_key);
	__type(value, __u64);
} go_callers SEC(".maps");

static __always_inline const struct strand_go_config *go_config(__u32 tgid)
{
	if (!target_flags(tgid))
		return 0;
	return bpf_map_lookup_elem(&go_configs, &tgid);
}

static __always_inline __u64 read_word(__u64 base, __s32 off)
{
	__u64 v = 0;

	if (base && off >= 0)
		bpf_probe_read_user(&v, sizeof(v), (void *)(base + off));
	return v;
}

/* How many children parent has created at gopc, this one included. */
static __always_inline __u64 count_child(__u32 tgid, __u64 gopc, __u64 parent)
{
	struct strand_go_fanout_key key = {.tgid = tgid, .gopc = gopc, .parent_goid = parent};
	__u64 one = 1, *n = bpf_map_lookup_elem(&go_fanout, &key);

	if (n)
		return __sync_fetch_and_add(n, 1) + 1;
	if (!bpf_map_update_elem(&go_fanout, &key, &one, BPF_NOEXIST))
		return 1;
	n = bpf_map_lookup_elem(&go_fanout, &key); /* a racing first child */
	return n ? __sync_fetch_and_add(n, 1) + 1 : 0;
}

static __always_inline void add_spawn(struct strand_go_site *site, __u64 children, __u64 parent)
{
	__u64 live = __sync_fetch_and_add(&site->spawned, 1) + 1 - site->exited;

	/* racy like the fan-out below: only ever raised, by the next spawn that sees more */
	if (live > site->peak_live)
		site->peak_live = live;
	if (children == 1)
		__sync_fetch_and_add(&site->parents, 1);
	/* racy, but only ever raised: the next spawn of a bigger fan-out corrects it */
	if (children > site->max_children) {
		site->max_children = children;
		site->max_parent = parent;
	}
}

#define G_RUNNING 2 /* runtime._Grunning */

/* The spawning goroutine, when m.curg is not known yet: the word of m pointing at a
 * running goroutine whose m is m (Go's g0 is never running; m.tls holds g0 here). The
 * offset found is left for user space, which checks it and sets it in the config. */
static __always_inline __u64 learn_curg(__u32 tgid, __u64 m, const struct strand_go_config *cfg)
{
	for (__s32 off = STRAND_M_CURG_FROM; off < STRAND_M_CURG_TO; off += 8) {
		__u64 p = read_word(m, off);
		__u32 status = 0;

		if (!p || cfg->atomicstatus < 0 || cfg->g_m < 0)
			continue;
		bpf_probe_read_user(&status, sizeof(status), (void *)(p + cfg->atomicstatus));
		if ((status & ~0x1000u) != G_RUNNING || read_word(p, cfg->g_m) != m)
			continue;
		bpf_map_update_elem(&go_learned_curg, &tgid, &off, BPF_ANY);
		return p;
	}
	return 0;
}

/* Counts a spawn from caller at gopc; true for the pair's first spawn. */
static __always_inline bool count_caller(__u32 tgid, __u64 gopc, __u64 caller)
{
	struct strand_go_caller_key key = {.tgid = tgid, .gopc = gopc, .caller = caller};
	__u64 one = 1, *n = bpf_map_lookup_elem(&go_callers, &key);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return false;
	}
	if (!bpf_map_update_elem(&go_callers, &key, &one, BPF_NOEXIST))
		return true;
	n = bpf_map_lookup_elem(&go_callers, &key); /* a racing first spawn */
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		count(STRAND_CNT_MAP_FULL);
	return false;
}

/*
 * Where the go statement's function was called from. runtime.newproc switched to the
 * system stack through systemstack, which saved the goroutine's frame pointer in g.sched:
 * newproc's frame, whose saved bp is the go statement's function's frame, whose return
 * address is in its caller.
 */
static __always_inline __u64 caller_of(__u64 g, const struct strand_go_config *cfg)
{
	__u64 newproc_bp = read_word(g, cfg->sched_bp);

	return read_word(read_word(newproc_bp, 0), 8);
}

/* At the CALL runtime.runqput in runtime.newproc.func1, on the system stack: the new g is
 * the second argument (RBX); R14 is g0, whose M runs the spawning goroutine (m.curg). */
SEC("uprobe")
int go_create(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	const struct strand_go_config *cfg = go_config(tgid);
	struct strand_go_key key = {.tgid = tgid};
	struct strand_go_state state = {.flags = STRAND_GO_CREATED};
	struct strand_go_site *site,
		fresh = {.spawned = 1, .parents = 1, .max_children = 1, .peak_live = 1};
	__u64 newg = ctx->bx, parent, children, caller, m;
	struct strand_go_site_event *ev;

	if (!cfg || !newg)
		return 0;
	count(STRAND_CNT_GO_SPAWNS);
	m = read_word(ctx->r14, cfg->g_m);
	parent = cfg->m_curg >= 0 ? read_word(m, cfg->m_curg) : learn_curg(tgid, m, cfg);
	state.parent_goid = read_word(parent, cfg->goid);
	key.addr = newg;
	if (bpf_map_update_elem(&go_states, &key, &state, BPF_ANY))
		count(STRAND_CNT_GO_STATE_FULL);
	key.addr = read_word(newg, cfg->gopc);
	children = count_child(tgid, key.addr, state.parent_goid);
	site = bpf_map_lookup_elem(&go_sites, &key);
	if (site) {
		add_spawn(site, children, state.parent_goid);
	} else {
		fresh.max_parent = state.parent_goid;
		if (bpf_map_update_elem(&go_sites, &key, &fresh, BPF_NOEXIST)) {
			if ((site = bpf_map_lookup_elem(&go_sites, &key))) /* a racing first */
				add_spawn(site, children, state.parent_goid);
			else
				count(STRAND_CNT_MAP_FULL);
		}
	}
	caller = caller_of(parent, cfg);
	if (!count_caller(tgid, key.addr, caller))
		return 0;
	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return 0;
	fill_hdr(&ev->hdr, STRAND_EV_GO_SITE, tgid, (__u32)id);
	ev->gopc = key.addr;
	ev->startpc = read_word(newg, cfg->startpc);
	ev->parent_goid = state.parent_goid;
	ev->caller = caller;
	ev->pad = 0;
	/* frame pointers hold from the system stack back into the spawning goroutine's */
	long n = bpf_get_stack(ctx, ev->ips, sizeof(ev->ips), BPF_F_USER_STACK);
	ev->nframes = n > 0 ? (__u32)(n / sizeof(__u64)) : 0;
	if (n <= 0)
		count(STRAND_CNT_STACK_FAILS);
	submit_lazy(ev);
	return 0;
}

/*
 * runtime.goexit1: the exiting goroutine is the current one. A site counts the exits of the
 * goroutines it created while traced, once each: their state entry goes with the first
 * exit seen, and goexit1 does run its stack check again after growing the stack (morestack
 * restarts the function), which hits this probe a second time.
 */
SEC("uprobe")
int go_exit(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct strand_go_config *cfg = go_config(tgid);
	struct strand_go_key key = {.tgid = tgid, .addr = ctx->r14};
	struct strand_go_state *st;
	struct strand_go_site *site;
	bool created;

	if (!cfg)
		return 0;
	st = bpf_map_lookup_elem(&go_states, &key);
	created = st && (st->flags & STRAND_GO_CREATED);
	if (!st || bpf_map_delete_elem(&go_states, &key))
		return 0; /* not created while traced, or its exit already counted */
	count(STRAND_CNT_GO_EXITS);
	if (!created)
		return 0;
	key.addr = read_word(ctx->r14, cfg->gopc);
	site = bpf_map_lookup_elem(&go_sites, &key);
	if (site)
		__sync_fetch_and_add(&site->exited, 1);
	return 0;
}

/* runtime.gopark(unlockf, lock, reason, ...): the current goroutine is about to wait. */
SEC("uprobe")
int go_park(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct strand_go_key key = {.tgid = tgid, .addr = ctx->r14};
	struct strand_go_state *st, fresh = {};

	if (!go_config(tgid))
		return 0;
	count(STRAND_CNT_GO_PARKS);
	st = bpf_map_lookup_elem(&go_states, &key);
	if (!st)
		st = &fresh;
	st->park_ns = bpf_ktime_get_ns();
	st->reason = (__u32)(ctx->cx & 0xff);
	st->flags |= STRAND_GO_PARKED;
	if (st == &fresh && bpf_map_update_elem(&go_states, &key, &fresh, BPF_ANY))
		count(STRAND_CNT_GO_STATE_FULL);
	return 0;
}

/* runtime.ready(gp, ...): gp is made runnable; its wait is over. */
SEC("uprobe")
int go_ready(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct strand_go_key key = {.tgid = tgid, .addr = ctx->ax};
	struct strand_go_state *st;

	if (!go_config(tgid))
		return 0;
	st = bpf_map_lookup_elem(&go_states, &key);
	if (st)
		st->flags &= ~STRAND_GO_PARKED;
	return 0;
}
