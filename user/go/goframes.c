// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go frames: function and file:line of a Go pc from the process's own line table, Go's
 * inlined calls expanded, names kept by the tracker (they outlive the process's table);
 * and what a frame's function says: the runtime's, the standard library's, the program's. */
#include "go/gotrack.h"
#include "lib/util.h"

#include <stdlib.h>
#include <string.h>

const char *go_keep(struct go_tracker *t, const char *s)
{
	uint64_t h;
	char *have;

	if (!s)
		return NULL;
	h = hash_u64(strlen(s));
	for (const char *c = s; *c; c++)
		h = hash_combine(h, (uint8_t)*c);
	for (;; h++) {
		have = hashmap__get(&t->strings, h);
		if (!have || !strcmp(have, s))
			break;
	}
	if (!have) {
		have = xstrdup(s);
		hashmap__set(&t->strings, h, have);
	}
	return have;
}

const char *go_state_name(const struct go_proc_state *st, const struct go_g *g)
{
	uint32_t status = g->status & ~(uint32_t)GO_SCAN;

	if (status == GO_WAITING && g->waitreason < (uint32_t)st->gp.layout.nwait_reasons &&
	    st->gp.layout.wait_reasons[g->waitreason][0])
		return st->gp.layout.wait_reasons[g->waitreason];
	return go_status__name(status);
}

bool go_state_is_sync_wait(const char *state)
{
	static const char *const sync_waits[] = {
		"semacquire",	      "sync.Cond.Wait",	   "sync.Mutex.Lock",
		"sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait",
	};

	for (size_t i = 0; i < ARRAY_SIZE(sync_waits); i++)
		if (!strcmp(state, sync_waits[i]))
			return true;
	return false;
}

/* The frames of pc from .gopclntab, inlined calls expanded, innermost first (libdw cannot
 * map Go's line tables). A return address is looked up at pc - 1, its call. */
static int pcln_frames(struct go_proc_state *st, uint64_t pc, bool is_return, struct go_frame *out,
		       int max)
{
	if (!st->pcln || pc <= st->gp.bias)
		return 0;
	int n = gopclntab__resolve_inline(st->pcln, pc - st->gp.bias - (is_return ? 1 : 0), out,
					  max);

	return n > 0 ? n : 0;
}

int go_resolve_frames(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out, int max)
{
	struct go_frame gf[GO_MAX_INLINE_DEPTH];
	struct sym_frame where;
	int n = pcln_frames(st, pc, is_return, gf,
			    max < GO_MAX_INLINE_DEPTH ? max : GO_MAX_INLINE_DEPTH);

	if (max <= 0)
		return 0;
	/* the module (and, outside the table, the function) from the symbolizer */
	symbolizer__resolve(t->sym, st->pid, pc, is_return, &where, 1);
	if (!n) {
		out[0] = where;
		out[0].function = go_keep(t, where.function);
		out[0].file = go_keep(t, where.file);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		out[i] = where;
		out[i].function = go_keep(t, gf[i].function);
		out[i].file = go_keep(t, gf[i].file);
		out[i].line = gf[i].line;
		out[i].inlined = gf[i].inlined;
	}
	return n;
}

void go_resolve_frame(struct go_tracker *t, struct go_proc_state *st, uint64_t pc, bool is_return,
		      struct sym_frame *out)
{
	struct sym_frame frames[GO_MAX_INLINE_DEPTH];

	go_resolve_frames(t, st, pc, is_return, frames, GO_MAX_INLINE_DEPTH);
	*out = frames[0];
}

int go_functions_at(struct go_proc_state *st, uint64_t pc, bool is_return, const char **names,
		    int max)
{
	struct go_frame gf[GO_MAX_INLINE_DEPTH];
	int n = pcln_frames(st, pc, is_return, gf,
			    max < GO_MAX_INLINE_DEPTH ? max : GO_MAX_INLINE_DEPTH);

	for (int i = 0; i < n; i++)
		names[i] = gf[i].function;
	return n;
}

bool go_stack_pc_is_return(struct go_proc_state *st, const struct go_stack *s, int i)
{
	uint64_t pc = s->pcs[i];

	/* a stopped goroutine's own pc is a return address too (of its call to mcall, or to
	 * entersyscall): the runtime's traceback backs it up to the call, as it does every
	 * caller's; only a goroutine that never ran sits at a function's entry */
	return i > 0 || !st->pcln || pc <= st->gp.bias ||
	       !gopclntab__is_entry(st->pcln, pc - st->gp.bias);
}

const char *go_function_at(struct go_proc_state *st, uint64_t pc, bool is_return)
{
	const char *names[GO_MAX_INLINE_DEPTH];
	int n = go_functions_at(st, pc, is_return, names, GO_MAX_INLINE_DEPTH);

	return n ? names[n - 1] : NULL;
}

bool go_is_program_code(const char *fn)
{
	/* cgo's generated glue (main._Cfunc_f) is not where the program waits: its caller is */
	return fn && !go_function__is_std(fn) && !strstr(fn, "._Cfunc_") && !strstr(fn, "._cgo_");
}

bool go_in_runtime(const char *fn)
{
	return fn && !strncmp(fn, "runtime.", 8);
}

/* The frame of a stack where the program's own code waits: the first outside the standard
 * library, else the first outside the runtime. Worked out once per distinct stack. */
int go_wait_frame(struct go_proc_state *st, struct go_stack *s)
{
	int fallback = -1;

	if (s->wait_frame >= 0)
		return s->wait_frame;
	for (int i = 0; i < s->depth; i++) {
		const char *names[GO_MAX_INLINE_DEPTH];
		int n = go_functions_at(st, s->pcs[i], go_stack_pc_is_return(st, s, i), names,
					GO_MAX_INLINE_DEPTH);

		for (int k = 0; k < n; k++) {
			if (go_is_program_code(names[k])) {
				s->wait_frame = i;
				return i;
			}
			if (fallback < 0 && !go_in_runtime(names[k]))
				fallback = i;
		}
	}
	s->wait_frame = fallback >= 0 ? fallback : 0;
	return s->wait_frame;
}
