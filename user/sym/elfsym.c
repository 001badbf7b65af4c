// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/elfsym.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <gelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};

static int find_symbol(Elf *elf, const char *name, int type, GElf_Addr *vaddr)
{
	const Elf64_Word types[] = {SHT_DYNSYM, SHT_SYMTAB};

	for (size_t t = 0; t < 2; t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr shdr;
			Elf_Data *data;

			if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != types[t] ||
			    !shdr.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
				GElf_Sym sym;
				const char *sname;

				if (!gelf_getsym(data, (int)i, &sym) ||
				    GELF_ST_TYPE(sym.st_info) != type || !sym.st_value)
					continue;
				sname = elf_strptr(elf, shdr.sh_link, sym.st_name);
				if (sname && strcmp(sname, name) == 0) {
					*vaddr = sym.st_value;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

/* The file offset of what is at vaddr, inside the file: code (a uprobe goes there) when
 * code is set, else anything loaded. */
static int vaddr_to_offset(Elf *elf, int fd, GElf_Addr vaddr, bool code, uint64_t *offset)
{
	struct stat st;
	size_t n;

	if (elf_getphdrnum(elf, &n) || fstat(fd, &st))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    (code && !(ph.p_flags & PF_X)))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
			uint64_t off = vaddr - ph.p_vaddr + ph.p_offset;

			if (off < ph.p_offset || off >= (uint64_t)st.st_size)
				return -ENOEXEC; /* headers that point past the file */
			*offset = off;
			return 0;
		}
	}
	return -ENOEXEC;
}

static Elf *open_elf(const char *path, int *fd)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		close(*fd);
		errno = ENOEXEC;
		return NULL;
	}
	return elf;
}

int elfsym__file_offset(const char *path, uint64_t vaddr, uint64_t *offset)
{
	int fd, err;
	Elf *elf = open_elf(path, &fd);

	if (!elf)
		return -errno;
	err = vaddr_to_offset(elf, fd, vaddr, true, offset);
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym__thread_db_pointer(const uint32_t desc[3], uint32_t *offset)
{
	/* nptl_db's DB_FIELD: size in bits, count, offset; one pointer is what strand reads */
	if (desc[0] != 64 || desc[1] != 1 || !desc[2] || desc[2] > 65536)
		return -ENOEXEC;
	*offset = desc[2];
	return 0;
}

int elfsym__thread_db_field(const char *path, const char *field, uint32_t *offset)
{
	char name[128];
	uint32_t desc[3];
	GElf_Addr vaddr = 0;
	uint64_t at = 0;
	int fd, err;
	Elf *elf;

	if ((size_t)snprintf(name, sizeof(name), "_thread_db_%s", field) >= sizeof(name))
		return -ENAMETOOLONG;
	elf = open_elf(path, &fd);
	if (!elf)
		return -errno;
	err = find_symbol(elf, name, STT_OBJECT, &vaddr);
	if (!err)
		err = vaddr_to_offset(elf, fd, vaddr, false, &at);
	if (!err && pread(fd, desc, sizeof(desc), (off_t)at) != sizeof(desc))
		err = -ENOEXEC;
	if (!err)
		err = elfsym__thread_db_pointer(desc, offset);
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym__probe_offset(const char *path, const char *name, uint64_t *offset)
{
	GElf_Addr vaddr = 0;
	uint8_t insn[4];
	int fd, err;
	Elf *elf = open_elf(path, &fd);

	if (!elf)
		return -errno;
	err = find_symbol(elf, name, STT_FUNC, &vaddr);
	if (!err)
		err = vaddr_to_offset(elf, fd, vaddr, true, offset);
	if (!err && pread(fd, insn, sizeof(insn), (off_t)*offset) == sizeof(insn) &&
	    memcmp(insn, endbr64, sizeof(insn)) == 0)
		*offset += sizeof(endbr64);
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym__variable_address(const char *path, const char *name, uint64_t *vaddr)
{
	GElf_Addr at = 0;
	int fd, err;
	Elf *elf = open_elf(path, &fd);

	if (!elf)
		return -errno;
	err = find_symbol(elf, name, STT_OBJECT, &at);
	if (!err)
		*vaddr = at;
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym__load_vaddr(const char *path, uint64_t *vaddr)
{
	int fd, err = -ENOEXEC;
	Elf *elf = open_elf(path, &fd);
	size_t n = 0;

	if (!elf)
		return -errno;
	if (elf_getphdrnum(elf, &n))
		n = 0;
	/* the program headers of loaded segments come sorted by address (the ELF gABI) */
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			*vaddr = ph.p_vaddr & ~4095ULL;
			err = 0;
			break;
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

int elfsym__writable(const char *path, struct elf_range *out, int max)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int fd, n = 0;
	Elf *elf = open_elf(path, &fd);

	if (!elf)
		return -errno;
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		n = -ENOEXEC;
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn)) && n < max) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    !(sh.sh_flags & SHF_WRITE) || !sh.sh_size || (sh.sh_flags & SHF_TLS))
			continue;
		out[n].addr = sh.sh_addr;
		out[n++].size = sh.sh_size;
	}
out:
	elf_end(elf);
	close(fd);
	return n;
}
