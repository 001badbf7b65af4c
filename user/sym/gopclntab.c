// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The layout is the Go runtime's (src/runtime/symtab.go, pcHeader, _func, moduledata; and
 * symtabinl.go for inlinedCall from Go 1.21) as of Go 1.18 (magic 0xfffffff0, also Go 1.19)
 * and 1.20 (0xfffffff1, unchanged through Go 1.27 for what is read here). Older tables
 * (Go 1.16-1.17) are refused rather than misread.
 */
#include "sym/gopclntab.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC_GO118	  0xfffffff0u
#define MAGIC_GO120	  0xfffffff1u
#define MAX_PCVALUE_STEPS 1000000 /* a function with more steps is not real */

/* _func fields strand reads, offsets from the start of a _func record */
#define FUNC_ENTRYOFF 0
#define FUNC_NAMEOFF  4
#define FUNC_PCFILE   20
#define FUNC_PCLN     24
#define FUNC_NPCDATA  28
#define FUNC_CUOFFSET 32
#define FUNC_MIN_SIZE 36
/* Then funcID, flag, a pad byte and nfuncdata, and the pcdata[npcdata] and
 * funcdata[nfuncdata] offsets; Go 1.20 put startLine (4 bytes) before funcID. */
#define FUNC_NFUNCDATA_GO118 39
#define FUNC_PCDATA_GO118    40
#define FUNC_NFUNCDATA_GO120 43
#define FUNC_PCDATA_GO120    44

#define PCDATA_INLTREEINDEX 2 /* _PCDATA_InlTreeIndex */
#define FUNCDATA_INLTREE    3 /* _FUNCDATA_InlTree */

/*
 * inlinedCall, an element of a function's inline tree. Go 1.18-1.19: parent int16, funcID,
 * a pad byte, file, line, func_ (name offset), parentPc, all int32 (20 bytes); the file and
 * line there duplicate what the pc tables give at parentPc, which is what the runtime prints.
 * Go 1.20+: funcID, 3 pad bytes, nameOff, parentPc, startLine (16 bytes).
 */
#define INL_SIZE_GO118	   20
#define INL_NAMEOFF_GO118  12
#define INL_PARENTPC_GO118 16
#define INL_SIZE_GO120	   16
#define INL_NAMEOFF_GO120  4
#define INL_PARENTPC_GO120 8

/*
 * moduledata, in 8-byte words: pcHeader, then the slices (3 words each) funcnametab, cutab,
 * filetab, pctab, pclntable (each a pointer into the table), ... text at word 22 in every
 * version read here. gofunc follows rodata: word 38 in Go 1.18-1.19, 40 from Go 1.20 (covctrs
 * and ecovctrs came before it), checked through Go 1.26.
 */
#define MD_PCHEADER	0
#define MD_FUNCNAMETAB	1
#define MD_CUTAB	4
#define MD_FILETAB	7
#define MD_PCTAB	10
#define MD_PCLNTABLE	13
#define MD_TEXT		22
#define MD_GOFUNC_GO118 38
#define MD_GOFUNC_GO120 40
/* Go 1.18-1.19: types and etypes come three and two words before gofunc (then rodata) */
#define MD_TYPES_BEFORE_GOFUNC 3
#define MD_TYPES_GO120	       37 /* Go 1.20 on: types; where gofunc is, see types_and_gofunc */
#define MD_WORDS_SEARCHED      48
#define MAX_GOFUNC_LEN	       (1ull << 30) /* more go:func.* than this is no real binary */
/* where text ends past this, entry offsets (32 bits) would wrap around the address space */
#define MAX_TEXT_START (UINT64_MAX - 2ull * UINT32_MAX)

struct gopclntab {
	uint8_t *data;
	size_t len;
	uint8_t quantum;
	bool go120, header_text; /* text_start from the header, not the caller */
	uint64_t nfunc, text_start;
	uint64_t funcname, cu, filetab, pctab, pcln; /* offsets into data */
	uint64_t types, etypes; /* moduledata's: where type names are (link-time), 0: unknown */
	const uint8_t *gofunc;	/* go:func.*: in data or gofunc_own */
	uint64_t gofunc_len;
	uint8_t *gofunc_own;
};

/* A function, found by pc. */
struct func_info {
	uint64_t rec;	     /* offset of its _func record in data */
	uint64_t entry, end; /* link-time */
	const char *name;
};

static bool get32(const struct gopclntab *t, uint64_t off, uint32_t *v)
{
	if (off > t->len || t->len - off < 4)
		return false;
	memcpy(v, t->data + off, 4);
	return true;
}

static bool get64(const struct gopclntab *t, uint64_t off, uint64_t *v)
{
	if (off > t->len || t->len - off < 8)
		return false;
	memcpy(v, t->data + off, 8);
	return true;
}

static bool gofunc32(const struct gopclntab *t, uint64_t off, uint32_t *v)
{
	if (!t->gofunc || off > t->gofunc_len || t->gofunc_len - off < 4)
		return false;
	memcpy(v, t->gofunc + off, 4);
	return true;
}

/* A NUL-terminated string at off, or NULL when it runs off the table. */
static const char *string_at(const struct gopclntab *t, uint64_t off)
{
	if (off >= t->len || !memchr(t->data + off, '\0', t->len - off))
		return NULL;
	return (const char *)t->data + off;
}

struct gopclntab *gopclntab__from_mem(const void *table, size_t len, uint64_t text_start, int *err)
{
	struct gopclntab *t = xcalloc(1, sizeof(*t));
	uint32_t magic;
	uint64_t hdr[7];

	t->data = xcalloc(len ? len : 1, 1);
	memcpy(t->data, table, len);
	t->len = len;
	*err = -ENOEXEC;
	/* magic, two pad bytes, quantum, pointer size, then seven words */
	if (!get32(t, 0, &magic) || (magic != MAGIC_GO118 && magic != MAGIC_GO120) || len < 64 ||
	    t->data[7] != 8 || !t->data[6])
		goto fail;
	for (int i = 0; i < 7; i++)
		get64(t, 8 + 8 * (uint64_t)i, &hdr[i]);
	t->quantum = t->data[6];
	t->go120 = magic == MAGIC_GO120;
	t->nfunc = hdr[0];
	/* hdr[1] is nfiles; hdr[2] textStart, relocated at run time in PIE (0 in the file) and
	 * 0 in Go 1.26 */
	t->text_start = hdr[2] ? hdr[2] : text_start;
	t->header_text = hdr[2] != 0;
	t->funcname = hdr[3];
	t->cu = hdr[4];
	t->filetab = hdr[5];
	t->pctab = hdr[6];
	if (!get64(t, 64, &t->pcln) || t->text_start > MAX_TEXT_START || t->nfunc > len / 8 ||
	    t->pcln > len || (len - t->pcln) / 8 < t->nfunc + 1 || t->funcname > len ||
	    t->cu > len || t->filetab > len || t->pctab > len)
		goto fail;
	*err = 0;
	return t;
fail:
	gopclntab__close(t);
	return NULL;
}

void gopclntab__set_gofunc(struct gopclntab *t, const void *gofunc, size_t len)
{
	free(t->gofunc_own);
	t->gofunc_own = xcalloc(len ? len : 1, 1);
	memcpy(t->gofunc_own, gofunc, len);
	t->gofunc = t->gofunc_own;
	t->gofunc_len = len;
}

bool gopclntab__types(const struct gopclntab *t, uint64_t *types, uint64_t *etypes)
{
	*types = t->types;
	*etypes = t->etypes;
	return t->types != 0;
}

bool gopclntab__has_inline(const struct gopclntab *t)
{
	return t->gofunc != NULL;
}

void gopclntab__close(struct gopclntab *t)
{
	if (!t)
		return;
	free(t->gofunc_own);
	free(t->data);
	free(t);
}

/* An allocated section of the binary with contents. */
struct elf_sect {
	Elf_Scn *scn;
	uint64_t addr, size;
	bool writable, exec;
};

static const uint8_t *sect_data(struct elf_sect *s, size_t *len)
{
	Elf_Data *d = elf_getdata(s->scn, NULL);

	if (!d || !d->d_buf || d->d_size < s->size)
		return NULL;
	*len = d->d_size;
	return d->d_buf;
}

/* A read-only section (not code) starts at addr; or, with within, addr lies in one. */
static bool in_rodata_section(const struct elf_sect *sects, int n, uint64_t addr, bool within)
{
	for (int i = 0; i < n; i++)
		if (!sects[i].writable && !sects[i].exec && sects[i].size &&
		    (within ? addr - sects[i].addr < sects[i].size : addr == sects[i].addr))
			return true;
	return false;
}

/*
 * Go 1.20 on: types and etypes, then rodata and gofunc, found by what they hold rather than
 * where one release put them. Go 1.20-1.26: types (word 37), etypes, rodata, gofunc (40);
 * Go 1.27 put its types in a section of their own, a length after types and two words
 * after etypes: types (37), ., etypes (39), ., ., rodata, gofunc (43). gofunc is the last
 * word within the first MD_WORDS_SEARCHED that follows the start of a read-only section
 * (rodata) and lies in one; etypes is the first address past types.
 */
static void types_and_gofunc(struct gopclntab *t, const struct elf_sect *sects, int n,
			     const uint8_t *md, uint64_t *gofunc)
{
	uint64_t w[MD_WORDS_SEARCHED];
	int at = MD_GOFUNC_GO120;

	memcpy(w, md, sizeof(w));
	for (int i = MD_WORDS_SEARCHED - 1; i > MD_TYPES_GO120; i--)
		if (in_rodata_section(sects, n, w[i - 1], false) &&
		    in_rodata_section(sects, n, w[i], true) && w[i] != w[i - 1]) {
			at = i;
			break;
		}
	*gofunc = w[at];
	t->types = w[MD_TYPES_GO120];
	t->etypes = 0;
	for (int i = MD_TYPES_GO120 + 1; i < at - 1 && !t->etypes; i++)
		if (w[i] > t->types && w[i] - t->types < MAX_GOFUNC_LEN)
			t->etypes = w[i];
	if (!t->etypes)
		t->types = 0;
}

/*
 * The runtime's moduledata for the table at table_addr: its text and gofunc. It is the only
 * record of where go:func.* is once the symbol table is stripped. Its first words point into
 * the table where the header says; they are link-time addresses in the file, PIE included
 * (the linkers write the addends of the relocations in place too). 0 or -ENOENT.
 */
static int find_moduledata(struct gopclntab *t, struct elf_sect *sects, int n, uint64_t table_addr,
			   uint64_t *text, uint64_t *gofunc)
{
	static const int word[] = {MD_PCHEADER, MD_FUNCNAMETAB, MD_CUTAB,
				   MD_FILETAB,	MD_PCTAB,	MD_PCLNTABLE};
	const uint64_t want[] = {table_addr,
				 table_addr + t->funcname,
				 table_addr + t->cu,
				 table_addr + t->filetab,
				 table_addr + t->pctab,
				 table_addr + t->pcln};
	int gofunc_word = t->go120 ? MD_GOFUNC_GO120 : MD_GOFUNC_GO118;
	size_t md_size = 8 * (size_t)(t->go120 ? MD_WORDS_SEARCHED : gofunc_word + 1);

	for (int i = 0; i < n; i++) {
		const uint8_t *d;
		size_t len;

		if (!sects[i].writable || !(d = sect_data(&sects[i], &len)) || len < md_size)
			continue;
		for (size_t off = (8 - sects[i].addr % 8) % 8; off <= len - md_size; off += 8) {
			int k = 0;

			for (uint64_t w; k < 6; k++) {
				memcpy(&w, d + off + 8 * word[k], 8);
				if (w != want[k])
					break;
			}
			if (k < 6)
				continue;
			memcpy(text, d + off + 8 * MD_TEXT, 8);
			if (t->go120) {
				types_and_gofunc(t, sects, n, d + off, gofunc);
				return 0;
			}
			memcpy(gofunc, d + off + 8 * (size_t)gofunc_word, 8);
			memcpy(&t->types,
			       d + off + 8 * (size_t)(gofunc_word - MD_TYPES_BEFORE_GOFUNC), 8);
			memcpy(&t->etypes,
			       d + off + 8 * (size_t)(gofunc_word - MD_TYPES_BEFORE_GOFUNC + 1), 8);
			if (t->etypes <= t->types)
				t->types = t->etypes = 0;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * What moduledata adds to a table: its text where the header has none (Go 1.26; and an
 * external linker's .text starts with C code), and go:func.*. false when it has no
 * moduledata or one that disagrees with the header.
 */
static bool attach_moduledata(struct gopclntab *t, struct elf_sect *sects, int n,
			      uint64_t table_addr)
{
	uint64_t text, gofunc;

	if (find_moduledata(t, sects, n, table_addr, &text, &gofunc) ||
	    (t->header_text && text != t->text_start) || text > MAX_TEXT_START) {
		t->types = t->etypes = 0;
		return false;
	}
	t->text_start = text;
	for (int i = 0; gofunc && i < n; i++) {
		const uint8_t *d;
		size_t len;

		if (gofunc < sects[i].addr || gofunc - sects[i].addr >= sects[i].size)
			continue;
		if (gofunc >= table_addr && gofunc - table_addr < t->len) {
			/* Go 1.26 put go:func.* in .gopclntab: no second copy */
			t->gofunc = t->data + (gofunc - table_addr);
			t->gofunc_len = t->len - (gofunc - table_addr);
		} else if ((d = sect_data(&sects[i], &len))) {
			len -= gofunc - sects[i].addr;
			gopclntab__set_gofunc(t, d + (gofunc - sects[i].addr),
					      len < MAX_GOFUNC_LEN ? len : MAX_GOFUNC_LEN);
		}
		break;
	}
	return true;
}

/*
 * A table with no section of its own (an external linker merges it into .data.rel.ro in
 * PIE): a header at an 8-byte boundary of a data section that moduledata points at.
 */
static struct gopclntab *search_table(struct elf_sect *sects, int n, uint64_t text, int *err)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *d;
		size_t len;

		if (sects[i].exec || !(d = sect_data(&sects[i], &len)) || len < 72)
			continue;
		for (size_t off = (8 - sects[i].addr % 8) % 8; off <= len - 72; off += 8) {
			struct gopclntab *t;
			uint32_t magic;

			memcpy(&magic, d + off, 4);
			if ((magic != MAGIC_GO118 && magic != MAGIC_GO120) || d[off + 4] ||
			    d[off + 5] || d[off + 7] != 8 ||
			    !(t = gopclntab__from_mem(d + off, len - off, text, err)))
				continue;
			if (attach_moduledata(t, sects, n, sects[i].addr + off))
				return t;
			gopclntab__close(t);
		}
	}
	*err = -ENOEXEC;
	return NULL;
}

/* .gopclntab's contents and .text's address, from the ELF file; go:func.* from moduledata. */
struct gopclntab *gopclntab__from_elf(Elf *elf, int *err)
{
	struct gopclntab *t = NULL;
	struct elf_sect *sects = NULL;
	const uint8_t *d;
	uint64_t text = 0;
	Elf_Scn *scn = NULL;
	size_t shstrndx, len;
	int n = 0, cap = 0, table = -1;
	bool go = false;

	*err = -ENOEXEC;
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".text"))
			text = sh.sh_addr;
		go |= !strcmp(name, ".go.buildinfo");
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			sects = xrealloc(sects, cap * sizeof(*sects));
		}
		/* internally linked PIE puts it among the relocated read-only data */
		if (!strcmp(name, ".gopclntab") || !strcmp(name, ".data.rel.ro.gopclntab"))
			table = n;
		sects[n++] = (struct elf_sect){scn, sh.sh_addr, sh.sh_size, sh.sh_flags & SHF_WRITE,
					       sh.sh_flags & SHF_EXECINSTR};
	}
	if (table >= 0 && (d = sect_data(&sects[table], &len)) &&
	    (t = gopclntab__from_mem(d, len, text, err)))
		attach_moduledata(t, sects, n, sects[table].addr);
	else if (table < 0 && go)
		t = search_table(sects, n, text, err);
	free(sects);
	return t;
}

struct gopclntab *gopclntab__open(const char *path, int *err)
{
	struct gopclntab *t;
	Elf *elf;
	int fd;

	*err = -ENOEXEC;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	t = gopclntab__from_elf(elf, err);
	elf_end(elf);
	close(fd);
	return t;
}

static bool read_uvarint(const struct gopclntab *t, uint64_t *off, uint32_t *v)
{
	uint32_t result = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (*off >= t->len)
			return false;
		b = t->data[(*off)++];
		result |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = result;
			return true;
		}
	}
	return false;
}

/* The value a pc-value table (pcfile, pcln, a pcdata) gives at target; -1 when it has none
 * (offset 0 is no table, as for the runtime). */
static int64_t pcvalue(const struct gopclntab *t, uint32_t table_off, uint64_t entry,
		       uint64_t target)
{
	uint64_t off = t->pctab + table_off, pc = entry;
	int64_t val = -1;

	if (!table_off)
		return -1;
	for (int step = 0; step < MAX_PCVALUE_STEPS; step++) {
		uint32_t uvdelta, pcdelta;

		if (!read_uvarint(t, &off, &uvdelta) || (uvdelta == 0 && step > 0))
			return -1;
		/* zig-zag: the low bit is the sign */
		val += uvdelta & 1 ? -(int64_t)(uvdelta >> 1) - 1 : (int64_t)(uvdelta >> 1);
		if (!read_uvarint(t, &off, &pcdelta))
			return -1;
		pc += (uint64_t)pcdelta * t->quantum;
		if (target < pc)
			return val;
	}
	return -1;
}

/* Index of the function holding rel (an offset from text_start) in the functab: nfunc+1
 * (entry offset, _func offset) pairs sorted by entry, the last one the end of text. */
static int find_function(const struct gopclntab *t, uint64_t rel, uint64_t *index)
{
	uint64_t lo = 0, hi = t->nfunc;
	uint32_t entryoff;

	if (!t->nfunc || !get32(t, t->pcln + 8 * t->nfunc, &entryoff) || rel >= entryoff)
		return -ENOENT;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (!get32(t, t->pcln + 8 * mid, &entryoff))
			return -ENOENT;
		if (entryoff <= rel)
			lo = mid;
		else
			hi = mid;
	}
	if (!get32(t, t->pcln + 8 * lo, &entryoff) || entryoff > rel)
		return -ENOENT;
	*index = lo;
	return 0;
}

/* The name of function index i, or NULL. */
static const char *function_name(const struct gopclntab *t, uint64_t i, uint64_t *func)
{
	uint32_t funcoff, nameoff;

	if (!get32(t, t->pcln + 8 * i + 4, &funcoff))
		return NULL;
	*func = t->pcln + funcoff;
	if (*func > t->len || t->len - *func < FUNC_MIN_SIZE ||
	    !get32(t, *func + FUNC_NAMEOFF, &nameoff))
		return NULL;
	return string_at(t, t->funcname + nameoff);
}

/* The function holding pc (link-time). */
static int function_at(const struct gopclntab *t, uint64_t pc, struct func_info *fi)
{
	uint32_t lo, hi;
	uint64_t i;

	if (pc < t->text_start || find_function(t, pc - t->text_start, &i) ||
	    !get32(t, t->pcln + 8 * i, &lo) || !get32(t, t->pcln + 8 * (i + 1), &hi) ||
	    !(fi->name = function_name(t, i, &fi->rec)))
		return -ENOENT;
	fi->entry = t->text_start + lo;
	fi->end = t->text_start + hi; /* > pc: find_function found it below the next entry */
	return 0;
}

bool gopclntab__is_entry(struct gopclntab *t, uint64_t pc)
{
	uint64_t i;
	uint32_t entryoff;

	return pc >= t->text_start && !find_function(t, pc - t->text_start, &i) &&
	       get32(t, t->pcln + 8 * i, &entryoff) && entryoff == pc - t->text_start;
}

int gopclntab__function(struct gopclntab *t, const char *name, uint64_t *entry, uint64_t *end)
{
	for (uint64_t i = 0; i < t->nfunc; i++) {
		uint32_t lo, hi;
		uint64_t func;
		const char *n = function_name(t, i, &func);

		if (!n || strcmp(n, name))
			continue;
		if (!get32(t, t->pcln + 8 * i, &lo) || !get32(t, t->pcln + 8 * (i + 1), &hi) ||
		    hi < lo)
			return -ENOENT;
		*entry = t->text_start + lo;
		*end = t->text_start + hi;
		return 0;
	}
	return -ENOENT;
}

/* The file:line of pc in the function: where the instruction's code is in the source. */
static void file_line(const struct gopclntab *t, const struct func_info *fi, uint64_t pc,
		      const char **file, int *line)
{
	uint32_t pcfile = 0, pcln = 0, cuoff = 0, fileoff;
	int64_t fileno, ln;

	*file = NULL;
	*line = 0;
	get32(t, fi->rec + FUNC_PCFILE, &pcfile);
	get32(t, fi->rec + FUNC_PCLN, &pcln);
	get32(t, fi->rec + FUNC_CUOFFSET, &cuoff);
	ln = pcvalue(t, pcln, fi->entry, pc);
	fileno = pcvalue(t, pcfile, fi->entry, pc);
	if (ln > 0 && ln <= INT32_MAX)
		*line = (int)ln;
	if (fileno >= 0 && get32(t, t->cu + 4 * ((uint64_t)cuoff + (uint64_t)fileno), &fileoff) &&
	    fileoff != UINT32_MAX)
		*file = string_at(t, t->filetab + fileoff);
}

/* The function's PCDATA_InlTreeIndex table and FUNCDATA_InlTree offset (into go:func.*);
 * false when it has no inlined calls or they cannot be read. */
static bool inline_tables(const struct gopclntab *t, const struct func_info *fi, uint32_t *pcdata,
			  uint32_t *tree)
{
	uint64_t pcdata_at = fi->rec + (t->go120 ? FUNC_PCDATA_GO120 : FUNC_PCDATA_GO118);
	uint64_t nfuncdata_at = fi->rec + (t->go120 ? FUNC_NFUNCDATA_GO120 : FUNC_NFUNCDATA_GO118);
	uint32_t npcdata;

	if (!t->gofunc || !get32(t, fi->rec + FUNC_NPCDATA, &npcdata) ||
	    npcdata <= PCDATA_INLTREEINDEX || nfuncdata_at >= t->len ||
	    t->data[nfuncdata_at] <= FUNCDATA_INLTREE)
		return false;
	return get32(t, pcdata_at + 4 * PCDATA_INLTREEINDEX, pcdata) && *pcdata &&
	       get32(t, pcdata_at + 4 * (uint64_t)npcdata + 4 * FUNCDATA_INLTREE, tree) &&
	       *tree != UINT32_MAX;
}

/* Writes a frame; past max, the last slot takes it, so the physical function stays last. */
static void push(const struct gopclntab *t, const struct func_info *fi, uint64_t pc,
		 const char *name, bool inlined, struct go_frame *out, int max, int *n)
{
	int slot = *n < max ? (*n)++ : max - 1;
	struct go_frame *f = &out[slot];

	f->function = name;
	f->inlined = inlined;
	f->file = NULL;
	f->line = 0;
	/* an inlined call in the last slot is overwritten by an outer frame: no need */
	if (!inlined || slot < max - 1)
		file_line(t, fi, pc, &f->file, &f->line);
}

int gopclntab__resolve_inline(struct gopclntab *t, uint64_t pc, struct go_frame *out, int max)
{
	uint32_t pcdata, tree, nameoff, parentpc;
	uint64_t size = t->go120 ? INL_SIZE_GO120 : INL_SIZE_GO118;
	uint64_t name_at = t->go120 ? INL_NAMEOFF_GO120 : INL_NAMEOFF_GO118;
	uint64_t parent_at = t->go120 ? INL_PARENTPC_GO120 : INL_PARENTPC_GO118;
	int64_t ix, prev = INT64_MAX;
	struct func_info fi;
	bool inlines;
	int n = 0;

	if (max <= 0 || function_at(t, pc, &fi))
		return -ENOENT;
	inlines = inline_tables(t, &fi, &pcdata, &tree);
	/* As the runtime's inlineUnwinder: the tree index at pc is the innermost inlined
	 * call; its parentPc is an instruction of the caller, whose index is the next one. */
	for (int depth = 0; inlines && depth < GO_MAX_INLINE_DEPTH; depth++) {
		const char *name;
		uint64_t call;

		/* A function's tree lists a call after its caller's (cmd/internal/obj,
		 * pcinlineState.addBranch): an index that does not go down is a corrupt
		 * table, and no cycle can be walked. */
		ix = pcvalue(t, pcdata, fi.entry, pc);
		if (ix < 0 || ix >= prev)
			break;
		call = tree + (uint64_t)ix * size;
		if (!gofunc32(t, call + name_at, &nameoff) ||
		    !(name = string_at(t, t->funcname + nameoff)))
			break;
		push(t, &fi, pc, name, true, out, max, &n);
		if (!gofunc32(t, call + parent_at, &parentpc) || parentpc >= fi.end - fi.entry)
			break;
		pc = fi.entry + parentpc;
		prev = ix;
	}
	push(t, &fi, pc, fi.name, false, out, max, &n);
	return n;
}

int gopclntab__resolve(struct gopclntab *t, uint64_t pc, const char **function, const char **file,
		       int *line)
{
	struct go_frame f;

	*function = *file = NULL;
	*line = 0;
	if (gopclntab__resolve_inline(t, pc, &f, 1) < 0)
		return -ENOENT;
	*function = f.function;
	*file = f.file;
	*line = f.line;
	return 0;
}
