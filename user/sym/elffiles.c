// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/elffiles.h"
#include "lib/hashmap.h"
#include "lib/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct elf_file {
	uint64_t key;
	Elf *elf; /* the cache's own reference */
	size_t users;
};

struct elf_files {
	struct hashmap by_key; /* file key -> struct elf_file */
};

struct elf_files *elf_files__new(void)
{
	struct elf_files *ef = xcalloc(1, sizeof(*ef));

	hashmap__init(&ef->by_key);
	return ef;
}

void elf_files__free(struct elf_files *ef)
{
	uint64_t key;
	void *val;

	if (!ef)
		return;
	for (size_t i = 0; hashmap__next(&ef->by_key, &i, &key, &val);) {
		struct elf_file *f = val;

		elf_end(f->elf);
		free(f);
	}
	hashmap__free(&ef->by_key);
	free(ef);
}

Elf *elf_files__get(struct elf_files *ef, int fd, struct elf_file **handle)
{
	struct elf_file *f;
	struct stat st;
	Elf *elf;

	*handle = NULL;
	if (fstat(fd, &st)) {
		close(fd);
		return NULL;
	}
	f = hashmap__get(&ef->by_key, file_key(&st));
	if (!f) {
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		/* the whole file mapped (or read, where it cannot be), its fd let go */
		if (!elf || elf_kind(elf) != ELF_K_ELF || elf_cntl(elf, ELF_C_FDREAD)) {
			elf_end(elf);
			close(fd);
			return NULL;
		}
		f = xcalloc(1, sizeof(*f));
		f->key = file_key(&st);
		f->elf = elf;
		hashmap__set(&ef->by_key, f->key, f);
	}
	close(fd);
	/* another reference to the same descriptor (libelf counts them) */
	elf = elf_begin(-1, ELF_C_READ_MMAP, f->elf);
	if (!elf) {
		if (!f->users) {
			hashmap__del(&ef->by_key, f->key);
			elf_end(f->elf);
			free(f);
		}
		return NULL;
	}
	f->users++;
	*handle = f;
	return elf;
}

void elf_files__put(struct elf_files *ef, struct elf_file *f)
{
	if (!f || --f->users)
		return;
	hashmap__del(&ef->by_key, f->key);
	elf_end(f->elf);
	free(f);
}

size_t elf_files__count(const struct elf_files *ef)
{
	return ef->by_key.len;
}
