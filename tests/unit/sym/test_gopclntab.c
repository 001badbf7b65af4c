// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * .gopclntab with inlined calls expanded, against the Go runtime's own tracebacks: the Go 1.19
 * fixture (build/unit/go/goinline: plain, PIE, stripped, and PIE linked by gcc) prints its
 * goroutines' stacks; newer Go binaries dump theirs on SIGQUIT (make go-fixtures: esbuild
 * and buf from npm, stripped, Go 1.20 to 1.27; or those in STRAND_TEST_GO_BINS,
 * colon-separated).
 * Then tables made by hand (both formats, cyclic inline trees), and real ones truncated and
 * corrupted.
 */
#include "go/gocode.h"
#include "gotrace.h"
#include "lib/util.h"
#include "sym/gopclntab.h"
#include "unit.h"

#include <fcntl.h>
#include <gelf.h>
#include <glob.h>

static int inlined_seen, created_inlined, exact_pc;

/*
 * Every group of the traceback whose function the table names exactly (a generic one
 * prints as F[...]: skipped) against resolve_inline at its pc. Returns how many matched.
 */
static int check_trace(struct gopclntab *t, const struct gt_trace *tr, bool hide_runtime)
{
	int matched = 0;

	for (int k = 0; k < tr->n; k++) {
		const struct gt_group *g = &tr->g[k];
		const char *phys = g->f[g->n - 1].function;
		struct go_frame f[GO_MAX_INLINE_DEPTH];
		uint64_t entry, end, pc;
		int n;
		bool ok;

		if (strstr(phys, "[...]") || gopclntab__function(t, phys, &entry, &end))
			continue;
		pc = entry + g->off - (g->off ? 1 : 0);
		n = gopclntab__resolve_inline(t, pc, f, GO_MAX_INLINE_DEPTH);
		if (!ASSERT_TRUE(n >= 1))
			continue;
		if (g->created_by) {
			/* Go 1.21 names the innermost inlined function, older ones the
			 * physical; both give the innermost file:line */
			ok = (gt_name_eq(phys, f[0].function) ||
			      gt_name_eq(phys, f[n - 1].function)) &&
			     f[0].file && !strcmp(f[0].file, g->f[0].file) &&
			     f[0].line == g->f[0].line;
			created_inlined += ok && n > 1;
		} else {
			ok = gt_frames_match(f, n, g, hide_runtime);
			/* a goroutine stopped by the signal is at its exact pc */
			if (!ok && g->top && g->off) {
				n = gopclntab__resolve_inline(t, pc + 1, f, GO_MAX_INLINE_DEPTH);
				ok = n >= 1 && gt_frames_match(f, n, g, hide_runtime);
				exact_pc += ok;
			}
		}
		if (!ASSERT_TRUE(ok)) {
			fprintf(stderr, "  at %s+0x%" PRIx64 "%s\n", phys, g->off,
				g->created_by ? " (created by)" : "");
			gt_print_mismatch(f, n, g);
			continue;
		}
		inlined_seen += n - 1;
		matched++;
	}
	return matched;
}

/* The group whose physical function is name. */
static const struct gt_group *group_of(const struct gt_trace *tr, const char *name, bool created)
{
	for (int k = 0; k < tr->n; k++)
		if (tr->g[k].created_by == created &&
		    !strcmp(tr->g[k].f[tr->g[k].n - 1].function, name))
			return &tr->g[k];
	return NULL;
}

static void expect_frame(const struct gt_frame *f, const char *function, const char *file_end,
			 int line)
{
	size_t a = strlen(f->file), b = strlen(file_end);

	ASSERT_STREQ(f->function, function);
	ASSERT_TRUE(a >= b && !strcmp(f->file + a - b, file_end));
	ASSERT_EQ(f->line, line);
}

/* The fixture's stacks are the runtime's: and the runtime saw the inlining the test wants. */
static void test_go119(const char *variant)
{
	char path[PATH_MAX + 64], *out, *argv[2] = {path, NULL};
	const struct gt_group *g;
	struct gt_trace tr;
	struct gopclntab *t;
	const char *fn, *file, *src;
	int to, from, status, err, line;
	pid_t pid;

	snprintf(path, sizeof(path), "%sgo/goinline%s", gt_self_dir(), variant);
	t = gopclntab__open(path, &err);
	if (!ASSERT_TRUE(t)) {
		fprintf(stderr, "  %s: %d (make unit builds it)\n", path, err);
		return;
	}
	ASSERT_TRUE(gopclntab__has_inline(t));
	pid = gt_spawn(argv, &to, &from, false);
	out = gt_read(from, "end", 20000);
	close(to);
	close(from);
	waitpid(pid, &status, 0);
	gt_trace__parse(&tr, out);
	inlined_seen = 0;
	ASSERT_TRUE(check_trace(t, &tr, true) >= 4);
	ASSERT_TRUE(inlined_seen >= 4);

	/* main.main's frame around capture: three inlined calls, each at its MARK */
	g = group_of(&tr, "main.main", false);
	if (ASSERT_TRUE(g && g->n == 4)) {
		src = g->f[0].file;
		expect_frame(&g->f[0], "main.level3", "goinline.go", gt_marker_line(src, "level3"));
		expect_frame(&g->f[1], "main.level2", "goinline.go", gt_marker_line(src, "level2"));
		expect_frame(&g->f[2], "main.level1", "goinline.go", gt_marker_line(src, "level1"));
		expect_frame(&g->f[3], "main.main", "goinline.go", gt_marker_line(src, "deep"));
	}
	/* blocked in syscall.Read, inlined: and gopclntab__resolve gives the caller's line */
	g = group_of(&tr, "main.blockInRead", false);
	if (ASSERT_TRUE(g && g->n == 2)) {
		uint64_t entry, end;

		src = g->f[1].file;
		expect_frame(&g->f[0], "syscall.Read", "/syscall_unix.go", g->f[0].line);
		expect_frame(&g->f[1], "main.blockInRead", "goinline.go",
			     gt_marker_line(src, "read"));
		ASSERT_EQ(gopclntab__function(t, "main.blockInRead", &entry, &end), 0);
		ASSERT_EQ(gopclntab__resolve(t, entry + g->off - 1, &fn, &file, &line), 0);
		ASSERT_STREQ(fn, "main.blockInRead");
		ASSERT_STREQ(file, src);
		ASSERT_EQ(line, gt_marker_line(src, "read"));
	}
	g = group_of(&tr, "main.spawnInlined", true);
	if (ASSERT_TRUE(g))
		ASSERT_EQ(g->f[0].line, gt_marker_line(g->f[0].file, "go"));
	gt_trace__free(&tr);
	free(out);
	gopclntab__close(t);
}

/* Sanity over pcs all through .text: frames well formed, the physical one last and the one
 * gopclntab__resolve names. */
static void sweep(struct gopclntab *t, uint64_t lo, uint64_t hi)
{
	long pcs = 0, frames = 0, bad = 0, no_line = 0;

	for (uint64_t pc = lo; pc < hi; pc += 61) {
		struct go_frame f[GO_MAX_INLINE_DEPTH];
		const char *fn, *file;
		int n = gopclntab__resolve_inline(t, pc, f, GO_MAX_INLINE_DEPTH), line;

		/* past the code of a function: its padding up to the next one */
		if (n < 0 || (n == 1 && !f[0].file && !f[0].line))
			continue;
		pcs++;
		frames += n;
		bad += n > GO_MAX_INLINE_DEPTH || f[n - 1].inlined ||
		       gopclntab__resolve(t, pc, &fn, &file, &line) || fn != f[n - 1].function;
		for (int i = 0; i < n; i++) {
			bad += !f[i].function || !f[i].function[0] || f[i].inlined != (i < n - 1);
			no_line += !f[i].file || f[i].line <= 0;
		}
	}
	ASSERT_TRUE(pcs > 1000);
	ASSERT_EQ(bad, 0);
	/* assembly and generated code may have none; Go code always has */
	ASSERT_TRUE(no_line * 100 < frames);
	printf("  swept %ld pcs: %ld frames, %ld without file:line\n", pcs, frames, no_line);
}

static bool text_range(const char *path, uint64_t *lo, uint64_t *hi)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	if (elf && !elf_getshdrstrndx(elf, &shstrndx))
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (gelf_getshdr(scn, &sh) &&
			    (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
			    !strcmp(name, ".text")) {
				*lo = sh.sh_addr;
				*hi = sh.sh_addr + sh.sh_size;
				found = true;
			}
		}
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return found;
}

/* A newer Go binary that reads its standard input (esbuild does; buf's language server
 * too, given its command): its SIGQUIT dump. */
static void test_newer(const char *path, char *const *args)
{
	char *argv[4] = {(char *)path, args ? args[0] : NULL, args ? args[1] : NULL, NULL}, *out;
	struct gopclntab *t;
	struct gt_trace tr;
	uint64_t lo, hi;
	int to, from, status, err, matched;
	pid_t pid;

	printf("%s\n", path);
	t = gopclntab__open(path, &err);
	if (!ASSERT_TRUE(t))
		return;
	ASSERT_TRUE(gopclntab__has_inline(t));
	pid = gt_spawn(argv, &to, &from, true);
	usleep(300 * 1000);
	kill(pid, SIGQUIT);
	out = gt_read(from, NULL, 10000);
	close(to);
	close(from);
	waitpid(pid, &status, 0);
	gt_trace__parse(&tr, out);
	inlined_seen = created_inlined = exact_pc = 0;
	matched = check_trace(t, &tr, false);
	ASSERT_TRUE(matched >= 5);
	printf("  %d of %d groups of its traceback matched: %d inlined frames, %d creation sites "
	       "in inlined code, %d at an exact pc\n",
	       matched, tr.n, inlined_seen, created_inlined, exact_pc);
	ASSERT_TRUE(inlined_seen >= 1);
	if (ASSERT_TRUE(text_range(path, &lo, &hi)))
		sweep(t, lo, hi);
	gt_trace__free(&tr);
	free(out);
	gopclntab__close(t);
}

static void test_newer_binaries(void)
{
	char pattern[PATH_MAX + 64], *list = getenv("STRAND_TEST_GO_BINS"), *save = NULL;
	glob_t gl;
	int tested = 0;

	snprintf(pattern, sizeof(pattern), "%snpm/*/node_modules/@esbuild/linux-x64/bin/esbuild",
		 gt_self_dir());
	if (!glob(pattern, 0, NULL, &gl)) {
		for (size_t i = 0; i < gl.gl_pathc; i++, tested++)
			test_newer(gl.gl_pathv[i], NULL);
		globfree(&gl);
	}
	snprintf(pattern, sizeof(pattern),
		 "%snpm-buf/*/node_modules/@bufbuild/buf-linux-x64/bin/buf", gt_self_dir());
	if (!glob(pattern, 0, NULL, &gl)) {
		char *lsp[] = {"lsp", "serve"};

		for (size_t i = 0; i < gl.gl_pathc; i++, tested++)
			test_newer(gl.gl_pathv[i], lsp);
		globfree(&gl);
	}
	list = list ? strdup(list) : NULL;
	for (char *p = list ? strtok_r(list, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save))
		test_newer(p, NULL), tested++;
	free(list);
	/* make test fetches them: a run without them has not tested what it claims */
	UNIT_CHECK(tested > 0, "no newer Go binaries (make go-fixtures, or STRAND_TEST_GO_BINS)");
}

/* --- tables made by hand ------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

#define MADE_TEXT 0x1000

/*
 * One function, main.f at 0x1000-0x1040 (a.go, then b.go from 0x10; line 10, then 20 from
 * 0x20), whose inline tree has main.inl (index 0, at 0x30-0x40) and main.inl2 (index 1, at
 * 0x10-0x30), returning to parent0 and parent1. In the Go 1.18 layout or the 1.20 one; with
 * gofunc_len bytes of go:func.* (0: none).
 */
static struct gopclntab *made_table(bool go120, uint32_t parent0, uint32_t parent1,
				    size_t gofunc_len)
{
	static const char names[] = "\0main.f\0main.inl\0main.inl2"; /* at 1, 8, 17 */
	static const uint8_t pctab[] = {
		0,  2,	  0x10, 2,    0x30, 0,	     /* pcfile, at 1: file 0, then 1 */
		22, 0x20, 20,	0x20, 0,	     /* pcln, at 6: line 10, then 20 */
		0,  0x10, 4,	0x20, 1,    0x10, 0, /* inline index, at 11: -1, 1, 0 */
	};
	uint8_t tab[0x100] = {0}, gofunc[40] = {0};
	uint64_t fn = 0xb0, pcdata = fn + (go120 ? 44 : 40);
	size_t size = go120 ? 16 : 20, name_at = go120 ? 4 : 12, parent_at = go120 ? 8 : 16;
	struct gopclntab *t;
	int err;

	put32(tab, go120 ? 0xfffffff1 : 0xfffffff0);
	tab[6] = 1;
	tab[7] = 8;
	put64(tab + 8, 1);
	put64(tab + 16, 2);
	put64(tab + 24, MADE_TEXT);
	put64(tab + 32, 0x48);
	put64(tab + 40, 0x68);
	put64(tab + 48, 0x70);
	put64(tab + 56, 0x80);
	put64(tab + 64, 0xa0);
	memcpy(tab + 0x48, names, sizeof(names));
	put32(tab + 0x68, 0);
	put32(tab + 0x6c, 5);
	memcpy(tab + 0x70, "a.go\0b.go", 10);
	memcpy(tab + 0x80, pctab, sizeof(pctab));
	put32(tab + 0xa0, 0); /* functab: main.f, then the end of text */
	put32(tab + 0xa4, (uint32_t)(fn - 0xa0));
	put32(tab + 0xa8, 0x40);
	put32(tab + fn + 4, 1);
	put32(tab + fn + 20, 1);
	put32(tab + fn + 24, 6);
	put32(tab + fn + 28, 3);
	tab[fn + (go120 ? 43 : 39)] = 4;
	put32(tab + pcdata + 8, 11);
	for (int i = 0; i < 3; i++)
		put32(tab + pcdata + 12 + 4 * i, UINT32_MAX);
	put32(tab + pcdata + 24, 0);
	put32(gofunc + name_at, 8);
	put32(gofunc + parent_at, parent0);
	put32(gofunc + size + name_at, 17);
	put32(gofunc + size + parent_at, parent1);
	t = gopclntab__from_mem(tab, sizeof(tab), 0, &err);
	if (t && gofunc_len)
		gopclntab__set_gofunc(t, gofunc, gofunc_len);
	return t;
}

static void expect_go_frame(const struct go_frame *f, const char *function, const char *file,
			    int line, bool inlined)
{
	ASSERT_STREQ(f->function, function);
	ASSERT_STREQ(f->file, file);
	ASSERT_EQ(f->line, line);
	ASSERT_EQ(f->inlined, inlined);
}

static void test_made_format(bool go120)
{
	struct go_frame f[8];
	struct gopclntab *t = made_table(go120, 0x05, 0x30, 40);
	const char *fn, *file;
	int line;

	if (!ASSERT_TRUE(t))
		return;
	ASSERT_TRUE(gopclntab__has_inline(t));
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 3)) {
		expect_go_frame(&f[0], "main.inl2", "b.go", 10, true);
		expect_go_frame(&f[1], "main.inl", "b.go", 20, true);
		expect_go_frame(&f[2], "main.f", "a.go", 10, false);
	}
	/* little room: the innermost and the physical function */
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 2), 2)) {
		expect_go_frame(&f[0], "main.inl2", "b.go", 10, true);
		expect_go_frame(&f[1], "main.f", "a.go", 10, false);
	}
	ASSERT_EQ(gopclntab__resolve(t, MADE_TEXT + 0x18, &fn, &file, &line), 0);
	ASSERT_STREQ(fn, "main.f");
	ASSERT_STREQ(file, "a.go");
	ASSERT_EQ(line, 10);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x3f, f, 8), 2)) {
		expect_go_frame(&f[0], "main.inl", "b.go", 20, true);
		expect_go_frame(&f[1], "main.f", "a.go", 10, false);
	}
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x8, f, 8), 1))
		expect_go_frame(&f[0], "main.f", "a.go", 10, false);
	ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x40, f, 8), -ENOENT);
	ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT - 1, f, 8), -ENOENT);
	ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT, f, 0), -ENOENT);
	gopclntab__close(t);

	/* cycles: main.inl returns into main.inl2's code; main.inl2 into itself */
	t = made_table(go120, 0x10, 0x30, 40);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 3))
		expect_go_frame(&f[2], "main.f", "b.go", 10, false);
	gopclntab__close(t);
	t = made_table(go120, 0x05, 0x18, 40);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 2))
		expect_go_frame(&f[1], "main.f", "b.go", 10, false);
	gopclntab__close(t);
	/* a parentPc past the function's end: the walk stops there */
	t = made_table(go120, 0x05, 0x40, 40);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 2)) {
		expect_go_frame(&f[0], "main.inl2", "b.go", 10, true);
		expect_go_frame(&f[1], "main.f", "b.go", 10, false);
	}
	gopclntab__close(t);
	/* go:func.* cut short in index 1's parentPc, its name, or absent: what can be read */
	t = made_table(go120, 0x05, 0x30, go120 ? 27 : 39);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 2)) {
		expect_go_frame(&f[0], "main.inl2", "b.go", 10, true);
		expect_go_frame(&f[1], "main.f", "b.go", 10, false);
	}
	gopclntab__close(t);
	t = made_table(go120, 0x05, 0x30, go120 ? 23 : 35);
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 1))
		expect_go_frame(&f[0], "main.f", "b.go", 10, false);
	gopclntab__close(t);
	t = made_table(go120, 0x05, 0x30, 0);
	ASSERT_TRUE(!gopclntab__has_inline(t));
	if (ASSERT_EQ(gopclntab__resolve_inline(t, MADE_TEXT + 0x18, f, 8), 1))
		expect_go_frame(&f[0], "main.f", "b.go", 10, false);
	gopclntab__close(t);
}

static void test_made_tables(void)
{
	test_made_format(false);
	test_made_format(true);
}

/* --- real tables, truncated and corrupted ------------------------------------------------ */

struct raw {
	uint8_t *table, *gofunc;
	size_t len, gofunc_len;
	uint64_t text;
};

/* .gopclntab and go:func.* (from the symbol table: the fixture is not stripped). */
static bool raw_load(const char *path, struct raw *r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	Elf_Scn *scn = NULL, *symtab = NULL;
	uint64_t gofunc = 0;
	size_t shstrndx;

	memset(r, 0, sizeof(*r));
	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".text"))
			r->text = sh.sh_addr;
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		if (!strcmp(name, ".gopclntab") && (d = elf_getdata(scn, NULL))) {
			r->table = malloc(d->d_size);
			memcpy(r->table, d->d_buf, d->d_size);
			r->len = d->d_size;
		}
	}
	for (size_t i = 0; symtab && !gofunc; i++) {
		GElf_Shdr sh;
		GElf_Sym sym;
		Elf_Data *d = elf_getdata(symtab, NULL);
		const char *name;

		if (!gelf_getshdr(symtab, &sh) || !d || i >= d->d_size / sizeof(Elf64_Sym) ||
		    !gelf_getsym(d, (int)i, &sym))
			break;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (name && (!strcmp(name, "go.func.*") || !strcmp(name, "go:func.*")))
			gofunc = sym.st_value;
	}
	for (scn = NULL; gofunc && (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_PROGBITS && gofunc >= sh.sh_addr &&
		    gofunc < sh.sh_addr + sh.sh_size && (d = elf_getdata(scn, NULL))) {
			r->gofunc_len = sh.sh_addr + sh.sh_size - gofunc;
			r->gofunc = malloc(r->gofunc_len);
			memcpy(r->gofunc, (uint8_t *)d->d_buf + (gofunc - sh.sh_addr),
			       r->gofunc_len);
			break;
		}
	}
out:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return r->table && r->gofunc;
}

/* Whatever a damaged table gives, it is well formed. */
static long resolve_all(struct gopclntab *t, const uint64_t *pcs, int npcs)
{
	long bad = 0;

	for (int i = 0; i < npcs; i++) {
		struct go_frame f[8];
		const char *fn, *file;
		int n = gopclntab__resolve_inline(t, pcs[i], f, 8), line;

		if (n == -ENOENT)
			continue;
		bad += n < 1 || n > 8 || f[n - 1].inlined;
		for (int k = 0; k < n && n <= 8; k++)
			bad += !f[k].function || f[k].line < 0;
		gopclntab__resolve(t, pcs[i], &fn, &file, &line);
	}
	return bad;
}

static void test_corrupted(const char *path)
{
	struct gopclntab *good, *opened, *t;
	unsigned int seed = 7;
	uint64_t pcs[400];
	long bad = 0, differ = 0;
	int npcs = 0, err;
	struct raw r;

	if (!ASSERT_TRUE(raw_load(path, &r)))
		return;
	good = gopclntab__from_mem(r.table, r.len, r.text, &err);
	opened = gopclntab__open(path, &err);
	if (!ASSERT_TRUE(good && opened))
		goto out;
	gopclntab__set_gofunc(good, r.gofunc, r.gofunc_len);
	/* pcs with inlined calls first: those walk the most of the tables */
	for (uint64_t pc = r.text; npcs < 400 && pc < r.text + 0x200000; pc += 13) {
		struct go_frame f[8], g[8];
		int n = gopclntab__resolve_inline(good, pc, f, 8);

		if (n < 0)
			continue;
		/* go:func.* from moduledata, as open finds it, is where the symbol says */
		if (gopclntab__resolve_inline(opened, pc, g, 8) != n)
			differ++;
		for (int k = 0; k < n; k++)
			differ += strcmp(f[k].function, g[k].function) || f[k].line != g[k].line;
		if (n > 1 || pc % 31 == 0)
			pcs[npcs++] = pc;
	}
	ASSERT_EQ(differ, 0);
	ASSERT_TRUE(npcs > 100);
	/* truncated: the header, the functab, in the middle, one byte short */
	for (int i = 0; i < 300; i++) {
		size_t cut = i < 80 ? (size_t)i : (size_t)rand_r(&seed) % r.len;

		if ((t = gopclntab__from_mem(r.table, cut, r.text, &err))) {
			gopclntab__set_gofunc(t, r.gofunc, r.gofunc_len);
			bad += resolve_all(t, pcs, npcs);
			gopclntab__close(t);
		}
		t = gopclntab__from_mem(r.table, r.len, r.text, &err);
		gopclntab__set_gofunc(t, r.gofunc, cut % (r.gofunc_len + 1));
		bad += resolve_all(t, pcs, npcs);
		gopclntab__close(t);
	}
	/* corrupted: random bytes anywhere, and in the first part where the header, the
	 * names and the functab are */
	for (int i = 0; i < 300; i++) {
		uint8_t *tab = malloc(r.len), *gf = malloc(r.gofunc_len);

		memcpy(tab, r.table, r.len);
		memcpy(gf, r.gofunc, r.gofunc_len);
		for (int k = rand_r(&seed) % 16; k >= 0; k--) {
			size_t span = i % 2 ? r.len : 4096;

			tab[rand_r(&seed) % span] = (uint8_t)rand_r(&seed);
			gf[rand_r(&seed) % r.gofunc_len] = (uint8_t)rand_r(&seed);
		}
		if ((t = gopclntab__from_mem(tab, r.len, r.text, &err))) {
			gopclntab__set_gofunc(t, gf, r.gofunc_len);
			bad += resolve_all(t, pcs, npcs);
			gopclntab__close(t);
		}
		free(tab);
		free(gf);
	}
	ASSERT_EQ(bad, 0);
out:
	gopclntab__close(good);
	gopclntab__close(opened);
	free(r.table);
	free(r.gofunc);
}

/* What the runtime's own string must look like to be taken for a version. */
static void test_version_strings(void)
{
	static const char *const good[] = {"go1.26.5", "go1.19", "go1.27.3 X:nocoverageredesign",
					   "devel go1.27-abc123 Tue"};
	static const char *const bad[] = {"go",	    "go1",     "gopher", "unknown",
					  "1.26.5", "go1.2\n", "devel"};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		UNIT_CHECK(gocode__is_version(good[i], strlen(good[i])), "'%s' is a version",
			   good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		UNIT_CHECK(!gocode__is_version(bad[i], strlen(bad[i])), "'%s' is no version",
			   bad[i]);
}

int main(void)
{
	char path[PATH_MAX + 64];
	uint64_t lo, hi;
	struct gopclntab *t;
	int err;

	elf_version(EV_CURRENT);
	test_go119("");
	test_go119("-pie");
	test_go119("-stripped");
	test_go119("-extpie");
	snprintf(path, sizeof(path), "%sgo/goinline-stripped", gt_self_dir());
	if ((t = gopclntab__open(path, &err)) && ASSERT_TRUE(text_range(path, &lo, &hi)))
		sweep(t, lo, hi);
	gopclntab__close(t);
	test_newer_binaries();
	test_version_strings();
	test_made_tables();
	snprintf(path, sizeof(path), "%sgo/goinline", gt_self_dir());
	test_corrupted(path);
	return unit_summary();
}
