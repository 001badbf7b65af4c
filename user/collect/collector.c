// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "collect/collector.h"
#include "collect/model.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/elfsym.h"
#include "sym/python.h"
#include "sym/stacks.h"
#include "sys/procfs.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* A spawner's Python frames (sym/python.h) and their hash (ev->lang_key): the kernel's keys
 * are the native path's, the model's are those mixed with it, a site per Python call. */
struct spawn_lang {
	uint64_t key; /* 0: no Python frames */
	const struct strand_lang_frame *frames;
	uint32_t n;
	struct strand_lang_frame read[STRAND_LANG_FRAMES]; /* read by user space while held */
};

struct collector {
	struct loader *ld;
	struct model *model;
	struct stacks *stacks; /* the engine's, lent */
	struct ring_buffer *rb;
	struct hashmap held;	       /* pids stopped for their memory map, not yet resumed */
	struct unwound_stack *scratch; /* a spawn's stack while its site is found; large */
	struct spawn_lang lang;	       /* a spawn's Python frames while its site is found */
	process_exit_fn on_exit;
	void *on_exit_ctx;
	go_site_fn on_go_site;
	void *on_go_site_ctx;
	pid_reuse_fn on_reuse;
	void *on_reuse_ctx;
	held_fn on_new_image;
	void *on_new_image_ctx;
	exiting_fn on_exiting;
	go_budget_fn on_go_budget;
	void *on_go_budget_ctx;
	void *on_exiting_ctx;
	struct collector_stats stats;
	unsigned python_map_full; /* Python processes the kernel's table refused */
};

static int handle_record(void *ctx, void *data, size_t size);

struct collector *collector__new(struct loader *ld, struct model *m, struct stacks *stacks)
{
	struct collector *c = xcalloc(1, sizeof(*c));

	c->ld = ld;
	c->model = m;
	c->stacks = stacks;
	c->scratch = xcalloc(1, sizeof(*c->scratch));
	hashmap__init(&c->held);
	c->rb = ring_buffer__new(loader__ringbuf_fd(ld), handle_record, c, NULL);
	if (!c->rb) {
		collector__free(c);
		return NULL;
	}
	return c;
}

void collector__free(struct collector *c)
{
	uint64_t pid;
	void *val;

	if (!c)
		return;
	/* never leave a process stopped behind */
	for (size_t i = 0; hashmap__next(&c->held, &i, &pid, &val);)
		kill((pid_t)pid, SIGCONT);
	hashmap__free(&c->held);
	ring_buffer__free(c->rb);
	free(c->scratch);
	free(c);
}

void collector__on_process_exit(struct collector *c, process_exit_fn fn, void *ctx)
{
	c->on_exit = fn;
	c->on_exit_ctx = ctx;
}

static uint64_t *frame_identities(const struct sym_frame *frames, int depth)
{
	uint64_t *ids = xcalloc((size_t)depth + 1, sizeof(*ids));

	for (int i = 0; i < depth; i++)
		ids[i] = sym_frame__identity(&frames[i]);
	return ids;
}

/* Tells the kernel where this site's return addresses sit, so later spawns get exact keys. */
static void learn_slots(struct collector *c, uint64_t coarse, const struct unwound_stack *st)
{
	struct strand_site_slots slots = {0};

	for (int i = 1; i < st->depth && slots.nslots < STRAND_MAX_SLOTS; i++)
		if (st->slot[i] >= 0)
			slots.offset[slots.nslots++] = st->slot[i];
	if (slots.nslots)
		loader__set_site_slots(c->ld, coarse, &slots);
}

/* The fine key the kernel makes from a learned site's slots (threads.bpf.c fine_key), made
 * from a copy of the stack above sp; false when a slot lies outside the copy. */
static bool fine_key_from(uint64_t coarse, const struct strand_site_slots *slots,
			  const uint8_t *stack, uint32_t len, uint64_t *key)
{
	uint64_t word;

	*key = coarse;
	for (uint32_t i = 0; i < slots->nslots && i < STRAND_MAX_SLOTS; i++) {
		int32_t off = slots->offset[i];

		if (off < 0 || (uint32_t)off + sizeof(word) > len)
			return false;
		memcpy(&word, stack + off, sizeof(word));
		*key = strand_mix64(*key, word);
	}
	return slots->nslots > 0;
}

/* The exact key of a spawn whose site was not learned when it was sent, from its stack copy
 * (a full sample's or a slot window's), once user space has learned the site. */
static bool late_fine_key(struct collector *c, uint64_t coarse, const uint8_t *stack, uint32_t len,
			  uint64_t *key)
{
	struct strand_site_slots slots;

	return !loader__site_slots(c->ld, coarse, &slots) &&
	       fine_key_from(coarse, &slots, stack, len, key);
}

/* glibc's pthread_create under its names: pthread_create@@GLIBC_2.34, __pthread_create_2_1 */
static bool is_pthread_create(const char *name)
{
	size_t n = strlen("pthread_create");

	while (name && *name == '_')
		name++;
	return name && !strncmp(name, "pthread_create", n) &&
	       (!name[n] || name[n] == '@' || !strcmp(name + n, "_2_1"));
}

/*
 * A clone site's first sample: where the return address into the caller of the C library's
 * thread creation sits (the frame above pthread_create, or else the first frame outside the
 * module that made the system call), and where that library keeps a thread's start
 * routine; written back for the kernel, and returned (struct strand_clone_site).
 */
static struct strand_clone_site learn_clone_site(struct collector *c, pid_t pid, uint64_t clone_key,
						 const struct unwound_stack *st)
{
	struct symbolizer *sym = stacks__symbolizer(c->stacks);
	struct strand_clone_site site;
	const char *module0, *module, *function;
	uint64_t desc_at = 0;
	uint32_t desc[3];
	int caller = -1;

	/* the samples a burst sent before the first was read: the site is known already
	 * (and their process may be gone) */
	if (!loader__clone_site(c->ld, clone_key, &site) && site.learned)
		return site;
	site = (struct strand_clone_site){.caller_slot = -1, .learned = 1};
	if (!symbolizer__elf_symbol(sym, pid, st->pc[0], false, &module0, &function)) {
		for (int i = 1; i < st->depth; i++) {
			if (symbolizer__elf_symbol(sym, pid, st->pc[i], true, &module, &function))
				continue;
			if (is_pthread_create(function) && !strcmp(module, module0))
				caller = i + 1;
			else if (caller < 0 && strcmp(module, module0))
				caller = i;
		}
	}
	if (caller > 0 && caller < st->depth && st->slot[caller] >= 0)
		site.caller_slot = st->slot[caller];
	/* the descriptor as the process has it mapped: a library replaced on disk since has
	 * no path to read */
	if (symbolizer__symbol_address(sym, pid, st->pc[0], "_thread_db_pthread_start_routine",
				       &desc_at) ||
	    procfs__read_mem(pid, desc_at, desc, sizeof(desc)) ||
	    elfsym__thread_db_pointer(desc, &site.start_off))
		site.start_off = 0;
	/* a write refused costs samples, not spawns: the kernel keeps sending them */
	(void)loader__set_clone_site(c->ld, clone_key, &site);
	return site;
}

/*
 * The coarse key the kernel makes for a spawn from a learned clone site (threads.bpf.c
 * handle_fork), made from the copies of the stack and of the new thread's descriptor a
 * spawn sent before the site was learned; *start is read from the descriptor where the
 * kernel had none.
 */
static uint64_t clone_coarse_key(uint64_t clone_key, const struct strand_clone_site *site,
				 const uint8_t *stack, uint32_t stack_len, const uint8_t *desc,
				 uint32_t desc_len, uint64_t *start)
{
	uint64_t caller = 0;

	if (!*start && site->start_off && site->start_off + 8 <= desc_len &&
	    desc_len <= STRAND_DESC_BYTES)
		memcpy(start, desc + site->start_off, sizeof(*start));
	if (site->caller_slot >= 0 && (uint32_t)site->caller_slot + 8 <= stack_len)
		memcpy(&caller, stack + site->caller_slot, sizeof(caller));
	return strand_mix64(strand_mix64(clone_key, caller), *start);
}

/*
 * The coarse key of a slot window sent from a clone site not learned then (the kernel's
 * coarse key is the clone key alone), once user space has learned the site; false while it
 * has not.
 */
static bool clone_window_coarse_key(struct collector *c, const struct strand_spawn_event *ev,
				    size_t size, uint64_t *start, uint64_t *coarse)
{
	const uint8_t *desc = ev->stack + STRAND_SLOT_WINDOW;
	struct strand_clone_site site;
	uint32_t desc_len = ev->desc_len;

	if (size < STRAND_SPAWN_CLONE_WINDOW_SIZE)
		desc_len = 0;
	if (loader__clone_site(c->ld, ev->coarse_key, &site) || !site.learned)
		return false;
	*coarse = clone_coarse_key(ev->coarse_key, &site, ev->stack, ev->stack_len, desc, desc_len,
				   start);
	return true;
}

static uint64_t lang_keyed(const struct spawn_lang *lang, uint64_t key)
{
	return lang->key ? strand_mix64(key, lang->key) : key;
}

/* The kernel's hash of a frame chain (bpf/threads.bpf.c python_frames), for frames user
 * space read itself. */
static uint64_t lang_hash(const struct strand_lang_frame *f, uint32_t n)
{
	uint64_t key = STRAND_LANG_KEY_SEED;

	for (uint32_t i = 0; i < n; i++)
		key = strand_lang_mix(key, &f[i]);
	return n ? key : 0;
}

/*
 * The spawn's Python frames: those the kernel read at the clone, or, when it could not (it
 * did not know the process for a Python one yet: its first spawn) and the spawner is held
 * where it spawned, read now from its thread state; none else.
 */
static void spawn_lang_of(struct collector *c, const struct strand_spawn_event *ev, size_t size,
			  struct spawn_lang *lang)
{
	struct python_raw_frame raw[STRAND_LANG_FRAMES];
	pid_t pid = (pid_t)ev->parent_tgid;
	struct python *p;
	int n;

	lang->key = ev->lang_key;
	lang->frames = NULL;
	lang->n = 0;
	if ((ev->flags & STRAND_SPAWN_LANG_FRAMES) && size >= sizeof(*ev)) {
		lang->frames = ev->lang;
		lang->n = ev->lang_nframes < STRAND_LANG_FRAMES ? ev->lang_nframes
								: STRAND_LANG_FRAMES;
		return;
	}
	if (lang->key || !(ev->flags & STRAND_SPAWN_HAS_STACK) ||
	    !(p = collector__watch_python(c, pid, true)))
		return;
	if (!(ev->flags & STRAND_SPAWN_STOPPED) ||
	    (n = python__thread_frames(p, (pid_t)ev->parent_tid, raw, STRAND_LANG_FRAMES)) <= 0)
		return;
	for (int i = 0; i < n; i++)
		lang->read[i] = (struct strand_lang_frame){
			.code = raw[i].code,
			.instr = raw[i].instr | (raw[i].entry ? STRAND_LANG_ENTRY : 0)};
	lang->frames = lang->read;
	lang->n = (uint32_t)n;
	lang->key = lang_hash(lang->read, lang->n);
}

/*
 * Unwinds a spawn's stack sample into c->scratch and learns what the kernel needs to key
 * the site's next spawns (a new clone site, the site's return-address slots); *start is the
 * start routine once known, *coarse the key the site's spawns come back with. Cheap (no
 * debug information is read): done while a process is held, so that it resumes keyed.
 */
static bool unwind_sample(struct collector *c, const struct strand_spawn_event *ev, size_t size,
			  uint64_t *start, uint64_t *coarse)
{
	pid_t pid = (pid_t)ev->parent_tgid;
	struct stack_sample sample = {
		.pid = pid,
		.regs = (const uint64_t *)ev->regs,
		.stack = ev->stack,
		.stack_len = ev->stack_len,
	};
	struct unwound_stack *st = c->scratch;

	if (size < sizeof(*ev) || ev->stack_len > STRAND_STACK_BYTES)
		return false;
	if (stacks__unwind(c->stacks, &sample, st))
		return false;
	*coarse = ev->coarse_key;
	if (ev->flags & STRAND_SPAWN_CLONE_UNLEARNED) {
		struct strand_clone_site site = learn_clone_site(c, pid, ev->coarse_key, st);

		*coarse = clone_coarse_key(ev->coarse_key, &site, ev->stack, ev->stack_len,
					   ev->descriptor, ev->desc_len, start);
	}
	if (!model__coarse_learned(c->model, pid, *coarse))
		learn_slots(c, *coarse, st);
	return true;
}

/* The site of the stack unwind_sample left in c->scratch, the first seen under its keys. */
static struct site *site_from_unwound(struct collector *c, const struct strand_spawn_event *ev,
				      const struct spawn_lang *lang, enum task_kind kind,
				      uint64_t start, uint64_t coarse)
{
	pid_t pid = (pid_t)ev->parent_tgid;
	const struct unwound_stack *st = c->scratch;
	uint64_t *ids, keys[2] = {lang_keyed(lang, ev->coarse_key), lang_keyed(lang, coarse)};
	struct sym_frame *frames;
	struct site *s;
	bool is_new;
	int depth;

	depth = stacks__symbolize(c->stacks,
				  &(struct stack_sample){.pid = pid,
							 .regs = (const uint64_t *)ev->regs,
							 .stack = ev->stack,
							 .stack_len = ev->stack_len,
							 .lang = lang->frames,
							 .nlang = lang->n},
				  st, &frames);
	ids = frame_identities(frames, depth);
	s = model__site_by_path(c->model, pid, kind, start, ids, depth, &is_new);
	free(ids);
	if (is_new) {
		s->stack = frames;
		s->depth = depth;
		s->truncated = st->truncated;
		if (s->start_routine)
			symbolizer__resolve(stacks__symbolizer(c->stacks), pid, s->start_routine,
					    false, &s->start_frame, 1);
	} else {
		free(frames);
	}
	for (int i = 0; i < 2; i++)
		model__learn_coarse(c->model, pid, keys[i], s);
	return s;
}

/* The kernel stopped pid at its first stack sample: read its memory map now, while it
 * cannot exit, then let it go. */
static void hold_for_maps(struct collector *c, pid_t pid)
{
	hashmap__set(&c->held, (uint64_t)pid, (void *)1);
	stacks__prefetch(c->stacks, pid);
	if (c->on_new_image)
		c->on_new_image(c->on_new_image_ctx, pid);
}

static void release_hold(struct collector *c, pid_t pid)
{
	if (hashmap__del(&c->held, (uint64_t)pid))
		kill(pid, SIGCONT);
}

static void handle_spawn(struct collector *c, const struct strand_spawn_event *ev, size_t size)
{
	enum task_kind kind = ev->flags & STRAND_SPAWN_NEW_PROCESS ? TASK_PROCESS : TASK_THREAD;
	pid_t pid = (pid_t)ev->parent_tgid;
	uint64_t start = ev->start_routine, coarse = ev->coarse_key, fine;
	struct spawn_lang *lang = &c->lang;
	struct site *s = NULL;
	bool unwound = false, window;

	c->stats.spawns++;
	/* a process is named as its main thread is: another thread's name is its own */
	model__process(c->model, pid, ev->parent_tid == ev->parent_tgid ? ev->comm : NULL);
	if (kind == TASK_PROCESS) {
		struct process *old = model__find_process(c->model, (pid_t)ev->hdr.tgid);

		/* a pid is forked again only once its process is gone: its exit may be lost */
		if (old && c->on_reuse)
			c->on_reuse(c->on_reuse_ctx, (pid_t)ev->hdr.tgid);
		model__process(c->model, (pid_t)ev->hdr.tgid, ev->comm);
	}
	if (ev->flags & STRAND_SPAWN_STOPPED)
		hold_for_maps(c, pid);
	spawn_lang_of(c, ev, size, lang);
	if (ev->flags & STRAND_SPAWN_HAS_STACK)
		unwound = unwind_sample(c, ev, size, &start, &coarse);
	/* Held only while its map is read and its clone site learned: the sample's files are
	 * open by then, and their symbols and lines (tens of ms of debug data for a C
	 * library) are read with the process running. */
	if (ev->flags & STRAND_SPAWN_STOPPED)
		release_hold(c, pid);
	if (unwound)
		s = site_from_unwound(c, ev, lang, kind, start, coarse);
	window = (ev->flags & STRAND_SPAWN_SLOT_WINDOW) && size >= STRAND_SPAWN_WINDOW_SIZE &&
		 ev->stack_len <= STRAND_SLOT_WINDOW;
	if (window && (ev->flags & STRAND_SPAWN_CLONE_UNLEARNED) &&
	    !clone_window_coarse_key(c, ev, size, &start, &coarse))
		window = false;
	/* A sample sent before its site was learned, or a slot window: its exact key is made
	 * here, so that the site's later spawns (and windows) find it. */
	if (window && late_fine_key(c, coarse, ev->stack, ev->stack_len, &fine))
		s = model__site_by_key(c->model, pid, lang_keyed(lang, fine));
	else if (s && ev->site_key == ev->coarse_key &&
		 late_fine_key(c, coarse, ev->stack, ev->stack_len, &fine))
		model__alias_key(c->model, pid, lang_keyed(lang, fine), s);
	if (!s)
		s = model__site_by_key(c->model, pid, lang_keyed(lang, ev->site_key));
	if (!s) /* no exact path for this spawn */
		s = model__fallback_site(c->model, pid, kind, lang_keyed(lang, coarse));
	/* a coarse key may stand for several paths: only exact keys become aliases */
	if (ev->site_key != ev->coarse_key)
		model__alias_key(c->model, pid, lang_keyed(lang, ev->site_key), s);
	model__spawn(c->model, s, (pid_t)ev->hdr.tgid, (pid_t)ev->hdr.tid, (pid_t)ev->parent_tid,
		     ev->hdr.ts_ns);
}

static void handle_exit(struct collector *c, const struct strand_exit_event *ev)
{
	pid_t pid = (pid_t)ev->hdr.tgid;

	c->stats.exits++;
	model__exit(c->model, pid, (pid_t)ev->hdr.tid, ev->hdr.ts_ns, ev->start_ns);
	if (ev->group_dead)
		collector__process_exit(c, pid, (int)ev->exit_code);
}

struct python *collector__watch_python(struct collector *c, pid_t pid, bool again)
{
	struct python *p = stacks__python(c->stacks, pid, again);
	struct strand_python_layout layout;
	int err;

	if (!p)
		return NULL;
	layout = (struct strand_python_layout){
		.tstate_current = python__tstate_current_addr(p),
		.tstate_cframe = PYTHON_TSTATE_CFRAME,
		.tstate_thread_id = PYTHON_TSTATE_THREAD_ID,
		.cframe_current_frame = PYTHON_CFRAME_CURRENT_FRAME,
		.frame_code = PYTHON_FRAME_CODE,
		.frame_previous = PYTHON_FRAME_PREVIOUS,
		.frame_prev_instr = PYTHON_FRAME_PREV_INSTR,
		.frame_is_entry = PYTHON_FRAME_IS_ENTRY,
	};
	if ((err = loader__set_python(c->ld, pid, &layout)) && !c->python_map_full++)
		note("the Python frames of pid %d's spawns are read from its memory only when "
		     "it is held: the kernel's table of Python processes refused it (%s)",
		     pid, strerror(-err));
	return p;
}

void collector__process_exit(struct collector *c, pid_t pid, int exit_code)
{
	loader__set_python(c->ld, pid, NULL);
	model__process_exit(c->model, pid, exit_code);
	stacks__forget(c->stacks, pid);
	if (c->on_exit)
		c->on_exit(c->on_exit_ctx, pid, exit_code);
}

static void handle_exec(struct collector *c, const struct strand_exec_event *ev)
{
	pid_t pid = (pid_t)ev->hdr.tgid;

	c->stats.execs++;
	model__process_exec(c->model, pid, ev->comm);
	stacks__forget(c->stacks, pid);
	/* the new image may be CPython: known before it runs a line, its first spawns come
	 * with their Python frames */
	loader__set_python(c->ld, pid, NULL);
	collector__watch_python(c, pid, false);
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;
	const struct strand_event_hdr *hdr = data;

	c->stats.records++;
	if (size < sizeof(*hdr)) {
		c->stats.bad_records++;
		return 0;
	}
	switch (hdr->type) {
	case STRAND_EV_SPAWN:
		if (size >= STRAND_SPAWN_SMALL_SIZE) {
			handle_spawn(c, data, size);
			return 0;
		}
		break;
	case STRAND_EV_EXIT:
		if (size >= sizeof(struct strand_exit_event)) {
			handle_exit(c, data);
			return 0;
		}
		break;
	case STRAND_EV_EXEC:
		if (size >= sizeof(struct strand_exec_event)) {
			handle_exec(c, data);
			return 0;
		}
		break;
	case STRAND_EV_EXITING:
		if (size >= sizeof(struct strand_exiting_event)) {
			const struct strand_exiting_event *ev = data;

			/* nobody to read it: let it go at once */
			if (c->on_exiting)
				c->on_exiting(c->on_exiting_ctx, (pid_t)ev->hdr.tgid, ev->code);
			else
				kill((pid_t)ev->hdr.tgid, SIGCONT);
			return 0;
		}
		break;
	case STRAND_EV_GO_OVER_BUDGET:
		if (size >= sizeof(struct strand_go_budget_event)) {
			if (c->on_go_budget)
				c->on_go_budget(c->on_go_budget_ctx, data);
			return 0;
		}
		break;
	case STRAND_EV_GO_SITE:
		if (size >= sizeof(struct strand_go_site_event)) {
			const struct strand_go_site_event *ev = data;

			if (ev->nframes <= STRAND_GO_MAX_FRAMES && c->on_go_site)
				c->on_go_site(c->on_go_site_ctx, ev);
			return 0;
		}
		break;
	}
	c->stats.bad_records++;
	return 0;
}

void collector__on_pid_reuse(struct collector *c, pid_reuse_fn fn, void *ctx)
{
	c->on_reuse = fn;
	c->on_reuse_ctx = ctx;
}

void collector__on_new_image(struct collector *c, held_fn fn, void *ctx)
{
	c->on_new_image = fn;
	c->on_new_image_ctx = ctx;
}

void collector__on_exiting(struct collector *c, exiting_fn fn, void *ctx)
{
	c->on_exiting = fn;
	c->on_exiting_ctx = ctx;
}

void collector__on_go_over_budget(struct collector *c, go_budget_fn fn, void *ctx)
{
	c->on_go_budget = fn;
	c->on_go_budget_ctx = ctx;
}

void collector__on_go_site(struct collector *c, go_site_fn fn, void *ctx)
{
	c->on_go_site = fn;
	c->on_go_site_ctx = ctx;
}

int collector__poll(struct collector *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);

	/* the poll reads a ring only when it was woken: records submitted without a wake-up
	 * are read here, at most a poll's timeout late */
	if (n >= 0 || n == -EINTR)
		n = ring_buffer__consume(c->rb);
	return n < 0 ? n : 0;
}

int collector__wait(struct collector *c, int timeout_ms)
{
	struct epoll_event ev;
	int n = epoll_wait(ring_buffer__epoll_fd(c->rb), &ev, 1, timeout_ms);

	return n < 0 && errno != EINTR ? -errno : 0;
}

int collector__drain(struct collector *c)
{
	int n = ring_buffer__consume(c->rb);

	return n < 0 ? n : 0;
}

void collector__stats(struct collector *c, struct collector_stats *out)
{
	*out = c->stats;
}
