// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/stacks.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/procmaps.h"
#include "sym/runtimes.h"
#include "sym/stackmemo.h"

#include <stdlib.h>
#include <string.h>

struct stacks {
	struct proc_maps *maps;
	struct unwinder *unwinder;
	struct symbolizer *sym;
	struct stack_memo *memo;
	struct unwound_stack *scratch; /* large: kept off the stack */
	struct runtimes *runtimes;     /* Java's, Python's, JIT code's frames in their words */
	struct stacks_stats stats;
};

struct stacks *stacks__new(void)
{
	struct stacks *s = xcalloc(1, sizeof(*s));

	s->maps = proc_maps__new();
	s->unwinder = unwinder__new(s->maps);
	s->sym = symbolizer__new(s->maps);
	s->memo = stack_memo__new();
	s->scratch = xcalloc(1, sizeof(*s->scratch));
	s->runtimes = runtimes__new(s->unwinder);
	return s;
}

void stacks__free(struct stacks *s)
{
	if (!s)
		return;
	runtimes__free(s->runtimes);
	unwinder__free(s->unwinder);
	symbolizer__free(s->sym);
	stack_memo__free(s->memo);
	proc_maps__free(s->maps);
	free(s->scratch);
	free(s);
}

int stacks__unwind(struct stacks *s, const struct stack_sample *sample, struct unwound_stack *st)
{
	uint64_t t0 = now_mono_ns();
	int err;

	s->stats.samples++;
	memset(st, 0, sizeof(*st));
	err = unwinder__unwind(s->unwinder, sample, st) || st->depth < 1 ? -1 : 0;
	if (!err)
		runtimes__unwind(s->runtimes, sample, st);
	s->stats.unwind_failures += err != 0;
	s->stats.unwind_ns += now_mono_ns() - t0;
	return err;
}

/*
 * The Go runtime's functions at the bottom of a stack: where Go's own traceback stops
 * (TOPFRAME, and mcall, which moves to g0 for good). Past one, frame pointers lead into
 * another stack (the goroutine mcall left) or nowhere: frames that would only be noise.
 */
static bool ends_go_stack(const char *fn)
{
	static const char *const bottoms[] = {"runtime.goexit", "runtime.mstart", "runtime.rt0_go",
					      "runtime.mcall"};

	for (size_t i = 0; fn && i < ARRAY_SIZE(bottoms); i++)
		if (!strcmp(fn, bottoms[i]))
			return true;
	return false;
}

struct python *stacks__python(struct stacks *s, pid_t pid, bool again)
{
	return runtimes__python(s->runtimes, pid, again);
}

int stacks__symbolize(struct stacks *s, const struct stack_sample *sample,
		      const struct unwound_stack *st, struct sym_frame **frames)
{
	struct sym_frame inl[SYM_MAX_INLINE];
	int cap = st->depth * 2 + 1, depth = 0;
	uint64_t t0 = now_mono_ns();
	pid_t pid = sample->pid;

	*frames = xcalloc((size_t)cap, sizeof(**frames));
	for (int i = 0; i < st->depth; i++) {
		int n = symbolizer__resolve(s->sym, pid, st->pc[i], i > 0, inl, SYM_MAX_INLINE);

		n = runtimes__name(s->runtimes, sample, st, i, inl, n);

		if (depth + n > cap) {
			cap = (depth + n) * 2;
			*frames = xrealloc(*frames, (size_t)cap * sizeof(**frames));
		}
		memcpy(*frames + depth, inl, (size_t)n * sizeof(*inl));
		depth += n;
		if (n > 0 && ends_go_stack(inl[n - 1].function))
			break;
	}
	depth = runtimes__python_frames(s->runtimes, sample, frames, depth);
	s->stats.unwind_ns += now_mono_ns() - t0;
	return depth;
}

uint64_t sym_frame__identity(const struct sym_frame *f)
{
	/* an interpreted or compiled Java frame, a Python frame or a stub of the JVM with no
	 * line is its method (or stub), wherever in its code it returns */
	if (f->function && !f->line && runtimes__known_by_function(f))
		return hash_str(HASH_STR_SEED, f->function);
	if (!f->function || !f->line)
		return f->pc;
	return hash_combine(hash_str(hash_str(HASH_STR_SEED, f->function), f->file),
			    (uint64_t)f->line);
}

int stacks__resolve(struct stacks *s, const struct stack_sample *sample, struct sym_frame **frames,
		    uint64_t *path_hash)
{
	struct unwound_stack *st = s->scratch;
	uint64_t t0 = now_mono_ns();
	bool interpreted = false;
	int depth;

	/* a Python thread's native stack is the interpreter's, the same for every call it
	 * runs: known by its Python frames, which the memo does not compare */
	bool python = stacks__python(s, sample->pid, false) != NULL;

	if (!python && (depth = stack_memo__find(s->memo, sample, frames, path_hash)) >= 0) {
		s->stats.samples++;
		s->stats.memo_hits++;
		s->stats.unwind_ns += now_mono_ns() - t0;
		return depth;
	}
	if (stacks__unwind(s, sample, st)) {
		*frames = NULL;
		return 0;
	}
	depth = stacks__symbolize(s, sample, st, frames);
	*path_hash = hash_u64((uint64_t)sample->pid);
	for (int i = 0; i < depth; i++) {
		*path_hash = hash_combine(*path_hash, sym_frame__identity(&(*frames)[i]));
		/* the interpreter's return addresses are the same for every method it runs:
		 * a stack with interpreted Java frames is known by its Method* slots, which the
		 * memo does not compare */
		interpreted |= runtimes__interpreted(&(*frames)[i]);
	}
	if (!interpreted && !python)
		stack_memo__add(s->memo, sample, st, *frames, depth, *path_hash);
	return depth;
}

void stacks__prefetch(struct stacks *s, pid_t pid)
{
	proc_maps__dwfl(s->maps, pid, 0);
}

void stacks__forget(struct stacks *s, pid_t pid)
{
	runtimes__forget(s->runtimes, pid);
	unwinder__forget(s->unwinder, pid);
	stack_memo__forget(s->memo, pid);
	symbolizer__forget(s->sym, pid);
	proc_maps__forget(s->maps, pid);
}

struct symbolizer *stacks__symbolizer(struct stacks *s)
{
	return s->sym;
}

void stacks__stats(const struct stacks *s, struct stacks_stats *out)
{
	*out = s->stats;
}
