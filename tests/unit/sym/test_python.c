// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CPython 3.11 read from outside (sym/python.c): location tables made by hand, cut short and
 * garbled; every table of a few standard modules against CPython's own reading of it
 * (co_positions); Debian's python3.11 running a known call chain in two threads, its frames
 * named as Python names them; the offsets against CPython's headers (python_layout.c).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python_layout.h"
#include "sym/python.h"
#include "sys/procfs.h"
#include "unit.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"
/* pyenv's builds, when this machine has them: 3.11 as a libpython3.11.so, and a 3.12 */
#define PYENV_PYTHON311 "/root/.pyenv/versions/3.11.7/bin/python3.11"
#define PYENV_PYTHON312 "/root/.pyenv/versions/3.12.1/bin/python3.12"

/* --- tables by hand ------------------------------------------------------------------- */

static size_t put_varint(uint8_t *t, unsigned int v)
{
	size_t n = 0;

	for (; v >= 64; v >>= 6)
		t[n++] = (uint8_t)(64 | (v & 63));
	t[n++] = (uint8_t)v;
	return n;
}

static size_t put_svarint(uint8_t *t, int v)
{
	return put_varint(t, v < 0 ? (unsigned int)-v << 1 | 1 : (unsigned int)v << 1);
}

static uint8_t entry(int kind, int units)
{
	return (uint8_t)(0x80 | kind << 3 | (units - 1));
}

/* Every form, from line 10: the line each code unit is at (0: none), and where each entry
 * begins. */
#define NENTRIES 9
static uint8_t table[64];
static size_t table_len, entry_at[NENTRIES];
static const int entry_units[NENTRIES] = {2, 1, 3, 1, 8, 2, 1, 4, 1};
static const int expect[] = {
	10,  10,	    /* short form (kind 0), 2 units, a column byte */
	11,		    /* one-line form, +1 */
	13,  13,  13,	    /* one-line form, +2, 3 units */
	10,		    /* no columns, -3 */
	310, 310, 310, 310, /* long form, +300 (a two-byte number), 8 units */
	310, 310, 310, 310, /* ... */
	0,   0,		    /* no location: the line stays where it was */
	310,		    /* one-line form, +0 */
	310, 310, 310, 310, /* short form (kind 9), 4 units */
	9,		    /* no columns, -301 (a two-byte negative number) */
};

static void make_table(void)
{
	size_t n = 0, e = 0;

	entry_at[e++] = n;
	table[n++] = entry(0, 2);
	table[n++] = 5; /* column */
	entry_at[e++] = n;
	table[n++] = entry(11, 1);
	table[n++] = 4; /* column */
	table[n++] = 9; /* end column */
	entry_at[e++] = n;
	table[n++] = entry(12, 3);
	table[n++] = 0;
	table[n++] = 1;
	entry_at[e++] = n;
	table[n++] = entry(13, 1);
	n += put_svarint(table + n, -3);
	entry_at[e++] = n;
	table[n++] = entry(14, 8);
	n += put_svarint(table + n, 300);
	n += put_varint(table + n, 2);	/* end line delta */
	n += put_varint(table + n, 6);	/* column + 1 */
	n += put_varint(table + n, 90); /* end column + 1: two bytes */
	entry_at[e++] = n;
	table[n++] = entry(15, 2);
	entry_at[e++] = n;
	table[n++] = entry(10, 1);
	table[n++] = 1;
	table[n++] = 2;
	entry_at[e++] = n;
	table[n++] = entry(9, 4);
	table[n++] = 3;
	entry_at[e++] = n;
	table[n++] = entry(13, 1);
	n += put_svarint(table + n, -301);
	table_len = n;
}

/* a copy of exactly n bytes, so that ASan sees a read past them */
static int line_in_copy(const uint8_t *t, size_t n, int first, int index)
{
	uint8_t *copy = malloc(n ? n : 1);
	int line;

	memcpy(copy, t, n);
	line = python__line_of(copy, n, first, index);
	free(copy);
	return line;
}

static void test_line_table(void)
{
	int units = (int)(sizeof(expect) / sizeof(expect[0]));

	make_table();
	for (int i = 0; i < units; i++)
		if (!ASSERT_EQ(line_in_copy(table, table_len, 10, i), expect[i]))
			fprintf(stderr, "  at code unit %d\n", i);
	ASSERT_EQ(line_in_copy(table, table_len, 10, -1), 10); /* not started: its first line */
	ASSERT_EQ(line_in_copy(table, table_len, 10, units), 0);
	ASSERT_EQ(line_in_copy(table, table_len, 10, 1 << 30), 0);
	ASSERT_EQ(line_in_copy(table, table_len, 0, -1), 0);
	ASSERT_EQ(line_in_copy(table, 0, 10, 0), 0);
	ASSERT_EQ(line_in_copy(table, 0, 10, -1), 10);

	/* cut anywhere: a unit whose entry was read whole keeps its line, one whose entry was
	 * not begun has none, one of an entry cut may have either */
	for (size_t n = 0; n <= table_len; n++) {
		for (int i = 0, e = 0, end = entry_units[0]; i < units; i++) {
			int line = line_in_copy(table, n, 10, i);
			size_t next = e + 1 < NENTRIES ? entry_at[e + 1] : table_len;

			if (next <= n)
				ASSERT_EQ(line, expect[i]);
			else if (entry_at[e] >= n)
				ASSERT_EQ(line, 0);
			else
				ASSERT_TRUE(line == 0 || line == expect[i]);
			if (i + 1 == end && ++e < NENTRIES)
				end += entry_units[e];
		}
	}
	/* the long form cut after its line, before its columns: the line is known */
	ASSERT_EQ(line_in_copy(table, entry_at[4] + 3, 10, 7), 310);
	/* ... and in the middle of its line's number: it is not */
	ASSERT_EQ(line_in_copy(table, entry_at[4] + 2, 10, 7), 0);
	ASSERT_EQ(line_in_copy(table, entry_at[4] + 2, 10, 6), 10);
	/* the last entry's negative number cut: none */
	ASSERT_EQ(line_in_copy(table, table_len - 1, 10, units - 1), 0);
	ASSERT_EQ(line_in_copy(table, table_len - 1, 10, units - 2), 310);
}

static void test_line_table_garbage(void)
{
	uint8_t t[64];
	size_t n;

	/* a first byte that begins no entry */
	t[0] = 0x05;
	ASSERT_EQ(line_in_copy(t, 1, 10, 0), 0);
	/* a number that never ends */
	t[0] = entry(13, 1);
	memset(t + 1, 0x7f, 20);
	ASSERT_EQ(line_in_copy(t, 21, 10, 0), 0);
	/* lines below 1 or past an int */
	n = 0;
	t[n++] = entry(13, 1);
	n += put_svarint(t + n, -20);
	ASSERT_EQ(line_in_copy(t, n, 10, 0), 0);
	n = 0;
	for (int i = 0; i < 4; i++) {
		t[n++] = entry(13, 1);
		n += put_svarint(t + n, 1 << 29);
	}
	ASSERT_EQ(line_in_copy(t, n, 10, 3), 0);
	ASSERT_EQ(line_in_copy(t, n, 10, 0), (1 << 29) + 10);
	ASSERT_EQ(line_in_copy(t, n, INT32_MAX, 0), 0);
	/* bytes of every value: never a negative line, nothing read past the end (ASan) */
	srand(42);
	for (int round = 0; round < 20000; round++) {
		n = (size_t)(rand() % 48);
		for (size_t i = 0; i < n; i++)
			t[i] = (uint8_t)rand();
		ASSERT_TRUE(line_in_copy(t, n, rand() % 1000 - 100, rand() % 80 - 2) >= 0);
	}
}

/* --- a real python3.11 ----------------------------------------------------------------- */

struct child {
	pid_t pid;
	int out;	 /* its standard output */
	char *buf;	 /* what was read of it and not taken yet */
	char *line;	 /* the last line taken */
	size_t len, cap; /* bytes in buf, its size */
};

/* path run with argv[1..]; its standard output read through a pipe. */
static bool start(struct child *c, const char *path, char *const argv[])
{
	int fds[2];

	*c = (struct child){.pid = -1, .out = -1};
	if (access(path, X_OK) || pipe(fds))
		return false;
	c->pid = fork();
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(path, argv);
		_exit(127);
	}
	close(fds[1]);
	c->out = fds[0];
	return c->pid > 0;
}

/* The next line of the child's output (its newline cut, valid until the next call), waited
 * for at most 20 s: a guard, not a wait for the child to get somewhere (it writes when it is
 * where the test reads it). NULL at its end. */
static char *read_line(struct child *c)
{
	char *nl;
	ssize_t n;

	while (!c->buf || !(nl = memchr(c->buf, '\n', c->len))) {
		struct pollfd pfd = {.fd = c->out, .events = POLLIN};

		if (c->len + 4096 > c->cap) {
			c->cap = c->cap ? 2 * c->cap : 65536;
			c->buf = realloc(c->buf, c->cap);
		}
		if (c->out < 0 || poll(&pfd, 1, 20000) <= 0 ||
		    (n = read(c->out, c->buf + c->len, c->cap - c->len - 1)) <= 0)
			return NULL;
		c->len += (size_t)n;
	}
	*nl = '\0';
	/* the line is moved out of the way of what follows: the caller's until the next call */
	free(c->line);
	c->line = strdup(c->buf);
	c->len -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->len);
	return c->line;
}

static void stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->out >= 0)
		close(c->out);
	free(c->buf);
	free(c->line);
	*c = (struct child){.pid = -1, .out = -1};
}

/*
 * Three threads stopped on line 4 in C (print, then a lock no one releases: no Python frame
 * is pushed on that line, so once a thread has printed, its chain is what the test reads,
 * whenever it reads it). Thread.run calls its target through CALL_FUNCTION_EX, a C-level
 * call: the target begins an evaluation of its own (is_entry), as <module> does. The third
 * thread's chain runs through code compiled from a file of a name in UCS-4 with a control
 * character, in functions named in Latin-1 and UCS-2, and two named past PYTHON_NAME_MAX
 * bytes (one in ASCII, one in two-byte UTF-8).
 */
static const char script[] =
	"import threading\n"			    /* 1 */
	"lock = threading.Lock(); lock.acquire()\n" /* 2 */
	"def inner(tag):\n"			    /* 3 */
	"    print(tag, threading.get_native_id(), flush=True); lock.acquire()\n"
	"def outer(tag):\n" /* 5 */
	"    inner(tag)\n"  /* 6 */
	"A, E = 'a' * 300, '\\u00e9' * 200\n"
	"src = f\"def {A}():\\n    inner('uni')\\ndef {E}():\\n    {A}()\\n"
	"def gr\\u00f6\\u00dfe():\\n    {E}()\\ndef \\u95a2\\u6570():\\n    "
	"gr\\u00f6\\u00dfe()\\n\"\n"
	"exec(compile(src, 'd\\u00efr/\\u540d\\u524d/\\U0001f600\\x01.py', 'exec'))\n"
	"threading.Thread(target=outer, args=('worker',)).start()\n"
	"threading.Thread(target=globals()['\\u95a2\\u6570']).start()\n"
	"outer('main')\n"; /* 12 */

/* that file's name in UTF-8, the control character a '?' */
#define UNI_FILE "d\xc3\xafr/\xe5\x90\x8d\xe5\x89\x8d/\xf0\x9f\x98\x80?.py"

struct want {
	const char *name, *file; /* file: a suffix */
	int line;		 /* 0: any but 0 */
	bool entry;
};

static const struct want main_chain[] = {
	{"inner", "<string>", 4, false},
	{"outer", "<string>", 6, false},
	{"<module>", "<string>", 12, true},
};

static const struct want worker_chain[] = {
	{"inner", "<string>", 4, false},
	{"outer", "<string>", 6, true},
	{"Thread.run", "/threading.py", 0, false},
	{"Thread._bootstrap_inner", "/threading.py", 0, false},
	{"Thread._bootstrap", "/threading.py", 0, true},
};

/* 300 a's cut to what fits, 200 e-acutes (2 bytes each) cut at a character's end */
static char long_ascii[PYTHON_NAME_MAX], long_latin1[PYTHON_NAME_MAX];

static const struct want uni_chain[] = {
	{"inner", "<string>", 4, false},
	{long_ascii, UNI_FILE, 2, false},
	{long_latin1, UNI_FILE, 4, false},
	{"gr\xc3\xb6\xc3\x9f"
	 "e",
	 UNI_FILE, 6, false},
	{"\xe9\x96\xa2\xe6\x95\xb0", UNI_FILE, 8, true},
	{"Thread.run", "/threading.py", 0, false},
	{"Thread._bootstrap_inner", "/threading.py", 0, false},
	{"Thread._bootstrap", "/threading.py", 0, true},
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void check_chain(struct python *p, const char *tag, pid_t tid, const struct want *want,
			int nwant)
{
	struct python_raw_frame raw[64];
	struct python_frame f;
	int n = python__thread_frames(p, tid, raw, 64);

	printf("%s thread %d: %d frames\n", tag, tid, n);
	if (!ASSERT_EQ(n, nwant))
		return;
	for (int i = 0; i < n; i++) {
		int err = python__frame(p, raw[i].code, raw[i].instr, &f);

		printf("  #%d %s (%s:%d)%s  code 0x%llx instr 0x%llx\n", i, err ? "?" : f.name,
		       err ? "?" : f.file, err ? 0 : f.line, raw[i].entry ? " entry" : "",
		       (unsigned long long)raw[i].code, (unsigned long long)raw[i].instr);
		if (!ASSERT_EQ(err, 0))
			continue;
		ASSERT_STREQ(f.name, want[i].name);
		ASSERT_TRUE(ends_with(f.file, want[i].file));
		if (want[i].line)
			ASSERT_EQ(f.line, want[i].line);
		else
			ASSERT_TRUE(f.line > 0);
		ASSERT_EQ(raw[i].entry, want[i].entry);
	}
	/* at most max, innermost first */
	ASSERT_EQ(python__thread_frames(p, tid, raw, 2), 2);
	ASSERT_EQ(python__frame(p, raw[1].code, raw[1].instr, &f), 0);
	ASSERT_STREQ(f.name, want[1].name);
	ASSERT_EQ(python__thread_frames(p, tid, raw, 0), 0);
}

static void test_process(const char *path)
{
	char *argv[] = {(char *)path, "-I", "-c", (char *)script, NULL};
	pid_t main_tid = 0, worker_tid = 0, uni_tid = 0;
	struct python_raw_frame raw[1];
	struct python_frame f;
	struct python *p = NULL;
	uint64_t word, qualname;
	struct child c;
	char *line;

	memset(long_ascii, 'a', sizeof(long_ascii) - 1);
	for (size_t i = 0; i + 2 < sizeof(long_latin1); i += 2)
		memcpy(long_latin1 + i, "\xc3\xa9", 2);
	printf("%s\n", path);
	if (!ASSERT_TRUE(start(&c, path, argv)))
		goto out;
	for (int i = 0; i < 3; i++) {
		char tag[16];
		int tid;

		if (!ASSERT_TRUE((line = read_line(&c)) != NULL) ||
		    !ASSERT_EQ(sscanf(line, "%15s %d", tag, &tid), 2))
			goto out;
		if (!strcmp(tag, "main"))
			main_tid = tid;
		else if (!strcmp(tag, "uni"))
			uni_tid = tid;
		else
			worker_tid = tid;
	}
	if (!ASSERT_TRUE(main_tid == c.pid && worker_tid > 0 && uni_tid > 0))
		goto out;
	p = python__open(c.pid);
	if (!ASSERT_TRUE(p != NULL))
		goto out;
	check_chain(p, "main", main_tid, main_chain, 3);
	check_chain(p, "worker", worker_tid, worker_chain, 5);
	check_chain(p, "uni", uni_tid, uni_chain, 8);
	ASSERT_EQ(strlen(long_ascii), PYTHON_NAME_MAX - 1);
	ASSERT_EQ(strlen(long_latin1), PYTHON_NAME_MAX - 2);
	/* a thread of no interpreter's */
	ASSERT_EQ(python__thread_frames(p, getpid(), (struct python_raw_frame[1]){}, 1), -ESRCH);
	/* the GIL's holder: a word that can be read (0 while both wait) */
	ASSERT_EQ(procfs__read_mem(c.pid, python__tstate_current_addr(p), &word, sizeof(word)), 0);
	/* what is not a code object: _PyRuntime itself, a string, nothing */
	ASSERT_EQ(python__frame(p, python__tstate_current_addr(p) - PYTHON_RUNTIME_TSTATE_CURRENT,
				0, &f),
		  -EINVAL);
	if (ASSERT_EQ(python__thread_frames(p, main_tid, raw, 1), 1) &&
	    ASSERT_EQ(procfs__read_mem(c.pid, raw[0].code + PYTHON_CODE_QUALNAME, &qualname,
				       sizeof(qualname)),
		      0))
		ASSERT_EQ(python__frame(p, qualname, 0, &f), -EINVAL);
	ASSERT_EQ(python__frame(p, 0, 0, &f), -EINVAL);
	ASSERT_TRUE(python__frame(p, 16, 0, &f) < 0);
out:
	python__free(p);
	stop(&c);
}

/* Not 3.11, or no Python at all: nothing is opened. */
static void test_not_python(void)
{
	char *argv[] = {PYENV_PYTHON312, "-I", "-c",
			"import threading; print('up', flush=True); threading.Event().wait()",
			NULL};
	struct child c;

	ASSERT_TRUE(python__open(getpid()) == NULL);
	ASSERT_TRUE(python__open(0x7ffffff0) == NULL);
	if (start(&c, PYENV_PYTHON312, argv)) {
		if (ASSERT_TRUE(read_line(&c) != NULL))
			ASSERT_TRUE(python__open(c.pid) == NULL);
	} else {
		printf("no %s: 3.12 refused not tested\n", PYENV_PYTHON312);
	}
	stop(&c);
}

/*
 * Every code object of a few standard modules, compiled by python3.11 itself, and the line
 * CPython gives each of its code units (co_positions, as a traceback reads it), against
 * python__line_of over the same table. A line each: first line, the table in hex, the lines.
 */
static const char positions_script[] =
	"import sys, types\n"
	"def walk(co):\n"
	"    yield co\n"
	"    for k in co.co_consts:\n"
	"        if isinstance(k, types.CodeType): yield from walk(k)\n"
	"for m in ('threading', 'typing', 'http.server', 'asyncio.base_events', 'json.decoder'):\n"
	"    path = __import__('importlib.util').util.find_spec(m).origin\n"
	"    for co in walk(compile(open(path).read(), path, 'exec')):\n"
	"        lines = ','.join(str(p[0] or 0) for p in co.co_positions())\n"
	"        print(co.co_firstlineno, co.co_linetable.hex() or '-', lines or '-')\n";

static void test_tables_against_cpython(void)
{
	char *argv[] = {DEBIAN_PYTHON, "-I", "-c", (char *)positions_script, NULL};
	size_t codes = 0, units = 0, wrong = 0;
	struct child c;
	char *line;

	if (!ASSERT_TRUE(start(&c, DEBIAN_PYTHON, argv)))
		goto out;
	while ((line = read_line(&c))) {
		char *hex = strchr(line, ' '), *lines = hex ? strchr(hex + 1, ' ') : NULL, *at;
		int first = atoi(line), index = 0;
		uint8_t *t = malloc(strlen(line) / 2 + 1);
		size_t n = 0;

		if (!ASSERT_TRUE(lines != NULL)) {
			free(t);
			break;
		}
		for (at = hex + 1; at[0] != ' ' && at[0] != '-'; at += 2)
			sscanf(at, "%2hhx", &t[n++]);
		for (at = lines + 1; *at && *at != '-' && *at != '\n'; index++) {
			int want = (int)strtol(at, &at, 10),
			    got = python__line_of(t, n, first, index);

			if (got != want && wrong++ < 10)
				fprintf(stderr,
					"line %d, not %d, at unit %d of a code object at %d\n", got,
					want, index, first);
			units++;
			at += *at == ',';
		}
		free(t);
		codes++;
	}
	printf("%zu code objects, %zu code units, %zu lines not CPython's\n", codes, units, wrong);
	ASSERT_TRUE(codes > 500);
	ASSERT_EQ(wrong, 0);
out:
	stop(&c);
}

/* --- the offsets against CPython's headers -------------------------------------------- */

static void test_layout(void)
{
	struct python_layout_check checks[64];
	int n = python_layout_checks(checks, 64);

	if (!UNIT_CHECK(n > 0, "CPython 3.11's headers were not found when this test was built "
			       "(/usr/include/python3.11/internal): apt-get install "
			       "libpython3.11-dev (scripts/deps.sh), then build again"))
		return;
	for (int i = 0; i < n; i++)
		UNIT_CHECK(checks[i].ours == checks[i].theirs,
			   "%s is %lld, CPython's headers say %lld", checks[i].what, checks[i].ours,
			   checks[i].theirs);
	printf("%d offsets as CPython's headers say\n", n);
}

int main(void)
{
	test_line_table();
	test_line_table_garbage();
	test_layout();
	test_tables_against_cpython();
	test_process(DEBIAN_PYTHON);
	if (!access(PYENV_PYTHON311, X_OK))
		test_process(PYENV_PYTHON311);
	else
		printf("no %s: libpython3.11.so not tested\n", PYENV_PYTHON311);
	test_not_python();
	return unit_summary();
}
