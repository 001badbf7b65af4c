// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the symbolizer on an ELF file of any bytes, as it meets a traced process's
 * binaries: the file is mapped into this process, which strand then reads as it reads any
 * target (its /proc maps, the mapping's file through map_files, libdw's symbol tables, line
 * tables and inline scopes, .gopclntab for Go). Addresses across the mapping are resolved;
 * what comes back must be well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym/procmaps.h"
#include "sym/symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_maps *maps;
	struct symbolizer *sym;
	struct sym_frame f[SYM_MAX_INLINE];
	int fd;
	void *p;

	if (!size)
		return 0;
	fd = memfd_create("fuzz-sym", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	p = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0); /* as code is */
	if (p == MAP_FAILED)
		abort();
	maps = proc_maps__new();
	sym = symbolizer__new(maps);
	for (size_t off = 0; off < size; off += size / 7 + 1) {
		int n = symbolizer__resolve(sym, getpid(), (uint64_t)(uintptr_t)p + off, off & 1, f,
					    SYM_MAX_INLINE);

		if (n < 1 || n > SYM_MAX_INLINE)
			abort();
		for (int i = 0; i < n; i++) {
			if (f[i].function)
				(void)strlen(f[i].function);
			if (f[i].file)
				(void)strlen(f[i].file);
			if (f[i].line < 0 || f[i].inlined != (i < n - 1))
				abort();
		}
	}
	symbolizer__free(sym);
	proc_maps__free(maps);
	munmap(p, size);
	close(fd);
	return 0;
}
