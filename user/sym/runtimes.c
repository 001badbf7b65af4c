// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/runtimes.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/jvm.h"
#include "sym/perfmap.h"
#include "sym/python.h"
#include "sys/procfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct runtimes {
	struct unwinder *unwinder;  /* the stacks', lent: a JVM stack's native part */
	struct unwound_stack *rest; /* that part, unwound again */
	struct hashmap jvms;	    /* pid -> struct jvm, or NOT_A_JVM once looked for in vain */
	struct hashmap jvm_looked;  /* pid -> when it was last looked for in vain (ns) */
	struct hashmap pythons;	 /* pid -> struct python, or NOT_PYTHON once looked for in vain */
	struct hashmap perfmaps; /* pid -> struct jit_map: its JIT's perf map, if it writes one */
	struct hashmap names;	 /* hash of a frame's name -> the name, kept while r is */
};

#define NOT_A_JVM  ((struct jvm *)1)
#define NOT_PYTHON ((struct python *)1)
static const char INTERPRETED_JAVA[] = "interpreted Java";
static const char COMPILED_JAVA[] = "compiled Java";
static const char JVM_CODE[] = "JVM code"; /* the code cache's stubs, adapters, interpreter */
static const char PYTHON[] = "Python";
static const char JAVASCRIPT[] = "JavaScript"; /* V8's code, named by its perf map */
static const char JIT_CODE[] = "JIT code";     /* another JIT's, named by its perf map */

/* A process's perf map, or when it had none the last time it was looked for: a JIT writes
 * its map from its start, or when asked (jcmd PID Compiler.perfmap). */
struct jit_map {
	struct perfmap *map;
	uint64_t looked_ns;
	bool advised; /* told how to have its JIT write one */
};

#define PERFMAP_LOOK_AGAIN_NS 1000000000ULL

struct runtimes *runtimes__new(struct unwinder *uw)
{
	struct runtimes *r = xcalloc(1, sizeof(*r));

	r->unwinder = uw;
	r->rest = xcalloc(1, sizeof(*r->rest));
	hashmap__init(&r->jvms);
	hashmap__init(&r->jvm_looked);
	hashmap__init(&r->pythons);
	hashmap__init(&r->perfmaps);
	hashmap__init(&r->names);
	return r;
}

void runtimes__free(struct runtimes *r)
{
	uint64_t key;
	void *val;

	if (!r)
		return;
	free(r->rest);
	for (size_t i = 0; hashmap__next(&r->jvms, &i, &key, &val);)
		if (val != NOT_A_JVM)
			jvm__free(val);
	hashmap__free(&r->jvms);
	hashmap__free(&r->jvm_looked);
	for (size_t i = 0; hashmap__next(&r->pythons, &i, &key, &val);)
		if (val != NOT_PYTHON)
			python__free(val);
	hashmap__free(&r->pythons);
	for (size_t i = 0; hashmap__next(&r->perfmaps, &i, &key, &val);)
		perfmap__free(((struct jit_map *)val)->map);
	hashmap__free_values(&r->perfmaps);
	hashmap__free_values(&r->names);
	free(r);
}

void runtimes__forget(struct runtimes *r, pid_t pid)
{
	struct jvm *j = hashmap__del(&r->jvms, (uint64_t)pid);
	struct python *p = hashmap__del(&r->pythons, (uint64_t)pid);
	struct jit_map *m = hashmap__del(&r->perfmaps, (uint64_t)pid);

	hashmap__del(&r->jvm_looked, (uint64_t)pid);
	if (m) {
		perfmap__free(m->map);
		free(m);
	}
	if (j && j != NOT_A_JVM)
		jvm__free(j);
	if (p && p != NOT_PYTHON)
		python__free(p);
}

bool runtimes__known_by_function(const struct sym_frame *f)
{
	return f->module == (const char *)INTERPRETED_JAVA || f->module == (const char *)PYTHON ||
	       f->module == (const char *)COMPILED_JAVA || f->module == (const char *)JVM_CODE ||
	       f->module == (const char *)JAVASCRIPT || f->module == (const char *)JIT_CODE;
}

bool runtimes__interpreted(const struct sym_frame *f)
{
	return f->module == (const char *)INTERPRETED_JAVA || f->module == (const char *)PYTHON;
}

/* A name kept as long as s is, once. */
static const char *keep(struct runtimes *s, const char *name)
{
	uint64_t h = hash_str(HASH_STR_SEED, name);
	char *kept;

	/* two names of one hash: the next key */
	while ((kept = hashmap__get(&s->names, h)) && strcmp(kept, name))
		h++;
	if (!kept) {
		kept = xstrdup(name);
		hashmap__set(&s->names, h, kept);
	}
	return kept;
}

/* pid's JVM, looked for once. */
static struct jvm *jvm_of(struct runtimes *s, pid_t pid)
{
	struct jvm *j = hashmap__get(&s->jvms, (uint64_t)pid);

	if (!j) {
		j = jvm__open(pid);
		hashmap__set(&s->jvms, (uint64_t)pid, j ? j : NOT_A_JVM);
	}
	return j == NOT_A_JVM ? NULL : j;
}

/*
 * A frame of libjvm.so in pid's stack: a JVM, though it may not have been one when first
 * looked for (the launcher starts a thread before it loads libjvm.so, and the VM describes
 * its structures only once it has made them): looked for again, at most once a second.
 */
static void libjvm_seen(struct runtimes *s, pid_t pid)
{
	uint64_t now = now_mono_ns(),
		 last = (uint64_t)(uintptr_t)hashmap__get(&s->jvm_looked, (uint64_t)pid);

	if (hashmap__get(&s->jvms, (uint64_t)pid) != NOT_A_JVM ||
	    (last && now - last < 1000000000ULL))
		return;
	hashmap__set(&s->jvm_looked, (uint64_t)pid, (void *)(uintptr_t)now);
	hashmap__del(&s->jvms, (uint64_t)pid);
}

/*
 * Frame i of an unwound sample, a return address into HotSpot's interpreter, named by the
 * method its frame runs: the frame's own frame pointer is the one saved just below the
 * return address that led to it, and its Method* sits at a fixed slot below that, both in
 * the stack copy (the memory the process has now holds another moment's).
 */
static bool name_interpreted(struct runtimes *s, const struct stack_sample *sample,
			     const struct unwound_stack *st, int i, struct sym_frame *f)
{
	uint64_t sp = sample->regs[DWARF_RSP], fp, method, bcp = 0;
	struct jvm_frame jf;
	struct jvm *j;

	if (i < 1 || st->slot[i] < 8 || !(j = jvm_of(s, sample->pid)) ||
	    !jvm__in_interpreter(j, st->pc[i]) ||
	    !stack_sample__word(sample, sp + st->slot[i] - 8, &fp) ||
	    fp < -JVM_INTERP_BCP_SLOT * 8 ||
	    !stack_sample__word(sample, fp + JVM_INTERP_METHOD_SLOT * 8, &method))
		return false;
	if (!stack_sample__word(sample, fp + JVM_INTERP_BCP_SLOT * 8, &bcp))
		bcp = 0;
	if (jvm__frame(j, method, bcp, &jf))
		return false;
	*f = (struct sym_frame){.pc = st->pc[i],
				.function = keep(s, jf.name),
				.file = jf.file[0] ? keep(s, jf.file) : NULL,
				.line = jf.line,
				.module = INTERPRETED_JAVA};
	return true;
}

struct python *runtimes__python(struct runtimes *s, pid_t pid, bool again)
{
	struct python *p = hashmap__get(&s->pythons, (uint64_t)pid);

	if (!p || (again && p == NOT_PYTHON)) {
		p = python__open(pid);
		hashmap__set(&s->pythons, (uint64_t)pid, p ? p : NOT_PYTHON);
	}
	return p == NOT_PYTHON ? NULL : p;
}

/* CPython's evaluation loop: one call of it runs the Python frames up to an entry frame. */
static bool is_eval_frame(const struct sym_frame *f)
{
	return f->function && !strcmp(f->function, "_PyEval_EvalFrameDefault");
}

/* The sample's Python frames, innermost first: brought with it, or read from its thread. */
static int python_frames(struct runtimes *s, const struct stack_sample *sample,
			 struct python_raw_frame *raw, int max, struct python **p)
{
	int n = 0;

	if (!(*p = runtimes__python(s, sample->pid, false)))
		return 0;
	if (sample->lang) {
		for (; n < max && n < (int)sample->nlang; n++)
			raw[n] = (struct python_raw_frame){
				.code = sample->lang[n].code,
				.instr = sample->lang[n].instr & ~STRAND_LANG_ENTRY,
				.entry = sample->lang[n].instr & STRAND_LANG_ENTRY};
		return n;
	}
	if (sample->tid > 0 && (n = python__thread_frames(*p, sample->tid, raw, max)) < 0)
		n = 0;
	return n;
}

/*
 * A Python thread's stack in the program's words: each call of the evaluation loop is
 * replaced by the Python frames it ran (py-spy's native mode does the same), the C frames
 * around them kept. Frames whose code cannot be read are left out.
 */
static int interleave_python(struct runtimes *s, const struct stack_sample *sample,
			     struct sym_frame **frames, int depth)
{
	struct python_raw_frame raw[STRAND_LANG_FRAMES * 2];
	struct python_frame pf;
	struct python *p;
	struct sym_frame *out;
	int n = 0, next = 0, k = 0, i;

	for (i = 0; i < depth && !is_eval_frame(&(*frames)[i]); i++)
		;
	if (i == depth || (n = python_frames(s, sample, raw, (int)ARRAY_SIZE(raw), &p)) <= 0)
		return depth;
	out = xcalloc((size_t)(depth + n), sizeof(*out));
	for (i = 0; i < depth; i++) {
		if (!is_eval_frame(&(*frames)[i]) || next >= n) {
			out[k++] = (*frames)[i];
			continue;
		}
		do {
			const struct python_raw_frame *r = &raw[next];

			if (!python__frame(p, r->code, r->instr, &pf))
				out[k++] = (struct sym_frame){.pc = r->code,
							      .function = keep(s, pf.name),
							      .file = pf.file[0] ? keep(s, pf.file)
										 : NULL,
							      .line = pf.line,
							      .module = PYTHON};
		} while (!raw[next++].entry && next < n);
	}
	free(*frames);
	*frames = out;
	return k;
}

/*
 * A pc in HotSpot's code cache, named: a compiled method's call as the Java frames it
 * stands for (inlined ones first, each at its line), any other blob by its name ("Interpreter",
 * "StubRoutines (1)"). The frames in inl (SYM_MAX_INLINE at most), or inl[0] as it was.
 */
static int name_compiled(struct runtimes *s, pid_t pid, uint64_t pc, bool is_return,
			 struct sym_frame *inl)
{
	struct jvm_frame jf[SYM_MAX_INLINE];
	struct jvm_code c;
	struct jvm *j = jvm_of(s, pid);
	int n;

	if (!j || jvm__code_at(j, pc - is_return, &c))
		return 1;
	if (!c.compiled || (n = jvm__compiled_frames(j, &c, pc, jf, SYM_MAX_INLINE)) < 1) {
		inl[0].function = keep(s, c.name);
		inl[0].module = JVM_CODE;
		return 1;
	}
	for (int k = 0; k < n; k++)
		inl[k] = (struct sym_frame){.pc = pc,
					    .function = keep(s, jf[k].name),
					    .file = jf[k].file[0] ? keep(s, jf[k].file) : NULL,
					    .line = jf[k].line,
					    .module = COMPILED_JAVA,
					    .inlined = k < n - 1};
	return n;
}

static struct perfmap *perfmap_of(struct runtimes *s, pid_t pid)
{
	struct jit_map *m = hashmap__get(&s->perfmaps, (uint64_t)pid);
	uint64_t now = now_mono_ns();

	if (!m) {
		m = xcalloc(1, sizeof(*m));
		hashmap__set(&s->perfmaps, (uint64_t)pid, m);
	}
	if (!m->map && (!m->looked_ns || now - m->looked_ns >= PERFMAP_LOOK_AGAIN_NS)) {
		m->map = perfmap__open(pid);
		m->looked_ns = now;
	}
	return m->map;
}

/*
 * A pc in code a JIT made, named by the map it writes for perf. V8's names say the
 * function and where it is defined ("JS:~startWorker /srv/app.js:14:21", the marker its
 * tier): the function and its file, not the line (the definition's, not the call's).
 */
static bool name_from_perfmap(struct runtimes *s, pid_t pid, uint64_t pc, bool is_return,
			      struct sym_frame *f)
{
	struct perfmap *m = perfmap_of(s, pid);
	static const char *const V8_JS_TAGS[] = {
		"JS:", "LazyCompile:", "Function:", "Script:", "Eval:"};
	const char *name = m ? perfmap__name(m, pc - is_return) : NULL, *sp, *js = NULL;
	char buf[1024], *colon;

	if (!name)
		return false;
	*f = (struct sym_frame){.pc = pc, .function = keep(s, name), .module = JIT_CODE};
	/* V8's tags of JavaScript code: "JS:" since V8 11 (Node.js 20), before it the kind
	 * of compilation ("LazyCompile:", "Function:", "Script:", "Eval:") */
	for (size_t t = 0; t < ARRAY_SIZE(V8_JS_TAGS) && !js; t++)
		if (!strncmp(name, V8_JS_TAGS[t], strlen(V8_JS_TAGS[t])))
			js = name + strlen(V8_JS_TAGS[t]);
	if (!js)
		return true;
	name = js;
	name += *name && strchr("~*^+-", *name);
	snprintf(buf, sizeof(buf), "%s", name);
	if ((sp = strrchr(buf, ' '))) {
		buf[sp - buf] = '\0';
		/* "path:line:col": the path */
		for (int k = 0; k < 2 && (colon = strrchr(sp + 1, ':')); k++)
			*colon = '\0';
		f->file = sp[1] ? keep(s, sp + 1) : NULL;
	}
	f->function = keep(s, buf[0] ? buf : "(anonymous)");
	f->module = JAVASCRIPT;
	return true;
}

/*
 * A frame of JIT code no one named: said once per process, with how to have it named,
 * where the runtime is one that can write a perf map when asked.
 */
static void advise_perfmap(struct runtimes *s, pid_t pid)
{
	struct jit_map *m;
	char exe[4096];
	const char *base;
	struct jvm *j;

	if (perfmap_of(s, pid) || !(m = hashmap__get(&s->perfmaps, (uint64_t)pid)) || m->advised)
		return;
	m->advised = true;
	procfs__exec_path(pid, exe, sizeof(exe));
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	if ((j = jvm_of(s, pid)) && !jvm__reads_code_cache(j))
		note("pid %d (%s): frames of its compiled Java code are unnamed (its code cache "
		     "could not be read): `jcmd %d Compiler.perfmap` writes the map of its JIT "
		     "(/tmp/perf-%d.map) strand names them by",
		     pid, base, pid, pid);
	else if (!j && !strncmp(base, "node", 4))
		note("pid %d (%s): its JavaScript frames are unnamed: run node with "
		     "--perf-basic-prof (V8 then writes /tmp/perf-%d.map, which strand reads; add "
		     "--interpreted-frames-native-stack for functions not compiled yet)",
		     pid, base, pid);
}

/*
 * A JVM's stack unwound again from its first Java frame: HotSpot's frames as HotSpot walks
 * them (sym/jvm.h), then, back in native code, the unwinder's CFI from there (the thread's
 * start keeps no frame pointer). Kept where it goes at least as deep as frame pointers did.
 */
static void unwind_java(struct runtimes *s, struct jvm *j, const struct stack_sample *sample,
			struct unwound_stack *st)
{
	struct unwound_stack old = *st, *rest = s->rest;
	uint64_t sp = sample->regs[DWARF_RSP], regs[STRAND_NREGS] = {0}, skip;
	struct jvm_native tail;

	if (!jvm__unwind(j, sample, st, &tail)) {
		*st = old;
		return;
	}
	skip = tail.sp - sp;
	regs[DWARF_RIP] = tail.pc;
	regs[DWARF_RSP] = tail.sp;
	regs[DWARF_RBP] = tail.fp;
	if (tail.pc && skip < sample->stack_len &&
	    !unwinder__unwind(
		    s->unwinder,
		    &(struct stack_sample){.pid = sample->pid,
					   .regs = regs,
					   .stack = sample->stack + skip,
					   .stack_len = sample->stack_len - (uint32_t)skip},
		    rest)) {
		int at = tail.at;

		for (int k = 1; k < rest->depth && at + 1 < UNWIND_MAX_FRAMES; k++) {
			st->pc[++at] = rest->pc[k];
			st->slot[at] = rest->slot[k] < 0 ? -1 : rest->slot[k] + (int32_t)skip;
		}
		st->depth = at + 1;
		st->truncated = rest->truncated || at + 1 - tail.at < rest->depth;
	}
	if (st->depth < old.depth)
		*st = old;
}

void runtimes__unwind(struct runtimes *r, const struct stack_sample *sample,
		      struct unwound_stack *st)
{
	struct jvm *j;

	/* a JVM's compiled frames keep no frame pointer: passed by their frames' sizes */
	if (st->depth > 1 && (j = jvm_of(r, sample->pid)))
		unwind_java(r, j, sample, st);
}

int runtimes__name(struct runtimes *r, const struct stack_sample *sample,
		   const struct unwound_stack *st, int i, struct sym_frame *inl, int n)
{
	pid_t pid = sample->pid;

	if (n >= 1 && inl[n - 1].module && strstr(inl[n - 1].module, "/libjvm.so"))
		libjvm_seen(r, pid);
	/* outside every module: JIT or interpreter code, when pid is a JVM */
	if (n == 1 && !inl[0].module && !name_interpreted(r, sample, st, i, &inl[0]))
		n = name_compiled(r, pid, st->pc[i], i > 0, inl);
	if (n == 1 && !inl[0].module && !name_from_perfmap(r, pid, st->pc[i], i > 0, &inl[0]))
		advise_perfmap(r, pid);
	/* V8's interpreter runs every JavaScript function not compiled yet: only the perf map
	 * (of its per-function copies) tells them apart */
	else if (n == 1 && inl[0].function &&
		 !strcmp(inl[0].function, "Builtins_InterpreterEntryTrampoline"))
		advise_perfmap(r, pid);
	return n;
}

int runtimes__python_frames(struct runtimes *r, const struct stack_sample *sample,
			    struct sym_frame **frames, int depth)
{
	return interleave_python(r, sample, frames, depth);
}
