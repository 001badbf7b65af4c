// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/python.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/elfsym.h"
#include "sym/procmaps.h"
#include "sys/procfs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYTHON_CANDIDATES  4	     /* files tried for _PyRuntime: the executable, libpython */
#define PYTHON_INTERPS_MAX 256	     /* subinterpreters searched at most */
#define PYTHON_TSTATES_MAX 4096	     /* thread states searched at most, all interpreters */
#define PYTHON_HOPS_EXTRA  64	     /* frames of no code passed over at most in a chain */
#define PYTHON_LINES_MAX   65536     /* bytes of a location table read at most */
#define PYTHON_CODES_MAX   65536     /* code objects kept before all are forgotten */
#define PYTHON_STR_ABSURD  (1 << 24) /* a name or a file name longer is no string */
#define PYTHON_UNITS_MAX   (1 << 26) /* code units a code object has fewer of */

/* Py_Version's major and minor: 3.11 (PY_VERSION_HEX >> 16) */
#define PYTHON_VERSION_311 0x030B

struct python {
	pid_t pid;
	uint64_t runtime;			      /* &_PyRuntime */
	uint64_t code_type, unicode_type, bytes_type; /* &PyCode_Type, ... */
	struct hashmap codes;			      /* code object's address -> struct py_code */
};

/* What is kept of a code object: all its frames need but their instruction. */
struct py_code {
	/* what it was read through: the same object still, when these are the same */
	uint64_t qualname, filename, linetable;
	char name[PYTHON_NAME_MAX];
	char file[PYTHON_FILE_MAX];
	int firstlineno;
	int64_t units; /* its code units (Py_SIZE) */
	size_t nlines;
	uint8_t lines[]; /* co_linetable's bytes, nlines of them (perhaps cut) */
};

static uint64_t u64_at(const uint8_t *b, size_t at)
{
	uint64_t v;

	memcpy(&v, b + at, sizeof(v));
	return v;
}

struct candidates {
	pid_t pid;
	const char *exe; /* the executable's path as the maps name it, "" when unknown */
	char path[PYTHON_CANDIDATES][PATH_MAX + 32];
	uint64_t start[PYTHON_CANDIDATES];
	int n;
};

/* The executable and libpython3*.so: each file's mapping of offset 0, where its first page
 * is. Any version's library: the version the process says is the one believed. */
static int python_mapping(void *ctx, const struct map_line *ml)
{
	struct candidates *c = ctx;
	const char *base = ml->path ? strrchr(ml->path, '/') : NULL;
	bool exe = ml->path && !strcmp(ml->path, c->exe);

	if (ml->offset || !base || (!exe && strncmp(base, "/libpython3.", 12)))
		return 0;
	/* the executable by its link, which opens it even deleted or in another namespace */
	if (exe)
		snprintf(c->path[c->n], sizeof(c->path[c->n]), "/proc/%d/exe", c->pid);
	else
		snprintf(c->path[c->n], sizeof(c->path[c->n]), "/proc/%d/root%s", c->pid, ml->path);
	c->start[c->n] = ml->start;
	return ++c->n == PYTHON_CANDIDATES;
}

/* The 3.11 runtime in file path loaded at start, when it has one: its variables' addresses
 * in the process. */
static int open_runtime(struct python *p, const char *path, uint64_t start)
{
	static const struct {
		const char *sym;
		size_t at;
	} vars[] = {
		{"_PyRuntime", offsetof(struct python, runtime)},
		{"PyCode_Type", offsetof(struct python, code_type)},
		{"PyUnicode_Type", offsetof(struct python, unicode_type)},
		{"PyBytes_Type", offsetof(struct python, bytes_type)},
	};
	uint64_t load, vaddr, refs, version;
	int err;

	/* _PyRuntime first: every process but Python's lacks it, and is told so at once */
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		if ((err = elfsym__variable_address(path, vars[i].sym, &vaddr)))
			return err;
		*(uint64_t *)((char *)p + vars[i].at) = vaddr;
	}
	if ((err = elfsym__variable_address(path, "Py_Version", &vaddr)) ||
	    (err = elfsym__load_vaddr(path, &load)))
		return err;
	/* a debug build's objects begin with two more pointers (Py_TRACE_REFS): none of the
	 * offsets hold; it counts references in _Py_RefTotal, a release build does not */
	if (!elfsym__variable_address(path, "_Py_RefTotal", &refs))
		return -ENOEXEC;
	p->runtime += start - load;
	p->code_type += start - load;
	p->unicode_type += start - load;
	p->bytes_type += start - load;
	/* the version the process runs, not the one a file name says (a venv's python3) */
	if ((err = procfs__read_u64(p->pid, vaddr + start - load, &version)))
		return err;
	return version >> 16 == PYTHON_VERSION_311 ? 0 : -EPROTONOSUPPORT;
}

struct python *python__open(pid_t pid)
{
	char link[64], exe[PATH_MAX] = "";
	struct candidates *c = xcalloc(1, sizeof(*c));
	struct python *p = xcalloc(1, sizeof(*p));
	ssize_t len;
	int i = 0;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	c->pid = p->pid = pid;
	c->exe = exe;
	if (!procmaps__each_file(pid, python_mapping, c))
		for (i = 0; i < c->n && open_runtime(p, c->path[i], c->start[i]); i++)
			;
	if (i == c->n) {
		free(c);
		free(p);
		return NULL;
	}
	free(c);
	hashmap__init(&p->codes);
	return p;
}

void python__free(struct python *p)
{
	if (!p)
		return;
	hashmap__free_values(&p->codes);
	free(p);
}

uint64_t python__tstate_current_addr(const struct python *p)
{
	return p->runtime + PYTHON_RUNTIME_TSTATE_CURRENT;
}

/* Code point cp as UTF-8 at out[*at], when it fits before out[size - 1]; what no text
 * should hold (controls, lone surrogates, what is past Unicode) as '?'. */
static bool put_utf8(char *out, size_t size, size_t *at, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	if (cp < 0x20 || cp == 0x7f || (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
		cp = '?';
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (*at + n >= size)
		return false;
	memcpy(out + *at, b, n);
	*at += n;
	return true;
}

/* The str at addr as UTF-8 into out, cut at a character when it does not fit: compact
 * strings keep their characters right after their header, 1, 2 or 4 bytes each (ASCII
 * ones after the shorter header); a legacy one points to them. */
static int read_str(struct python *p, uint64_t addr, char *out, size_t size)
{
	uint8_t head[PYTHON_STR_ASCII_DATA], raw[4 * PYTHON_FILE_MAX];
	uint64_t data, chars;
	uint32_t state, kind;
	int64_t length;
	size_t at = 0;
	int err;

	out[0] = '\0';
	if (!addr)
		return -EINVAL;
	if ((err = procfs__read_mem(p->pid, addr, head, sizeof(head))))
		return err;
	memcpy(&length, head + PYTHON_STR_LENGTH, sizeof(length));
	memcpy(&state, head + PYTHON_STR_STATE, sizeof(state));
	kind = state >> PYTHON_STR_KIND_SHIFT & PYTHON_STR_KIND_MASK;
	if (u64_at(head, PYTHON_OBJECT_TYPE) != p->unicode_type || !(state & PYTHON_STR_READY) ||
	    (kind != 1 && kind != 2 && kind != 4) || length < 0 || length > PYTHON_STR_ABSURD ||
	    ((state & PYTHON_STR_ASCII) && (kind != 1 || !(state & PYTHON_STR_COMPACT))))
		return -EINVAL;
	if (!(state & PYTHON_STR_COMPACT))
		err = procfs__read_u64(p->pid, addr + PYTHON_STR_LEGACY_DATA, &data);
	else
		data = addr + ((state & PYTHON_STR_ASCII) ? PYTHON_STR_ASCII_DATA
							  : PYTHON_STR_COMPACT_DATA);
	/* each character is a byte of UTF-8 at least: no more of them fit */
	chars = (uint64_t)length < size - 1 ? (uint64_t)length : size - 1;
	if (err || (chars && (err = procfs__read_mem(p->pid, data, raw, chars * kind))))
		return err;
	for (uint64_t i = 0; i < chars; i++) {
		uint32_t cp = 0;
		uint16_t cp16;

		if (kind == 2) {
			memcpy(&cp16, raw + 2 * i, sizeof(cp16));
			cp = cp16;
		} else if (kind == 4) {
			memcpy(&cp, raw + 4 * i, sizeof(cp));
		} else {
			cp = raw[i];
		}
		if (!put_utf8(out, size, &at, cp))
			break;
	}
	out[at] = '\0';
	return 0;
}

/* Up to PYTHON_LINES_MAX bytes of the location table, a bytes object at addr, into c. */
static int read_lines(struct python *p, uint64_t addr, struct py_code **c)
{
	uint8_t head[PYTHON_BYTES_DATA];
	int64_t n;
	int err;

	if (!addr)
		return -EINVAL;
	if ((err = procfs__read_mem(p->pid, addr, head, sizeof(head))))
		return err;
	memcpy(&n, head + PYTHON_VAROBJECT_SIZE, sizeof(n));
	if (u64_at(head, PYTHON_OBJECT_TYPE) != p->bytes_type || n < 0)
		return -EINVAL;
	(*c)->nlines = n < PYTHON_LINES_MAX ? (size_t)n : PYTHON_LINES_MAX;
	*c = xrealloc(*c, sizeof(**c) + (*c)->nlines);
	return (*c)->nlines ? procfs__read_mem(p->pid, addr + PYTHON_BYTES_DATA, (*c)->lines,
					       (*c)->nlines)
			    : 0;
}

/* The code object at addr read, when it is one. */
static int read_code(struct python *p, uint64_t addr, struct py_code **out)
{
	uint8_t head[PYTHON_CODE_LINETABLE + 8];
	struct py_code *c;
	int32_t first;
	int err;

	if (!addr)
		return -EINVAL;
	if ((err = procfs__read_mem(p->pid, addr, head, sizeof(head))))
		return err;
	if (u64_at(head, PYTHON_OBJECT_TYPE) != p->code_type)
		return -EINVAL;
	c = xcalloc(1, sizeof(*c));
	c->qualname = u64_at(head, PYTHON_CODE_QUALNAME);
	c->filename = u64_at(head, PYTHON_CODE_FILENAME);
	c->linetable = u64_at(head, PYTHON_CODE_LINETABLE);
	memcpy(&c->units, head + PYTHON_VAROBJECT_SIZE, sizeof(c->units));
	memcpy(&first, head + PYTHON_CODE_FIRSTLINENO, sizeof(first));
	c->firstlineno = first;
	if (c->units < 0 || c->units > PYTHON_UNITS_MAX)
		err = -EINVAL;
	if (err ||
	    (err = read_str(p, u64_at(head, PYTHON_CODE_QUALNAME), c->name, sizeof(c->name))) ||
	    (err = read_str(p, u64_at(head, PYTHON_CODE_FILENAME), c->file, sizeof(c->file))) ||
	    (err = read_lines(p, u64_at(head, PYTHON_CODE_LINETABLE), &c))) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

/* Whether the code object at addr is still the one c was read from. */
static bool same_code(struct python *p, uint64_t addr, const struct py_code *c)
{
	uint8_t head[PYTHON_CODE_LINETABLE + 8];

	return !procfs__read_mem(p->pid, addr, head, sizeof(head)) &&
	       u64_at(head, PYTHON_OBJECT_TYPE) == p->code_type &&
	       u64_at(head, PYTHON_CODE_QUALNAME) == c->qualname &&
	       u64_at(head, PYTHON_CODE_FILENAME) == c->filename &&
	       u64_at(head, PYTHON_CODE_LINETABLE) == c->linetable;
}

int python__frame(struct python *p, uint64_t code, uint64_t instr, struct python_frame *out)
{
	struct py_code *c = hashmap__get(&p->codes, code);
	int64_t at;
	int err;

	/* A code object is read whole once; then only its head, to see that the object at its
	 * address is still the one read (one freed and another made there, a lambda's, an
	 * exec's, has names and a line table of its own). The cache is forgotten whole when
	 * it grows past what a program's code could be. */
	if (c && !same_code(p, code, c)) {
		free(hashmap__del(&p->codes, code));
		c = NULL;
	}
	if (!c) {
		if ((err = read_code(p, code, &c)))
			return err;
		if (p->codes.len >= PYTHON_CODES_MAX) {
			hashmap__free_values(&p->codes);
			hashmap__init(&p->codes);
		}
		hashmap__set(&p->codes, code, c);
	}
	memcpy(out->name, c->name, sizeof(out->name));
	memcpy(out->file, c->file, sizeof(out->file));
	out->line = 0;
	/* prev_instr points at the code unit last begun, one before the first when none was
	 * (_PyInterpreterFrame_LASTI); anything else (odd, outside the code) says nothing */
	at = (int64_t)(instr - (code + PYTHON_CODE_CODE));
	if (instr && !(at & 1) && at >= -PYTHON_CODE_UNIT && at < c->units * PYTHON_CODE_UNIT)
		out->line = python__line_of(c->lines, c->nlines, c->firstlineno,
					    (int)(at / PYTHON_CODE_UNIT));
	return 0;
}

/* The thread state of tid: every interpreter's list searched, each state read whole once
 * (one system call); a list that loops back is left when it comes round (Brent's). */
static int find_tstate(struct python *p, pid_t tid, uint64_t *out)
{
	uint8_t ts[PYTHON_TSTATE_NATIVE_THREAD_ID + 8];
	uint64_t interp, at;
	int err, seen = 0;

	if ((err = procfs__read_u64(p->pid, p->runtime + PYTHON_RUNTIME_INTERPRETERS_HEAD,
				    &interp)))
		return err;
	for (int i = 0; interp && i < PYTHON_INTERPS_MAX; i++) {
		uint64_t mark = 0;
		unsigned int power = 1, steps = 0;

		if ((err = procfs__read_u64(p->pid, interp + PYTHON_INTERP_THREADS_HEAD, &at)))
			return err;
		for (; at && seen < PYTHON_TSTATES_MAX; seen++) {
			if ((err = procfs__read_mem(p->pid, at, ts, sizeof(ts))))
				return err;
			if (u64_at(ts, PYTHON_TSTATE_NATIVE_THREAD_ID) == (uint64_t)tid) {
				*out = at;
				return 0;
			}
			at = u64_at(ts, PYTHON_TSTATE_NEXT);
			if (at == mark)
				break;
			if (++steps == power) {
				mark = at;
				power *= 2;
				steps = 0;
			}
		}
		if ((err = procfs__read_u64(p->pid, interp + PYTHON_INTERP_NEXT, &interp)))
			return err;
	}
	return -ESRCH;
}

int python__thread_frames(struct python *p, pid_t tid, struct python_raw_frame *out, int max)
{
	uint8_t f[PYTHON_FRAME_OWNER + 1];
	uint64_t ts, cframe = 0, frame = 0;
	int err, n = 0;

	if ((err = find_tstate(p, tid, &ts)) ||
	    (err = procfs__read_u64(p->pid, ts + PYTHON_TSTATE_CFRAME, &cframe)) ||
	    (cframe &&
	     (err = procfs__read_u64(p->pid, cframe + PYTHON_CFRAME_CURRENT_FRAME, &frame))))
		return err;
	/* the thread runs on while its chain is read: a frame gone under the reader ends it,
	 * what was read before stands */
	for (int hops = 0; frame && n < max && hops < max + PYTHON_HOPS_EXTRA; hops++) {
		uint64_t code;

		if ((err = procfs__read_mem(p->pid, frame, f, sizeof(f))))
			return n ? n : err;
		/* owned by its thread, a generator or a frame object: anything else is no frame */
		if ((uint8_t)f[PYTHON_FRAME_OWNER] > 2)
			break;
		code = u64_at(f, PYTHON_FRAME_CODE);
		if (code)
			out[n++] = (struct python_raw_frame){
				.code = code,
				.instr = u64_at(f, PYTHON_FRAME_PREV_INSTR),
				.entry = f[PYTHON_FRAME_IS_ENTRY] != 0,
			};
		frame = u64_at(f, PYTHON_FRAME_PREVIOUS);
	}
	return n;
}

/* The location table's numbers: six bits a byte, the seventh set when more follow; false
 * past the end, or past what a line could be. */
static bool read_varint(const uint8_t *t, size_t n, size_t *at, uint64_t *v)
{
	uint64_t sum = 0;

	for (int shift = 0; shift <= 30; shift += 6) {
		uint8_t b;

		if (*at >= n)
			return false;
		b = t[(*at)++];
		sum |= (uint64_t)(b & 63) << shift;
		if (!(b & 64)) {
			*v = sum;
			return true;
		}
	}
	return false;
}

/* Location kinds (Objects/locations.md): 0-9 short forms and 10-12 one-line forms whose
 * line is the last one plus (kind - 10) (0 for short forms); 13 no columns and 14 the long
 * form, a signed line delta first; 15 no location. */
#define LOC_ONE_LINE0  10
#define LOC_ONE_LINE2  12
#define LOC_NO_COLUMNS 13
#define LOC_LONG       14
#define LOC_NONE       15

/* PyCode_Addr2Line of a frame's lasti over the table: entries of 1-8 code units each,
 * every entry's first byte has bit 7 set (what follows it does not) and its kind in bits
 * 3-6, its units less one in bits 0-2. */
int python__line_of(const uint8_t *t, size_t n, int firstlineno, int instr_index)
{
	/* 64 bits: deltas from memory strand does not trust may add up past an int */
	int64_t line = firstlineno, start = 0;
	size_t at = 0;

	if (instr_index < 0)
		return firstlineno > 0 ? firstlineno : 0;
	while (at < n && (t[at] & 0x80)) {
		uint8_t b = t[at++];
		int kind = b >> 3 & 15, units = (b & 7) + 1;

		if (kind == LOC_NO_COLUMNS || kind == LOC_LONG) {
			uint64_t u;

			if (!read_varint(t, n, &at, &u))
				return 0;
			line += u & 1 ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
		} else if (kind >= LOC_ONE_LINE0 && kind <= LOC_ONE_LINE2) {
			line += kind - LOC_ONE_LINE0;
		}
		/* the end line and columns, not wanted */
		while (at < n && !(t[at] & 0x80))
			at++;
		if (instr_index < start + units)
			return kind == LOC_NONE || line <= 0 || line > INT_MAX ? 0 : (int)line;
		start += units;
		/* lines of a file fit an int; a table that says more is no table */
		if (line < INT_MIN || line > INT_MAX)
			return 0;
	}
	return 0;
}
