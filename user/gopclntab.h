/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's own symbol and line table (.gopclntab): function names and file:line for any pc of a
 * Go binary, stripped ones included (stripping keeps it: the runtime needs it for tracebacks).
 * libdw cannot map Go's DWARF line tables to addresses (no .debug_aranges), so this is how
 * Go frames get their file:line. Every read is checked against the table's real size.
 */
#ifndef STRAND_GOPCLNTAB_H
#define STRAND_GOPCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gopclntab;

/* Reads the table of the Go binary at path; NULL with *err = -ENOEXEC (not Go / unknown
 * table version) or another -errno. */
struct gopclntab *gopclntab__open(const char *path, int *err);
/* The same over a table already in memory (copied); text_start is .text's address. */
struct gopclntab *gopclntab__from_mem(const void *table, size_t len, uint64_t text_start, int *err);
void gopclntab__close(struct gopclntab *t);

/*
 * The function holding pc (a link-time address) and the file:line of pc in it. Strings
 * live as long as the table. Returns 0 or -ENOENT.
 */
int gopclntab__resolve(struct gopclntab *t, uint64_t pc, const char **function, const char **file,
		       int *line);

/* Where the function called name starts and ends (link-time). 0 or -ENOENT. */
int gopclntab__function(struct gopclntab *t, const char *name, uint64_t *entry, uint64_t *end);

/* Whether pc (link-time) is exactly where a function starts. */
bool gopclntab__is_entry(struct gopclntab *t, uint64_t pc);

#endif /* STRAND_GOPCLNTAB_H */
