// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The layout is the Go runtime's (src/runtime/symtab.go, pcHeader and _func) as of Go 1.18
 * (magic 0xfffffff0) and 1.20 (0xfffffff1, which added _func.startLine after the fields
 * read here). Older tables (Go 1.16-1.17) are refused rather than misread.
 */
#include "gopclntab.h"
#include "util.h"

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
#define FUNC_CUOFFSET 32
#define FUNC_MIN_SIZE 36

struct gopclntab {
	uint8_t *data;
	size_t len;
	uint8_t quantum;
	uint64_t nfunc, text_start;
	uint64_t funcname, cu, filetab, pctab, pcln; /* offsets into data */
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
	t->nfunc = hdr[0];
	/* hdr[1] is nfiles; hdr[2] textStart, relocated at run time in PIE (0 in the file) */
	t->text_start = hdr[2] ? hdr[2] : text_start;
	t->funcname = hdr[3];
	t->cu = hdr[4];
	t->filetab = hdr[5];
	t->pctab = hdr[6];
	if (!get64(t, 64, &t->pcln) || t->nfunc > len / 8 || t->pcln > len ||
	    (len - t->pcln) / 8 < t->nfunc + 1 || t->funcname > len || t->cu > len ||
	    t->filetab > len || t->pctab > len)
		goto fail;
	*err = 0;
	return t;
fail:
	gopclntab__close(t);
	return NULL;
}

/* .gopclntab's contents and .text's address, from the ELF file. */
struct gopclntab *gopclntab__open(const char *path, int *err)
{
	struct gopclntab *t = NULL;
	uint64_t text = 0;
	Elf_Scn *scn = NULL;
	Elf_Data *table = NULL;
	size_t shstrndx;
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
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getshdrstrndx(elf, &shstrndx)) {
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) ||
			    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
				continue;
			if (!strcmp(name, ".text"))
				text = sh.sh_addr;
			/* PIE builds put it among the relocated read-only data */
			else if ((!strcmp(name, ".gopclntab") ||
				  !strcmp(name, ".data.rel.ro.gopclntab")) &&
				 sh.sh_type != SHT_NOBITS)
				table = elf_getdata(scn, NULL);
		}
		if (table && table->d_buf)
			t = gopclntab__from_mem(table->d_buf, table->d_size, text, err);
	}
	elf_end(elf);
	close(fd);
	return t;
}

void gopclntab__close(struct gopclntab *t)
{
	if (!t)
		return;
	free(t->data);
	free(t);
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

/* The value a pc-value table (pcfile, pcln) gives at target; -1 when it has none. */
static int64_t pcvalue(const struct gopclntab *t, uint32_t table_off, uint64_t entry,
		       uint64_t target)
{
	uint64_t off = t->pctab + table_off, pc = entry;
	int64_t val = -1;

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

int gopclntab__resolve(struct gopclntab *t, uint64_t pc, const char **function, const char **file,
		       int *line)
{
	uint32_t entryoff, pcfile = 0, pcln = 0, cuoff = 0, fileoff;
	uint64_t i, f;
	int64_t fileno, ln;

	*function = *file = NULL;
	*line = 0;
	if (pc < t->text_start || find_function(t, pc - t->text_start, &i) ||
	    !get32(t, t->pcln + 8 * i, &entryoff) || !(*function = function_name(t, i, &f)))
		return -ENOENT;
	get32(t, f + FUNC_PCFILE, &pcfile);
	get32(t, f + FUNC_PCLN, &pcln);
	get32(t, f + FUNC_CUOFFSET, &cuoff);
	ln = pcvalue(t, pcln, t->text_start + entryoff, pc);
	fileno = pcvalue(t, pcfile, t->text_start + entryoff, pc);
	if (ln > 0 && ln <= INT32_MAX)
		*line = (int)ln;
	if (fileno >= 0 && get32(t, t->cu + 4 * ((uint64_t)cuoff + (uint64_t)fileno), &fileoff) &&
	    fileoff != UINT32_MAX)
		*file = string_at(t, t->filetab + fileoff);
	return 0;
}
