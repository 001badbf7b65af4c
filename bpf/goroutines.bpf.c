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

/* Goroutines of traced processes: park times and parents (see struct strand_go_state).
 * Sized by user space, which sets go_slot_mask to match. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct strand_go_bucket);
} go_slots SEC(".maps");

const volatile __u32 go_slot_mask = 65536 - 1;

#define PAIR_WORDS 32

/* Scratch for read_pair: a stack buffer that large would crowd the probes' 512 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[PAIR_WORDS]);
} go_scratch SEC(".maps");

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

/* Each process's budget for the create and exit probes (struct strand_go_budget). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct strand_go_budget);
} go_budgets SEC(".maps");

/* A hit of a create or exit probe, charged to tgid's budget: at the window's limit user
 * space is told, at once (it detaches the probes: the trap is the cost). Returns whether the
 * budget is spent: the probes then do nothing more until they are detached, as if they were
 * already (their bodies cost as much again as the trap). */
static __always_inline bool charge(__u32 tgid)
{
	struct strand_go_budget *b = bpf_map_lookup_elem(&go_budgets, &tgid);
	struct strand_go_budget_event *ev;
	__u64 now;

	if (!b)
		return false;
	if (b->tripped)
		return true;
	now = bpf_ktime_get_ns();
	if (now - b->window_start >= b->window_ns) {
		b->window_start = now;
		b->hits = 0;
	}
	if (__sync_fetch_and_add(&b->hits, 1) + 1 < b->limit)
		return false;
	if (__sync_val_compare_and_swap(&b->tripped, 0, 1) != 0)
		return true; /* another CPU told already */
	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return true;
	fill_hdr(&ev->hdr, STRAND_EV_GO_OVER_BUDGET, tgid, (__u32)bpf_get_current_pid_tgid());
	ev->hits = b->hits;
	ev->pad = 0;
	ev->window_ns = now - b->window_start;
	submit_now(ev);
	return true;
}

/* A process has a config exactly while its probes are attached (user space deletes it when
 * it detaches them), so the config alone says it is traced: no lookup in targets. */
static __always_inline const struct strand_go_config *go_config(__u32 tgid)
{
	return bpf_map_lookup_elem(&go_configs, &tgid);
}

/* The bucket of a goroutine's tag. */
static __always_inline struct strand_go_bucket *go_bucket(__u64 tag)
{
	__u32 idx = strand_go_bucket_of(tag, go_slot_mask);

	return bpf_map_lookup_elem(&go_slots, &idx);
}

static __always_inline struct strand_go_state *go_find(struct strand_go_bucket *b, __u64 tag)
{
	for (int w = 0; w < STRAND_GO_WAYS; w++)
		if (b->ways[w].tag == tag)
			return &b->ways[w];
	return 0;
}

/* A free way of the bucket, taken for tag; NULL (counted) when all are taken. */
static __always_inline struct strand_go_state *go_claim(struct strand_go_bucket *b, __u64 tag)
{
	for (int w = 0; w < STRAND_GO_WAYS; w++)
		if (!b->ways[w].tag && !__sync_val_compare_and_swap(&b->ways[w].tag, 0, tag))
			return &b->ways[w];
	count(STRAND_CNT_GO_STATE_FULL);
	return 0;
}

static __always_inline __u64 read_word(__u64 base, __s32 off)
{
	__u64 v = 0;

	if (base && off >= 0)
		bpf_probe_read_user(&v, sizeof(v), (void *)(base + off));
	return v;
}

/* Two words of one object, in one read when they lie close together: every helper call
 * costs ~100 ns on CPUs whose kernel runs return thunks (SRSO), more than the copy. */
static __always_inline void read_pair(__u64 base, __s32 a, __s32 b, __u64 *va, __u64 *vb)
{
	__u32 zero = 0;
	__u64 *buf = bpf_map_lookup_elem(&go_scratch, &zero);
	__s32 lo = a < b ? a : b;
	__u64 len = (__u64)(__u32)((a < b ? b : a) - lo) + 8;

	*va = *vb = 0;
	if (!buf || !base || lo < 0 || len > PAIR_WORDS * 8 || ((a | b) & 7)) {
		*va = read_word(base, a);
		*vb = read_word(base, b);
		return;
	}
	bpf_probe_read_user(buf, len, (void *)(base + lo));
	*va = buf[((__u32)(a - lo) >> 3) & (PAIR_WORDS - 1)];
	*vb = buf[((__u32)(b - lo) >> 3) & (PAIR_WORDS - 1)];
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

/* Counts a spawn from caller at gopc in go_callers; true for the pair's first spawn. */
static __always_inline bool count_caller_map(__u32 tgid, __u64 gopc, __u64 caller)
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

/* Counts a spawn from caller at a known site; true for the pair's first spawn. */
static __always_inline bool count_caller(__u32 tgid, struct strand_go_site *site, __u64 gopc,
					 __u64 caller)
{
	if (site->caller0 == caller) {
		__sync_fetch_and_add(&site->caller0_spawned, 1);
		return false;
	}
	return count_caller_map(tgid, gopc, caller);
}

/*
 * Where the go statement's function was called from, given the spawning goroutine's saved
 * frame pointer (g.sched.bp). runtime.newproc switched to the system stack through
 * systemstack, which saved it: newproc's frame, whose saved bp is the go statement's
 * function's frame, whose return address is in its caller.
 */
static __always_inline __u64 caller_of(__u64 newproc_bp)
{
	__u32 zero = 0;
	__u64 *buf = bpf_map_lookup_elem(&go_scratch, &zero), fbp, off;

	/* one read for both frames when they are close, as they are unless the go statement's
	 * function has large locals (or the read crosses into an unmapped page) */
	if (!buf || !newproc_bp || bpf_probe_read_user(buf, PAIR_WORDS * 8, (void *)newproc_bp))
		return read_word(read_word(newproc_bp, 0), 8);
	fbp = buf[0];
	off = fbp - newproc_bp + 8;
	if (fbp > newproc_bp && off < PAIR_WORDS * 8 && !(off & 7))
		return buf[(off >> 3) & (PAIR_WORDS - 1)];
	return read_word(fbp, 8);
}

/* Takes a way for a goroutine created while traced; NULL (counted) when its bucket is full. */
static __always_inline void note_created(__u32 tgid, __u64 goid, __u64 parent_goid, __u64 gopc)
{
	__u64 tag = strand_go_tag(tgid, goid);
	struct strand_go_bucket *b = go_bucket(tag);
	struct strand_go_state *st = b ? go_claim(b, tag) : 0;

	if (!st)
		return;
	/* the goroutine runs once runqput has queued it, after this probe: no race on it */
	st->park_ns = 0;
	st->parent_goid = parent_goid;
	st->gopc = gopc;
	st->reason = 0;
	st->flags = STRAND_GO_CREATED;
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
	struct strand_go_site *site, fresh = {.spawned = 1,
					      .parents = 1,
					      .max_children = 1,
					      .peak_live = 1,
					      .caller0_spawned = 1};
	__u64 newg = ctx->bx, parent, parent_goid, goid, gopc, children, caller, m, newproc_bp;
	struct strand_go_site_event *ev;
	bool first;

	if (!cfg || !newg || charge(tgid))
		return 0;
	count(STRAND_CNT_GO_SPAWNS);
	m = read_word(ctx->r14, cfg->g_m);
	parent = cfg->m_curg >= 0 ? read_word(m, cfg->m_curg) : learn_curg(tgid, m, cfg);
	read_pair(parent, cfg->goid, cfg->sched_bp, &parent_goid, &newproc_bp);
	read_pair(newg, cfg->goid, cfg->gopc, &goid, &gopc);
	if (goid)
		note_created(tgid, goid, parent_goid, gopc);
	key.addr = gopc;
	children = count_child(tgid, gopc, parent_goid);
	caller = caller_of(newproc_bp);
	site = bpf_map_lookup_elem(&go_sites, &key);
	if (site) {
		add_spawn(site, children, parent_goid);
		first = count_caller(tgid, site, gopc, caller);
	} else {
		fresh.max_parent = parent_goid;
		fresh.caller0 = caller;
		if (!bpf_map_update_elem(&go_sites, &key, &fresh, BPF_NOEXIST)) {
			first = true;
		} else if ((site = bpf_map_lookup_elem(&go_sites, &key))) { /* a racing first */
			add_spawn(site, children, parent_goid);
			first = count_caller(tgid, site, gopc, caller);
		} else {
			count(STRAND_CNT_MAP_FULL);
			first = count_caller_map(tgid, gopc, caller);
		}
	}
	if (!first)
		return 0;
	ev = reserve_event(sizeof(*ev));
	if (!ev)
		return 0;
	fill_hdr(&ev->hdr, STRAND_EV_GO_SITE, tgid, (__u32)id);
	ev->gopc = gopc;
	ev->startpc = read_word(newg, cfg->startpc);
	ev->parent_goid = parent_goid;
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

/* The state of goroutine g of tgid, taken for it when take and it has none. */
static __always_inline struct strand_go_state *
go_state_of(__u32 tgid, __u64 g, const struct strand_go_config *cfg, bool take, __u64 *tag)
{
	__u64 goid = read_word(g, cfg->goid);
	struct strand_go_bucket *b;
	struct strand_go_state *st;

	if (!goid)
		return 0;
	*tag = strand_go_tag(tgid, goid);
	b = go_bucket(*tag);
	if (!b)
		return 0;
	st = go_find(b, *tag);
	if (st || !take)
		return st;
	st = go_claim(b, *tag);
	if (st) {
		st->parent_goid = 0;
		st->gopc = 0;
		st->flags = 0;
	}
	return st;
}

/*
 * runtime.goexit1: the exiting goroutine is the current one. A site counts the exits of the
 * goroutines it created while traced, once each: their way is freed by the first exit
 * seen, and goexit1 does run its stack check again after growing the stack (morestack
 * restarts the function), which hits this probe a second time.
 */
SEC("uprobe")
int go_exit(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct strand_go_config *cfg = go_config(tgid);
	struct strand_go_key key = {.tgid = tgid};
	struct strand_go_state *st;
	struct strand_go_site *site;
	bool created;
	__u64 tag = 0;

	if (!cfg || charge(tgid))
		return 0;
	if (!(st = go_state_of(tgid, ctx->r14, cfg, false, &tag)))
		return 0; /* neither created nor parked while traced */
	created = st->flags & STRAND_GO_CREATED;
	key.addr = st->gopc;
	if (__sync_val_compare_and_swap(&st->tag, tag, 0) != tag)
		return 0; /* its exit already counted (a racing second hit) */
	count(STRAND_CNT_GO_EXITS);
	if (!created)
		return 0;
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
	const struct strand_go_config *cfg = go_config(tgid);
	struct strand_go_state *st;
	__u64 tag;

	if (!cfg)
		return 0;
	count(STRAND_CNT_GO_PARKS);
	st = go_state_of(tgid, ctx->r14, cfg, true, &tag);
	if (!st)
		return 0;
	st->park_ns = bpf_ktime_get_ns();
	st->reason = (__u32)(ctx->cx & 0xff);
	__sync_fetch_and_or(&st->flags, STRAND_GO_PARKED);
	return 0;
}

/* runtime.ready(gp, ...): gp is made runnable; its wait is over. */
SEC("uprobe")
int go_ready(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct strand_go_config *cfg = go_config(tgid);
	struct strand_go_state *st;
	__u64 tag;

	if (!cfg)
		return 0;
	st = go_state_of(tgid, ctx->ax, cfg, false, &tag);
	if (st)
		__sync_fetch_and_and(&st->flags, ~STRAND_GO_PARKED);
	return 0;
}
