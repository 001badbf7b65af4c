// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: Go's .gopclntab reader, inline expansion included. An input whose first byte is
 * even is a table and its go:func.* (the next 4 bytes, little-endian, modulo what is left,
 * say how many of the last bytes are go:func.*; text at 0x1000 unless the header says);
 * odd, an ELF image (moduledata, a table without a section of its own). Every function's
 * first pcs are resolved, as are some the input picks; what comes out must be well formed.
 */
#include "sym/gopclntab.c" /* the functab, to pick pcs that are in functions */

static void check(struct gopclntab *t, uint64_t pc)
{
	struct go_frame f[8];
	const char *fn, *file;
	int line;

	for (int max = 1; max <= 8; max += 3) {
		int n = gopclntab__resolve_inline(t, pc, f, max);

		if (n == -ENOENT)
			return;
		if (n < 1 || n > max || f[n - 1].inlined)
			abort();
		for (int i = 0; i < n; i++) {
			/* strings are the table's, NUL-terminated inside it */
			if ((const uint8_t *)f[i].function < t->data ||
			    (const uint8_t *)f[i].function >= t->data + t->len ||
			    (f[i].file && ((const uint8_t *)f[i].file < t->data ||
					   (const uint8_t *)f[i].file >= t->data + t->len)) ||
			    f[i].inlined != (i < n - 1) || f[i].line < 0)
				abort();
			(void)strlen(f[i].function);
		}
	}
	if (gopclntab__resolve(t, pc, &fn, &file, &line) || !fn)
		abort();
	gopclntab__is_entry(t, pc);
}

static void probe(struct gopclntab *t, const uint8_t *data, size_t size)
{
	uint64_t nfunc = t->nfunc < 64 ? t->nfunc : 64, entry, end;

	for (uint64_t i = 0; i <= nfunc; i++) {
		uint32_t lo = 0;
		uint64_t func;
		const char *name;

		get32(t, t->pcln + 8 * i, &lo);
		for (uint64_t d = 0; d < 24; d += 5)
			check(t, t->text_start + lo + d);
		if (i < 8 && (name = function_name(t, i, &func)) &&
		    !gopclntab__function(t, name, &entry, &end) && end < entry)
			abort();
	}
	for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
		uint32_t off;

		memcpy(&off, data + i, 4);
		check(t, t->text_start + off % 0x10000);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gopclntab *t = NULL;
	int err;

	if (size < 5)
		return 0;
	if (data[0] % 2 == 0) {
		uint32_t split;
		size_t rest = size - 5, gofunc_len;

		memcpy(&split, data + 1, 4);
		gofunc_len = split % (rest + 1);
		t = gopclntab__from_mem(data + 5, rest - gofunc_len, 0x1000, &err);
		if (t && gofunc_len)
			gopclntab__set_gofunc(t, data + 5 + rest - gofunc_len, gofunc_len);
	} else {
		char *image = malloc(size - 1);
		Elf *elf;

		memcpy(image, data + 1, size - 1);
		elf_version(EV_CURRENT);
		elf = elf_memory(image, size - 1);
		t = gopclntab__from_elf(elf, &err);
		elf_end(elf);
		free(image);
	}
	if ((t != NULL) != (err == 0))
		abort();
	if (t)
		probe(t, data, size);
	gopclntab__close(t);
	return 0;
}
