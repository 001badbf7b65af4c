/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ELF files opened once for every process that maps them. Each process's libdw session gets
 * its own reference to one mapped descriptor per file (libelf counts them), not a mapping
 * and a file descriptor of its own: the C library mapped by every process of a machine is
 * one mapping in strand, its pages counted once. A file is known by device, inode, size and
 * modification time, so a library replaced on disk is a new file.
 */
#ifndef STRAND_ELFFILES_H
#define STRAND_ELFFILES_H

#include <stddef.h>
#include <libelf.h>

struct elf_files;
struct elf_file;

struct elf_files *elf_files__new(void);
/* Every file must have been put back. */
void elf_files__free(struct elf_files *ef);

/* A reference to the ELF file open at fd (always closed here): the descriptor already open
 * for the same file, or a new one. The caller ends it with elf_end() and then gives *handle
 * back with elf_files__put(). NULL when fd is not an ELF file. */
Elf *elf_files__get(struct elf_files *ef, int fd, struct elf_file **handle);
void elf_files__put(struct elf_files *ef, struct elf_file *f);

/* Files open now. */
size_t elf_files__count(const struct elf_files *ef);

#endif /* STRAND_ELFFILES_H */
