// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "report/report.h"
#include "lib/json_writer.h"
#include "lib/util.h"

#include <stdlib.h>

#include <inttypes.h>
#include <string.h>

static const char *basename_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

/* The C library's own frames between the spawn call and the kernel (clone3, create_thread,
 * pthread_create, fork): they are the same for every spawn and say nothing about who. */
static bool is_runtime_frame(const struct sym_frame *f)
{
	const char *mod = basename_of(f->module);

	if (!mod)
		return false;
	return strncmp(mod, "libc.so", 7) == 0 || strncmp(mod, "libc-", 5) == 0 ||
	       strncmp(mod, "libpthread", 10) == 0 || strncmp(mod, "ld-linux", 8) == 0;
}

/* A Java frame, interpreted or compiled (sym/stacks.c names them so). */
static bool is_java_frame(const struct sym_frame *f)
{
	return f->module &&
	       (!strcmp(f->module, "interpreted Java") || !strcmp(f->module, "compiled Java"));
}

/* HotSpot's own code, and the JDK's classes a Java thread is started through (Thread.start,
 * the executors, the HTTP server's dispatch): the same for every thread of every program. */
static bool is_jvm_frame(const struct sym_frame *f)
{
	static const char *const jdk[] = {"java.", "javax.", "jdk.", "sun.", "com.sun."};
	const char *mod = basename_of(f->module);

	if (mod && (!strncmp(mod, "libjvm.so", 9) || !strcmp(mod, "JVM code")))
		return true;
	for (size_t i = 0; is_java_frame(f) && f->function && i < ARRAY_SIZE(jdk); i++)
		if (!strncmp(f->function, jdk[i], strlen(jdk[i])))
			return true;
	return false;
}

/* A frame of the program's Python (sym/stacks.c names them so). */
static bool is_python_frame(const struct sym_frame *f)
{
	return f->module && !strcmp(f->module, "Python");
}

/* CPython's own code, and the standard library's Python a thread is started through
 * (threading.Thread.start, concurrent.futures, socketserver): the same for every program.
 * Packages installed beside the standard library are the program's. */
static bool is_python_runtime_frame(const struct sym_frame *f)
{
	const char *mod = basename_of(f->module);

	if (mod && (!strncmp(mod, "python3", 7) || !strncmp(mod, "libpython3", 10)))
		return true;
	return is_python_frame(f) && f->file && strstr(f->file, "/lib/python3") &&
	       !strstr(f->file, "-packages/");
}

/* A JavaScript frame V8 made, named by its perf map (sym/stacks.c names them so). */
static bool is_js_frame(const struct sym_frame *f)
{
	return f->module && !strcmp(f->module, "JavaScript");
}

/* Node.js's own code (the binary, V8's builtins) and its built-in modules' JavaScript
 * ("node:internal/worker"): the same for every program. */
static bool is_node_frame(const struct sym_frame *f)
{
	const char *mod = basename_of(f->module);

	if (mod &&
	    (!strcmp(mod, "node") || !strncmp(mod, "libnode.so", 10) || !strcmp(mod, "JIT code")))
		return true;
	return is_js_frame(f) && f->file && !strncmp(f->file, "node:", 5);
}

int frames__program_frame(const struct sym_frame *st, int depth)
{
	int i = 0, j;

	while (i < depth && is_runtime_frame(&st[i]))
		i++;
	/* Java: the program's first frame past the JVM's and the JDK's */
	for (j = i; j < depth && is_jvm_frame(&st[j]); j++)
		;
	if (j > i && j < depth && is_java_frame(&st[j]))
		return j;
	/* Python: the program's first frame past the interpreter's and the standard library's */
	for (j = i; j < depth && is_python_runtime_frame(&st[j]); j++)
		;
	if (j > i && j < depth && is_python_frame(&st[j]))
		return j;
	/* Node.js: the program's first JavaScript frame past node's */
	for (j = i; j < depth && is_node_frame(&st[j]); j++)
		;
	if (j > i && j < depth && is_js_frame(&st[j]))
		return j;
	return -1;
}

int site__spawn_frame(const struct site *s)
{
	int i = 0, own = frames__program_frame(s->stack, s->depth);

	if (own >= 0)
		return own;
	while (i < s->depth && is_runtime_frame(&s->stack[i]))
		i++;
	return i < s->depth ? i : 0;
}

void frame__format(const struct sym_frame *f, char *buf, size_t size)
{
	const char *fn = f->function ? f->function : NULL;

	if (fn && f->file && f->line)
		snprintf(buf, size, "%s (%s:%d)%s", fn, basename_of(f->file), f->line,
			 f->inlined ? " [inlined]" : "");
	else if (fn)
		snprintf(buf, size, "%s [%s]", fn, f->module ? basename_of(f->module) : "?");
	else
		snprintf(buf, size, "0x%" PRIx64 " [%s]", f->pc,
			 f->module ? basename_of(f->module) : "?");
}

void frame__json(struct json *j, const char *key, const struct sym_frame *fr)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)fr->pc);
	json__begin_object(j, key);
	json__string(j, "function", fr->function);
	json__string(j, "file", fr->file);
	json__int(j, "line", fr->line);
	json__string(j, "module", fr->module);
	json__string(j, "address", addr);
	json__bool(j, "inlined", fr->inlined);
	json__end_object(j);
}

void timeline__json(struct json *j, const char *key, const struct timeline *t)
{
	json__begin_object(j, key);
	json__double(j, "seconds", (double)(t->last_ns - t->first_ns) / 1e9);
	json__uint(j, "scans_per_sample", t->per);
	json__begin_array(j, "samples");
	for (uint32_t k = 0; k < t->n; k++)
		json__uint(j, NULL, t->v[k]);
	json__end_array(j);
	json__end_object(j);
}

void runaway__json(struct json *j, const struct runaway_verdict *v)
{
	json__bool(j, "runaway", v->runaway);
	json__begin_array(j, "runaway_evidence");
	for (int k = 0; k < v->n; k++)
		json__string(j, NULL, v->evidence[k]);
	json__end_array(j);
}

void stack__json(struct json *j, const char *key, const struct sym_frame *frames, int n)
{
	json__begin_array(j, key);
	for (int i = 0; i < n; i++)
		frame__json(j, NULL, &frames[i]);
	json__end_array(j);
}
