// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbolizes addresses of this test binary (DWARF, inlined frames), of libc (symbol tables)
 * and of running Go programs (.gopclntab, inlined calls expanded, PIE and stripped), and
 * feeds /proc/PID/maps lines, good and garbage, to the parser.
 */
#include "gotrace.h"
#include "sym/demangle.h"
#include "sym/procmaps.h"
#include "sym/symbolize.h"
#include "unit.h"

#include <dlfcn.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define noinline __attribute__((noinline, noclone))

static uint64_t recorded_ra;
static int call_line, inline_call_line, inlined_body_line, known_fn_line;

static noinline void record_ra(void)
{
	recorded_ra = (uint64_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

static noinline int known_fn(int x)
{
	known_fn_line = __LINE__;
	record_ra();
	call_line = __LINE__ - 1;
	return x + 1;
}

static inline __attribute__((always_inline)) void inlined_helper(void)
{
	inlined_body_line = __LINE__, record_ra();
	__asm__ volatile("" ::: "memory");
}

static noinline void calls_inlined(void)
{
	inline_call_line = __LINE__, inlined_helper();
	__asm__ volatile("" ::: "memory");
}

static void test_own_binary(struct symbolizer *sym)
{
	struct sym_frame f[SYM_MAX_INLINE];
	int n;

	known_fn(1);
	n = symbolizer__resolve(sym, getpid(), recorded_ra, true, f, SYM_MAX_INLINE);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(f[0].function, "known_fn");
	ASSERT_EQ(f[0].line, call_line);
	ASSERT_TRUE(f[0].file && strstr(f[0].file, "tests/unit/sym/test_symbolize.c"));
	ASSERT_TRUE(f[0].module && strstr(f[0].module, "test_symbolize"));
	ASSERT_TRUE(!f[0].inlined);
	ASSERT_EQ(f[0].pc, recorded_ra);

	/* The entry point is on the lines of the function's head. */
	n = symbolizer__resolve(sym, getpid(), (uint64_t)&known_fn, false, f, SYM_MAX_INLINE);
	ASSERT_STREQ(f[n - 1].function, "known_fn");
	ASSERT_TRUE(f[n - 1].line >= known_fn_line - 3 && f[n - 1].line <= known_fn_line);
}

static void test_inlined(struct symbolizer *sym)
{
	struct sym_frame f[SYM_MAX_INLINE];
	int n;

	calls_inlined();
	n = symbolizer__resolve(sym, getpid(), recorded_ra, true, f, SYM_MAX_INLINE);
	if (!ASSERT_EQ(n, 2))
		return;
	ASSERT_STREQ(f[0].function, "inlined_helper");
	ASSERT_EQ(f[0].line, inlined_body_line);
	ASSERT_TRUE(f[0].inlined);
	ASSERT_STREQ(f[1].function, "calls_inlined");
	ASSERT_EQ(f[1].line, inline_call_line);
	ASSERT_TRUE(f[1].file && strstr(f[1].file, "test_symbolize.c"));
	ASSERT_TRUE(!f[1].inlined);

	/* No room for the inlined frame: the real function is the one kept. */
	n = symbolizer__resolve(sym, getpid(), recorded_ra, true, f, 1);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(f[0].function, "calls_inlined");
}

static void test_libc(struct symbolizer *sym)
{
	/* Not printf: ASan interposes it. Through a volatile pointer so it is libc's copy. */
	pid_t (*volatile fn)(void) = getpid;
	struct sym_frame f[SYM_MAX_INLINE];
	int n = symbolizer__resolve(sym, getpid(), (uint64_t)fn, false, f, SYM_MAX_INLINE);

	ASSERT_TRUE(n >= 1);
	ASSERT_TRUE(f[n - 1].function && strstr(f[n - 1].function, "getpid"));
	ASSERT_TRUE(f[n - 1].module && strstr(f[n - 1].module, "/libc.so"));
	ASSERT_TRUE(f[n - 1].rel_pc < f[n - 1].pc);
}

/* C++ names as people read them, by the C++ runtime's demangler: a function of libstdc++
 * (its symbol table), and names that are not C++ or not valid left as they are. */
static void test_cxx_names(struct symbolizer *sym)
{
	void *fn = dlsym(RTLD_DEFAULT, "_ZSt9terminatev");
	struct sym_frame f[SYM_MAX_INLINE];
	char *plain;
	int n;

	ASSERT_TRUE(fn != NULL);
	n = symbolizer__resolve(sym, getpid(), (uint64_t)(uintptr_t)fn, false, f, SYM_MAX_INLINE);
	ASSERT_TRUE(n >= 1);
	UNIT_CHECK(f[n - 1].function && !strcmp(f[n - 1].function, "std::terminate()"),
		   "libstdc++'s _ZSt9terminatev named '%s'", f[n - 1].function);
	plain = demangle("_ZN2os13create_threadEP6ThreadNS_10ThreadTypeEm");
	UNIT_CHECK(plain && !strcmp(plain,
				    "os::create_thread(Thread*, os::ThreadType, unsigned long)"),
		   "libjvm's os::create_thread demangled as '%s'", plain);
	free(plain);
	ASSERT_TRUE(demangle("pthread_create") == NULL);
	ASSERT_TRUE(demangle("_Zen") == NULL); /* a C name that looks mangled */
	ASSERT_TRUE(demangle("_ZN3foo") == NULL);
	ASSERT_TRUE(demangle(NULL) == NULL);
}

static void test_unknown_and_stats(struct symbolizer *sym)
{
	struct symbolizer_stats before, after;
	struct sym_frame f[SYM_MAX_INLINE];
	int n;

	symbolizer__stats(sym, &before);
	n = symbolizer__resolve(sym, getpid(), 0x10, false, f, SYM_MAX_INLINE);
	ASSERT_EQ(n, 1);
	ASSERT_TRUE(!f[0].function && !f[0].module && !f[0].file);
	n = symbolizer__resolve(sym, 0x7ffffff0, 0x401000, true, f, SYM_MAX_INLINE);
	ASSERT_EQ(n, 1);
	ASSERT_TRUE(!f[0].function);
	ASSERT_EQ(symbolizer__resolve(sym, getpid(), 0x10, false, f, 0), 0);

	known_fn(2);
	symbolizer__resolve(sym, getpid(), recorded_ra, true, f, SYM_MAX_INLINE);
	symbolizer__resolve(sym, getpid(), recorded_ra, true, f, SYM_MAX_INLINE);
	symbolizer__stats(sym, &after);
	ASSERT_EQ(after.lookups - before.lookups, 4);
	ASSERT_EQ(after.unknown - before.unknown, 2);
	ASSERT_TRUE(after.cache_hits - before.cache_hits >= 1);
}

/* A child that only waits: it maps the same libc as this test. */
static pid_t idle_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/*
 * libc's symbols and debug data are read once for every process that maps it: three
 * processes, each asked for an address of libc not resolved before, open one build; its
 * frames are the same for all (with file:line where the debug file is installed).
 */
static void test_debug_data_once_per_build(void)
{
	uintptr_t fns[] = {(uintptr_t)getpid, (uintptr_t)getppid, (uintptr_t)sched_yield};
	struct proc_maps *pm = proc_maps__new();
	struct symbolizer *sym = symbolizer__new(pm);
	struct symbolizer_stats st;
	bool first_has_lines = false;
	pid_t kids[3];

	for (int i = 0; i < 3; i++)
		kids[i] = idle_child();
	for (int i = 0; i < 3; i++) {
		struct sym_frame f[SYM_MAX_INLINE];
		int n = symbolizer__resolve(sym, kids[i], fns[i], false, f, SYM_MAX_INLINE);

		if (!ASSERT_TRUE(n >= 1 && f[n - 1].module && strstr(f[n - 1].module, "/libc.so")))
			continue;
		ASSERT_TRUE(f[n - 1].function != NULL);
		if (i == 0)
			first_has_lines = f[n - 1].file && f[n - 1].line > 0;
		else
			ASSERT_EQ(f[n - 1].file && f[n - 1].line > 0, first_has_lines);
	}
	symbolizer__stats(sym, &st);
	ASSERT_EQ(st.debug_opened, 1);
	ASSERT_EQ(st.debug_open, 1);
	ASSERT_EQ(st.cached, 3);
	/* gone, but kept for the grace period: a fourth process reads nothing again */
	for (int i = 0; i < 2; i++) {
		symbolizer__forget(sym, kids[i]);
		proc_maps__forget(pm, kids[i]);
	}
	symbolizer__stats(sym, &st);
	ASSERT_EQ(st.debug_open, 1);
	ASSERT_EQ(st.debug_dropped, 0);
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	symbolizer__free(sym);
	proc_maps__free(pm);
}

/*
 * The Go fixture, running: each frame of its own traceback, at its address in the process,
 * symbolized as its runtime expands it. The symbolizer finds the module's table and bias.
 */
static void test_go_process(struct symbolizer *sym, const char *variant)
{
	char path[PATH_MAX + 64], *out, *argv[2] = {path, NULL}, *mainline;
	struct symbolizer_stats before, after;
	struct gopclntab *t;
	struct gt_trace tr;
	uint64_t entry, end, main_at = 0;
	int to, from, status, err, matched = 0, inlined = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%sgo/goinline%s", gt_self_dir(), variant);
	t = gopclntab__open(path, &err);
	if (!ASSERT_TRUE(t) || !ASSERT_EQ(gopclntab__function(t, "main.main", &entry, &end), 0))
		goto out_table;
	pid = gt_spawn(argv, &to, &from, false);
	out = gt_read(from, "end", 20000);
	if ((mainline = strstr(out, "main.main 0x")))
		main_at = strtoull(mainline + 10, NULL, 16);
	gt_trace__parse(&tr, out);
	symbolizer__stats(sym, &before);
	for (int k = 0; main_at && k < tr.n; k++) {
		const struct gt_group *g = &tr.g[k];
		struct sym_frame sf[SYM_MAX_INLINE];
		struct go_frame f[SYM_MAX_INLINE];
		uint64_t fentry, pc;
		int n;

		if (g->created_by || gopclntab__function(t, g->f[g->n - 1].function, &fentry, &end))
			continue;
		pc = fentry + g->off + (main_at - entry);
		n = symbolizer__resolve(sym, pid, pc, g->off > 0, sf, SYM_MAX_INLINE);
		for (int i = 0; i < n; i++)
			f[i] = (struct go_frame){sf[i].function, sf[i].file, sf[i].line,
						 sf[i].inlined};
		if (!ASSERT_TRUE(gt_frames_match(f, n, g, true))) {
			gt_print_mismatch(f, n, g);
			continue;
		}
		ASSERT_TRUE(sf[0].module && strstr(sf[0].module, "goinline"));
		ASSERT_EQ(sf[0].rel_pc, pc - (main_at - entry));
		matched++;
		inlined += n - 1;
	}
	symbolizer__stats(sym, &after);
	ASSERT_TRUE(matched >= 4);
	ASSERT_TRUE(inlined >= 4);
	ASSERT_EQ(after.unknown, before.unknown);
	ASSERT_EQ(after.modules_without_debuginfo, before.modules_without_debuginfo);
	close(to);
	close(from);
	waitpid(pid, &status, 0);
	gt_trace__free(&tr);
	free(out);
out_table:
	gopclntab__close(t);
}

struct listed {
	struct map_line ml[1024];
	char path[1024][256];
	int n;
};

static int list_mapping(void *ctx, const struct map_line *ml)
{
	struct listed *l = ctx;

	if (l->n == 1024)
		return 1;
	l->ml[l->n] = *ml;
	snprintf(l->path[l->n], sizeof(l->path[0]), "%s", ml->path ? ml->path : "");
	l->ml[l->n].path = l->path[l->n];
	l->n++;
	return 0;
}

static const struct map_line *listed_at(const struct listed *l, uint64_t start)
{
	for (int i = 0; i < l->n; i++)
		if (l->ml[i].start == start)
			return &l->ml[i];
	return NULL;
}

/* The file mappings listed (by PROCMAP_QUERY on this kernel) are those /proc/self/maps
 * shows, field by field, and a mapping says whether one of no file lies between it and the
 * file mapping before: a file mapped in two parts with anonymous memory between them, and
 * one in two parts with nothing between. */
static void test_each_file_mapping(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char tmpl[] = "/tmp/strand-maps-XXXXXX", line[4352];
	int fd = mkstemp(tmpl);
	struct listed *got = calloc(1, sizeof(*got)), *want = calloc(1, sizeof(*want));
	uint8_t *a = MAP_FAILED, *b = MAP_FAILED;
	bool other = false, any = false;
	FILE *f;

	if (!ASSERT_TRUE(fd >= 0 && got && want) || !ASSERT_EQ(ftruncate(fd, 3 * page), 0))
		goto out;
	a = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!ASSERT_TRUE(a != MAP_FAILED && b != MAP_FAILED))
		goto out;
	/* a: file, anonymous, file; b: file, a hole, file */
	ASSERT_TRUE(mmap(a, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == a);
	ASSERT_TRUE(mmap(a + 2 * page, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * page) ==
		    a + 2 * page);
	ASSERT_TRUE(mmap(b, page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0) == b);
	ASSERT_EQ(munmap(b + page, page), 0);
	ASSERT_TRUE(mmap(b + 2 * page, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * page) ==
		    b + 2 * page);
	ASSERT_EQ(procmaps__each_file(0, list_mapping, got), 0);
	f = fopen("/proc/self/maps", "re");
	if (!ASSERT_TRUE(f != NULL))
		goto out;
	while (fgets(line, sizeof(line), f)) {
		struct map_line ml;

		if (map_line__parse(line, &ml))
			continue;
		if (!ml.inode && (!ml.path || ml.path[0] != '/')) {
			other = true;
			continue;
		}
		ml.after_other = other && any;
		other = false;
		any = true;
		list_mapping(want, &ml);
	}
	fclose(f);
	ASSERT_EQ(got->n, want->n);
	for (int i = 0; i < want->n && i < got->n; i++) {
		const struct map_line *w = &want->ml[i], *g = &got->ml[i];

		UNIT_CHECK(w->start == g->start && w->end == g->end && w->offset == g->offset &&
				   w->inode == g->inode && !strcmp(w->perms, g->perms) &&
				   !strcmp(w->path, g->path) && w->after_other == g->after_other,
			   "mapping %d: %lx-%lx %s %s%s listed as %lx-%lx %s %s%s", i,
			   (unsigned long)w->start, (unsigned long)w->end, w->perms, w->path,
			   w->after_other ? " (after another)" : "", (unsigned long)g->start,
			   (unsigned long)g->end, g->perms, g->path,
			   g->after_other ? " (after another)" : "");
	}
	ASSERT_TRUE(listed_at(got, (uintptr_t)a) && listed_at(got, (uintptr_t)(a + 2 * page)) &&
		    listed_at(got, (uintptr_t)(a + 2 * page))->after_other);
	ASSERT_TRUE(listed_at(got, (uintptr_t)b) && listed_at(got, (uintptr_t)(b + 2 * page)) &&
		    !listed_at(got, (uintptr_t)(b + 2 * page))->after_other);
	ASSERT_STREQ(listed_at(got, (uintptr_t)b)->perms, "r-xp");
	ASSERT_EQ(listed_at(got, (uintptr_t)(b + 2 * page))->offset, (uint64_t)(2 * page));
out:
	if (a != MAP_FAILED)
		munmap(a, 3 * page);
	if (b != MAP_FAILED)
		munmap(b, 3 * page);
	if (fd >= 0) {
		close(fd);
		unlink(tmpl);
	}
	free(got);
	free(want);
}

static void test_map_line_valid(void)
{
	char l1[] = "55d0c8a00000-55d0c8a21000 r-xp 00001000 fd:01 1234567    /usr/bin/x y\n";
	char l2[] = "7ffd1c9e0000-7ffd1ca01000 rw-p 00000000 00:00 0                  [stack]\n";
	char l3[] = "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n";
	char l4[] = "7f0000000000-7f0000001000 rw-s 00000000 00:05 42";
	struct map_line ml;

	ASSERT_EQ(map_line__parse(l1, &ml), 0);
	ASSERT_EQ(ml.start, 0x55d0c8a00000ULL);
	ASSERT_EQ(ml.end, 0x55d0c8a21000ULL);
	ASSERT_EQ(ml.offset, 0x1000);
	ASSERT_STREQ(ml.perms, "r-xp");
	ASSERT_EQ(ml.inode, 1234567);
	ASSERT_STREQ(ml.path, "/usr/bin/x y");
	ASSERT_EQ(map_line__parse(l2, &ml), 0);
	ASSERT_STREQ(ml.path, "[stack]");
	ASSERT_EQ(map_line__parse(l3, &ml), 0);
	ASSERT_TRUE(ml.path == NULL);
	ASSERT_EQ(ml.inode, 0);
	ASSERT_EQ(map_line__parse(l4, &ml), 0);
	ASSERT_TRUE(ml.path == NULL);
	ASSERT_EQ(ml.inode, 42);
}

static void test_map_line_garbage(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"zz",
		"1-",
		"1-2",
		"1-2 ",
		"2-1 r-xp 0 00:00 0 /x",
		"1-2 r-x",
		"1-2 r-zp 0 00:00 0 /x",
		"1-2 r-xp",
		"1-2 r-xp 0",
		"1-2 r-xp 0 00",
		"1-2 r-xp 0 00:00",
		"1-2 r-xp 0 00:00 x /x",
		"10000000000000000-1 r-xp 0 00:00 0 /x",
		"1-2 r-xp 0 00:00 99999999999999999999 /x",
		"-1 r-xp 0 00:00 0 /x",
		" 1-2 r-xp 0 00:00 0 /x",
		"1-2\tr-xp 0 00:00 0 /x",
	};
	const char valid[] =
		"55d0c8a00000-55d0c8a21000 r-xp 00001000 fd:01 1234567 /usr/lib/x.so\n";
	struct map_line ml;
	char buf[128];
	unsigned int seed = 1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (!ASSERT_TRUE(map_line__parse(buf, &ml) < 0))
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
	}
	ASSERT_TRUE(map_line__parse(NULL, &ml) < 0);
	/* Mutations of a valid line: whatever comes out, no crash and a sane result. */
	for (int i = 0; i < 200000; i++) {
		size_t len = sizeof(valid) - 1;
		int ok = 1;

		memcpy(buf, valid, sizeof(valid));
		for (int k = rand_r(&seed) % 4; k >= 0; k--)
			buf[rand_r(&seed) % len] = (char)(rand_r(&seed) % 256);
		if (rand_r(&seed) % 4 == 0)
			buf[rand_r(&seed) % len] = '\0';
		if (map_line__parse(buf, &ml) == 0)
			ok = ml.start <= ml.end &&
			     (!ml.path || (ml.path >= buf && ml.path < buf + len));
		if (!ok)
			ASSERT_TRUE(ok);
	}
	ASSERT_TRUE(1);
}

int main(void)
{
	struct proc_maps *pm = proc_maps__new();
	struct symbolizer *sym = symbolizer__new(pm);

	test_own_binary(sym);
	test_inlined(sym);
	test_libc(sym);
	test_cxx_names(sym);
	test_unknown_and_stats(sym);
	/* Forgetting a process (it exec'd) re-reads it on the next lookup. */
	proc_maps__forget(pm, getpid());
	proc_maps__forget(pm, getpid());
	test_own_binary(sym);
	test_go_process(sym, "");
	test_go_process(sym, "-pie");
	test_go_process(sym, "-stripped");
	test_go_process(sym, "-extpie");
	test_map_line_valid();
	test_map_line_garbage();
	test_each_file_mapping();
	test_debug_data_once_per_build();
	symbolizer__free(sym);
	proc_maps__free(pm);
	return unit_summary();
}
