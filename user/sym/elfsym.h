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

/* Link-time address of the variable name (an STT_OBJECT symbol); 0, -ENOENT (absent: a
 * stripped file) or another negative errno. */
int elfsym__variable_address(const char *path, const char *name, uint64_t *vaddr);

/* Link-time address of the file's first loaded page (its lowest PT_LOAD, page aligned):
 * where its mapping of file offset 0 starts, less its load bias. 0 or a negative errno. */
int elfsym__load_vaddr(const char *path, uint64_t *vaddr);

/* Where glibc keeps field of its thread descriptor (struct pthread), as it publishes it
 * for debuggers: the _thread_db_<field> symbol (libthread_db's layout descriptors, in
 * libc.so since 2.34, libpthread.so before), e.g. "pthread_start_routine". Only a one-
 * pointer field is accepted. 0 or a negative errno (-ENOENT: not a glibc that has it). */
int elfsym__thread_db_field(const char *path, const char *field, uint32_t *offset);
/* The offset a _thread_db_ descriptor (size in bits, count, offset) gives for a one-pointer
 * field; 0 or -ENOEXEC when it describes anything else. */
int elfsym__thread_db_pointer(const uint32_t desc[3], uint32_t *offset);

/* The file's allocated, writable sections (.data, .bss, .noptrdata, ...): link-time address
 * and size of at most max of them. How many, or -errno. */
struct elf_range {
	uint64_t addr, size;
};
int elfsym__writable(const char *path, struct elf_range *out, int max);

#endif /* STRAND_ELFSYM_H */
