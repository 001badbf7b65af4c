/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding functions in ELF files for uprobes: symbol -> file offset of a probe point. */
#ifndef STRAND_ELFSYM_H
#define STRAND_ELFSYM_H

#include <stdint.h>

/*
 * File offset of function name in the ELF file at path (symbol tables, .dynsym first), moved
 * past a leading endbr64: uprobes on it are single-stepped, the instruction after is
 * emulated on x86 and the frame is unchanged. Returns 0 or a negative errno (-ENOENT when
 * the symbol is absent, -ENOEXEC when the file is not a usable ELF).
 */
int elfsym__probe_offset(const char *path, const char *name, uint64_t *offset);
/* File offset of the code at link-time address vaddr (an executable PT_LOAD segment's,
 * inside the file); 0 or a negative errno. */
int elfsym__file_offset(const char *path, uint64_t vaddr, uint64_t *offset);

/* The file's allocated, writable sections (.data, .bss, .noptrdata, ...): link-time address
 * and size of at most max of them. How many, or -errno. */
struct elf_range {
	uint64_t addr, size;
};
int elfsym__writable(const char *path, struct elf_range *out, int max);

#endif /* STRAND_ELFSYM_H */
