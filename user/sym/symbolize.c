// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/symbolize.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/debugfiles.h"
#include "sym/demangle.h"
#include "sym/gopclntab.h"
#include "sym/procmaps.h"

#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

/* Past this many cached addresses the cache starts over, so a daemon's memory stays bounded;
 * interned strings stay (frames handed out point at them) but are bounded by the binaries. */
#define SYM_CACHE_MAX (1u << 17)

struct cached_frame {
	const char *function, *file;
	int line;
	bool inlined;
};

struct sym_entry {
	uint64_t modkey, rel;
	int n;
	struct cached_frame f[]; /* SYM_MAX_INLINE while computed, n once cached */
};

struct interned {
	struct interned *next;
	char s[];
};

enum { MOD_DEBUGINFO = 1, MOD_NO_DEBUGINFO = 2 };

struct symbolizer {
	struct proc_maps *maps;
	struct debug_files *debug; /* symbols and lines of addresses not seen before */
	struct hashmap cache;	   /* hash(modkey, rel) -> struct sym_entry */
	struct hashmap strings;	   /* hash(string) -> chain of struct interned */
	struct hashmap modules;	   /* modkey -> MOD_* */
	struct hashmap gotabs;	   /* modkey -> struct gopclntab *, or &not_go */
	struct symbolizer_stats stats;
};

/* A module already looked at for a .gopclntab that has none. */
static char not_go;

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return hash_u64(h);
}

static const char *sym__intern(struct symbolizer *sym, const char *s)
{
	uint64_t h;
	struct interned *head, *it;
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	h = hash_bytes(s, len);
	head = hashmap__get(&sym->strings, h);
	for (it = head; it; it = it->next)
		if (!strcmp(it->s, s))
			return it->s;
	it = xcalloc(1, sizeof(*it) + len + 1);
	memcpy(it->s, s, len + 1);
	it->next = head;
	hashmap__set(&sym->strings, h, it);
	return it->s;
}

struct symbolizer *symbolizer__new(struct proc_maps *maps)
{
	struct symbolizer *sym = xcalloc(1, sizeof(*sym));

	sym->maps = maps;
	sym->debug = debug_files__new();
	hashmap__init(&sym->cache);
	hashmap__init(&sym->strings);
	hashmap__init(&sym->modules);
	hashmap__init(&sym->gotabs);
	return sym;
}

static void sym__flush_cache(struct symbolizer *sym)
{
	hashmap__free_values(&sym->cache);
	hashmap__init(&sym->cache);
}

void symbolizer__free(struct symbolizer *sym)
{
	uint64_t k;
	void *v;

	if (!sym)
		return;
	sym__flush_cache(sym);
	for (size_t i = 0; hashmap__next(&sym->strings, &i, &k, &v);) {
		struct interned *it = v, *next;

		for (; it; it = next) {
			next = it->next;
			free(it);
		}
	}
	hashmap__free(&sym->strings);
	hashmap__free(&sym->modules);
	for (size_t i = 0; hashmap__next(&sym->gotabs, &i, &k, &v);)
		if (v != &not_go)
			gopclntab__close(v);
	hashmap__free(&sym->gotabs);
	debug_files__free(sym->debug);
	free(sym);
}

/* Identity of a module's contents: the same library in many processes (or containers) is
 * resolved once. */
static uint64_t sym__module_key(Dwfl_Module *mod)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	const char *name;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);

	if (n > 0)
		return hash_bytes(bits, n) ^ 0xb1d;
	name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	return name ? hash_bytes(name, strlen(name)) : 0;
}

static const char *die__name(Dwarf_Die *die)
{
	Dwarf_Attribute mem, *a;
	const char *s;

	/* Linkage names first, as the symbol table has them for the outermost function. */
	a = dwarf_attr_integrate(die, DW_AT_linkage_name, &mem);
	if (!a)
		a = dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &mem);
	s = a ? dwarf_formstring(a) : NULL;
	return s ? s : dwarf_diename(die);
}

static int die__udata(Dwarf_Die *die, int name, Dwarf_Word *out)
{
	Dwarf_Attribute mem, *a = dwarf_attr(die, name, &mem);

	return a ? dwarf_formudata(a, out) : -1;
}

/* Where the inlined subroutine die was called from, in the caller's source. */
static void die__call_site(Dwarf_Die *die, Dwarf_Files *files, size_t nfiles, const char **file,
			   int *line)
{
	Dwarf_Word idx, ln;

	*file = NULL;
	*line = 0;
	if (files && die__udata(die, DW_AT_call_file, &idx) == 0 && idx < nfiles)
		*file = dwarf_filesrc(files, idx, NULL, NULL);
	if (die__udata(die, DW_AT_call_line, &ln) == 0 && ln <= INT32_MAX)
		*line = (int)ln;
}

static void sym__push(struct sym_entry *e, struct symbolizer *sym, const char *fn, const char *file,
		      int line, bool inlined)
{
	/* Too deep an inline chain keeps the innermost frames and the real function. */
	int i = e->n < SYM_MAX_INLINE ? e->n++ : SYM_MAX_INLINE - 1;
	char *plain = demangle(fn);

	e->f[i] = (struct cached_frame){
		.function = sym__intern(sym, plain ? plain : fn),
		.file = sym__intern(sym, file),
		.line = line,
		.inlined = inlined,
	};
	free(plain);
}

/* Source frames of addr from DWARF: inlined subroutines innermost first, then the real
 * function, each with the file:line it is at (for inlined ones, their call site in the next
 * frame's function). Returns false when there is no DWARF for addr. */
static bool sym__dwarf(struct symbolizer *sym, Dwfl_Module *mod, Dwarf_Addr addr,
		       const char *symname, struct sym_entry *e)
{
	Dwarf_Die *cu, *scopes = NULL, *chain = NULL, innermost;
	Dwarf_Files *files = NULL;
	size_t nfiles = 0;
	const char *file = NULL;
	Dwarf_Addr bias;
	Dwfl_Line *l;
	int line = 0, n, nchain = 0;

	cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu)
		return false;
	l = dwfl_module_getsrc(mod, addr);
	if (l)
		file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
		files = NULL;
	/* dwarf_getscopes follows inlined subroutines into their abstract origins; the chain of
	 * concrete parents of the innermost scope is the call chain. */
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	if (n > 0) {
		innermost = scopes[0];
		nchain = dwarf_getscopes_die(&innermost, &chain);
	}
	for (int i = 0; i < nchain; i++) {
		int tag = dwarf_tag(&chain[i]);

		if (tag == DW_TAG_inlined_subroutine) {
			sym__push(e, sym, die__name(&chain[i]), file, line, true);
			die__call_site(&chain[i], files, nfiles, &file, &line);
		} else if (tag == DW_TAG_subprogram) {
			sym__push(e, sym, symname ? symname : die__name(&chain[i]), file, line,
				  false);
			break;
		}
	}
	if (e->n == 0 || e->f[e->n - 1].inlined)
		sym__push(e, sym, symname, file, line, false);
	free(scopes);
	free(chain);
	return true;
}

/* The Go table of the module, read once; NULL for a module that is not Go. */
static struct gopclntab *sym__gotab(struct symbolizer *sym, Dwfl_Module *mod, uint64_t modkey)
{
	void *v = hashmap__get(&sym->gotabs, modkey);
	struct gopclntab *t;
	Dwarf_Addr bias;
	Elf *elf;
	int err;

	if (v)
		return v == &not_go ? NULL : v;
	elf = dwfl_module_getelf(mod, &bias);
	t = elf ? gopclntab__from_elf(elf, &err) : NULL;
	hashmap__set(&sym->gotabs, modkey, t ? (void *)t : &not_go);
	return t;
}

/* Frames from Go's own table, inlined calls expanded: libdw cannot map Go's line tables to
 * addresses (no .debug_aranges) and stripped Go binaries have no DWARF at all. false when
 * rel is not Go code (cgo's C, a C module). */
static bool sym__go(struct symbolizer *sym, struct gopclntab *t, uint64_t rel, struct sym_entry *e)
{
	struct go_frame f[SYM_MAX_INLINE];
	int n = t ? gopclntab__resolve_inline(t, rel, f, SYM_MAX_INLINE) : -1;

	for (int i = 0; i < n; i++)
		sym__push(e, sym, f[i].function, f[i].file, f[i].line, f[i].inlined);
	return n > 0;
}

/* Function and file:line of addr in mod (a session's address) from its symbols and DWARF. */
static void sym__native(struct symbolizer *sym, Dwfl_Module *mod, Dwarf_Addr addr,
			struct sym_entry *e)
{
	GElf_Off off;
	GElf_Sym s;
	const char *symname = dwfl_module_addrinfo(mod, addr, &off, &s, NULL, NULL, NULL);

	if (!sym__dwarf(sym, mod, addr, symname, e))
		sym__push(e, sym, symname, NULL, 0, false);
}

static void sym__note_module(struct symbolizer *sym, Dwfl_Module *mod, uint64_t modkey)
{
	Dwarf_Addr bias;

	if (hashmap__get(&sym->modules, modkey))
		return;
	/* a Go table is as good as debug info: function and file:line for every pc */
	if (sym__gotab(sym, mod, modkey) || dwfl_module_getdwarf(mod, &bias)) {
		hashmap__set(&sym->modules, modkey, (void *)(uintptr_t)MOD_DEBUGINFO);
	} else {
		hashmap__set(&sym->modules, modkey, (void *)(uintptr_t)MOD_NO_DEBUGINFO);
		sym->stats.modules_without_debuginfo++;
	}
}

static const struct sym_entry *sym__lookup(struct symbolizer *sym, pid_t pid, Dwfl_Module *mod,
					   Dwarf_Addr addr, Dwarf_Addr bias)
{
	uint64_t modkey = sym__module_key(mod), rel = addr - bias;
	uint64_t key = hash_combine(modkey, rel);
	struct sym_entry *e = hashmap__get(&sym->cache, key);
	size_t size;

	if (e && e->modkey == modkey && e->rel == rel) {
		sym->stats.cache_hits++;
		return e;
	}
	/* A colliding key is rare: the newer address takes the slot. */
	free(e);
	if (!e && sym->cache.len >= SYM_CACHE_MAX)
		sym__flush_cache(sym);
	e = xcalloc(1, sizeof(*e) + SYM_MAX_INLINE * sizeof(e->f[0]));
	e->modkey = modkey;
	e->rel = rel;
	if (!sym__go(sym, sym__gotab(sym, mod, modkey), rel, e)) {
		/* not seen before: from the build's own session, with its debug file, shared
		 * by every process that maps it; the process's module where it cannot be
		 * opened again (symbols of the binary alone) */
		const char *path = NULL;
		Dwarf_Addr dbias = 0;
		Dwfl_Module *dmod;

		dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &path, NULL);
		dmod = debug_files__module(sym->debug, modkey, path, pid, &dbias);
		sym__note_module(sym, dmod ?: mod, modkey);
		sym__native(sym, dmod ?: mod, dmod ? rel + dbias : addr, e);
	} else {
		sym__note_module(sym, mod, modkey);
	}
	size = sizeof(*e) + e->n * sizeof(e->f[0]);
	e = xrealloc(e, size);
	hashmap__set(&sym->cache, key, e);
	return e;
}

int symbolizer__resolve(struct symbolizer *sym, pid_t pid, uint64_t pc, bool is_return_address,
			struct sym_frame *out, int max)
{
	Dwarf_Addr addr = is_return_address && pc ? pc - 1 : pc, bias = 0;
	Dwfl *dwfl = proc_maps__dwfl(sym->maps, pid, addr);
	Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, addr) : NULL;
	const struct sym_entry *e = NULL;
	const char *modname = NULL;
	int n;

	if (max <= 0)
		return 0;
	sym->stats.lookups++;
	if (mod && dwfl_module_getelf(mod, &bias)) {
		modname = sym__intern(
			sym, dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
		e = sym__lookup(sym, pid, mod, addr, bias);
	}
	if (!e || !e->f[e->n - 1].function)
		sym->stats.unknown++;
	if (!e) {
		out[0] = (struct sym_frame){.pc = pc, .rel_pc = pc - bias, .module = modname};
		return 1;
	}
	n = e->n < max ? e->n : max;
	for (int i = 0; i < n; i++) {
		/* Keep the real function last when the caller has room for fewer frames. */
		const struct cached_frame *f = &e->f[i == n - 1 ? e->n - 1 : i];

		out[i] = (struct sym_frame){
			.pc = pc,
			.rel_pc = pc - bias,
			.function = f->function,
			.file = f->file,
			.line = f->line,
			.module = modname,
			.inlined = f->inlined,
		};
	}
	return n;
}

int symbolizer__elf_symbol(struct symbolizer *sym, pid_t pid, uint64_t pc, bool is_return_address,
			   const char **module, const char **function)
{
	Dwarf_Addr addr = is_return_address && pc ? pc - 1 : pc, bias = 0;
	Dwfl *dwfl = proc_maps__dwfl(sym->maps, pid, addr);
	Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, addr) : NULL;
	GElf_Off off;
	GElf_Sym s;

	*module = *function = NULL;
	if (!mod || !dwfl_module_getelf(mod, &bias))
		return -ENOENT;
	*module = sym__intern(sym, dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
	*function = dwfl_module_addrinfo(mod, addr, &off, &s, NULL, NULL, NULL);
	return 0;
}

int symbolizer__symbol_address(struct symbolizer *sym, pid_t pid, uint64_t pc, const char *name,
			       uint64_t *addr)
{
	Dwfl *dwfl = proc_maps__dwfl(sym->maps, pid, pc);
	Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, pc) : NULL;
	int n = mod ? dwfl_module_getsymtab(mod) : -1;

	for (int i = 1; i < n; i++) {
		GElf_Addr value;
		GElf_Sym s;
		const char *si = dwfl_module_getsym_info(mod, i, &s, &value, NULL, NULL, NULL);

		if (si && s.st_shndx != SHN_UNDEF && !strcmp(si, name)) {
			*addr = value;
			return 0;
		}
	}
	return -ENOENT;
}

void symbolizer__stats(struct symbolizer *sym, struct symbolizer_stats *out)
{
	struct debug_files_stats ds;

	debug_files__stats(sym->debug, &ds);
	*out = sym->stats;
	out->cached = sym->cache.len;
	out->cache_max = SYM_CACHE_MAX;
	out->debug_open = ds.open;
	out->debug_max = DEBUG_FILES_MAX;
	out->debug_opened = ds.opened;
	out->debug_dropped = ds.dropped;
}

void symbolizer__forget(struct symbolizer *sym, pid_t pid)
{
	/* Results are cached by module contents, not by process, and stay. The maps (and so
	 * which modules a pid has) are proc_maps's, forgotten by its owner. */
	debug_files__forget(sym->debug, pid);
}
