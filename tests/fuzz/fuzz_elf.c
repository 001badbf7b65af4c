// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: an ELF file, as strand opens the binaries of the processes it traces: the
 * symbol tables (uprobe offsets), the Go markers and .go.buildinfo, the program headers
 * (a virtual address to a file offset) and the runtime's DWARF through libdw. The bytes go
 * into a memfd, read through its /proc/self/fd path as any file is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "go/gocode.h"
#include "go/golayout.h"
#include "sym/elfsym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"pthread_create", "runtime.newproc1", "main.main", ""};
	char path[64], version[32];
	struct go_layout layout;
	uint64_t off;
	int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!elfsym__probe_offset(path, names[i], &off) && off >= size)
			abort(); /* an offset is into the file */
	if (!gocode__version(path, version, sizeof(version)) &&
	    strnlen(version, sizeof(version)) == sizeof(version))
		abort();
	if (!gocode__parse_buildinfo(data, size, version, sizeof(version)) &&
	    strnlen(version, sizeof(version)) == sizeof(version))
		abort();
	golayout__is_go(path);
	for (uint64_t vaddr = 0x400000; vaddr < 0x400000 + 3 * 0x1000; vaddr += 0x1000)
		if (!elfsym__file_offset(path, vaddr, &off) && off >= size)
			abort();
	golayout__init(&layout);
	golayout__from_dwarf(path, &layout);
	close(fd);
	return 0;
}
