/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's own symbol and line table (.gopclntab): function names and file:line for any pc of a
 * Go binary, stripped ones included (stripping keeps it: the runtime needs it for tracebacks).
 * libdw cannot map Go's DWARF line tables to addresses (no .debug_aranges), so this is how
 * Go frames get their file:line. Every read is checked against the table's real size.
 *
 * Inlined calls are expanded as the runtime's own traceback does. A function's inline tree
 * (FUNCDATA_InlTree) is in go:func.* (in .rodata; in .gopclntab from Go 1.26), which only the
 * runtime's moduledata locates once the binary is stripped: gopclntab__open finds it, and the
 * table itself where an external linker left it no section of its own (PIE with cgo).
 */
#ifndef STRAND_GOPCLNTAB_H
#define STRAND_GOPCLNTAB_H

#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gopclntab;

/* One source-level frame at a pc, as Go's traceback prints it. Strings live as long as the
 * table. */
struct go_frame {
	const char *function; /* never NULL */
	const char *file;     /* NULL when the table has none */
	int line;	      /* 0 when unknown */
	bool inlined;	      /* inlined into the next frame */
};

/* No real chain of inlined calls is this deep; a longer one is a corrupt table. */
#define GO_MAX_INLINE_DEPTH 64

/* Reads the table of the Go binary at path; NULL with *err = -ENOEXEC (not Go / unknown
 * table version) or another -errno. */
struct gopclntab *gopclntab__open(const char *path, int *err);
/* The same from an ELF already open (libdw's); the table is copied, elf can be ended. */
struct gopclntab *gopclntab__from_elf(Elf *elf, int *err);
/* The same over a table already in memory (copied); text_start is .text's address. Without
 * gopclntab__set_gofunc it has no inline trees. */
struct gopclntab *gopclntab__from_mem(const void *table, size_t len, uint64_t text_start, int *err);
/* The bytes from go:func.* (moduledata.gofunc) on, where FUNCDATA offsets point (copied). */
void gopclntab__set_gofunc(struct gopclntab *t, const void *gofunc, size_t len);
void gopclntab__close(struct gopclntab *t);

/* Where the module's types are (moduledata.types, .etypes; link-time): a type's name is at
 * an offset from types. false when its moduledata was not found. */
bool gopclntab__types(const struct gopclntab *t, uint64_t *types, uint64_t *etypes);

/* Whether inline trees can be read: go:func.* was found. */
bool gopclntab__has_inline(const struct gopclntab *t);

/*
 * The frames at pc (a link-time address), innermost inlined call first, the physical
 * function last; each with the file:line it is at (for an outer frame, its call of the next
 * inner one). At most max frames: a deeper chain keeps the innermost max - 1 and the
 * physical function. Returns how many were written (>= 1), or -ENOENT.
 */
int gopclntab__resolve_inline(struct gopclntab *t, uint64_t pc, struct go_frame *out, int max);

/*
 * The outermost frame at pc: the function holding pc (a link-time address) and the file:line
 * in it, which for inlined code is that of the call it was inlined from (the last frame of
 * gopclntab__resolve_inline). Without inline trees (gopclntab__has_inline false) the file:line
 * is that of the innermost code. Strings live as long as the table. Returns 0 or -ENOENT.
 */
int gopclntab__resolve(struct gopclntab *t, uint64_t pc, const char **function, const char **file,
		       int *line);

/* Where the function called name starts and ends (link-time). 0 or -ENOENT. */
int gopclntab__function(struct gopclntab *t, const char *name, uint64_t *entry, uint64_t *end);

/* Whether pc (link-time) is exactly where a function starts. */
bool gopclntab__is_entry(struct gopclntab *t, uint64_t pc);

#endif /* STRAND_GOPCLNTAB_H */
