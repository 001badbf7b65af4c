/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Addresses in a process to function, file:line and module, inlined frames expanded, from
 * DWARF when the binary has it and symbol tables otherwise. Results are cached per binary
 * (build-id, or path when it has none) and address relative to the binary, so a library
 * shared by many processes is read once.
 */
#ifndef STRAND_SYMBOLIZE_H
#define STRAND_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One source-level frame. Strings are owned by the symbolizer and live as long as it. */
struct sym_frame {
	uint64_t pc;	      /* address in the process */
	uint64_t rel_pc;      /* address relative to the module's load bias */
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown; full path as in DWARF */
	int line;	      /* 0 when unknown */
	const char *module;   /* path of the ELF file, NULL when outside any mapping */
	bool inlined;	      /* this frame was inlined into the next one */
};

#define SYM_MAX_INLINE 8

struct proc_maps;
struct symbolizer;

struct symbolizer *symbolizer__new(struct proc_maps *maps);
void symbolizer__free(struct symbolizer *sym);

/*
 * Resolves pc in process pid into up to max frames, innermost inlined frame first, the
 * real (outer) function last. is_return_address: pc is a return address (all frames but
 * the first of a stack), so the call instruction is at pc - 1. Returns the number of
 * frames written (at least 1: an unknown address gives one frame with function NULL).
 */
int symbolizer__resolve(struct symbolizer *sym, pid_t pid, uint64_t pc, bool is_return_address,
			struct sym_frame *out, int max);

/* The module of pc (its path, kept as long as the symbolizer) and the name of the ELF
 * symbol around it (NULL when none), without reading debug information: cheap enough for a
 * process held still. 0, or -ENOENT when pc is in no module. */
int symbolizer__elf_symbol(struct symbolizer *sym, pid_t pid, uint64_t pc, bool is_return_address,
			   const char **module, const char **function);

/* The address in pid of the symbol name of the module that holds pc (its ELF symbol
 * tables). 0, or -ENOENT. */
int symbolizer__symbol_address(struct symbolizer *sym, pid_t pid, uint64_t pc, const char *name,
			       uint64_t *addr);

/* Statistics for the report's warnings. */
struct symbolizer_stats {
	uint64_t lookups, cache_hits, unknown; /* unknown: no module or no symbol */
	uint64_t modules_without_debuginfo;
	uint64_t cached, cache_max;	      /* addresses resolved and kept, and the bound */
	uint64_t debug_open, debug_max;	      /* builds with their debug data open */
	uint64_t debug_opened, debug_dropped; /* in all */
};
void symbolizer__stats(struct symbolizer *sym, struct symbolizer_stats *out);

void symbolizer__forget(struct symbolizer *sym, pid_t pid);

#endif /* STRAND_SYMBOLIZE_H */
