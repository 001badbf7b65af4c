// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/unwind.h"
#include "lib/util.h"
#include "sym/procmaps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <gelf.h>
#include <elfutils/libdwfl.h>

/* Stack reads remembered since the last frame, to find where each return address was. */
#define READ_LOG 64

struct unwinder {
	struct proc_maps *maps;
	const struct stack_sample *sample;
	struct unwound_stack *out;
	struct {
		uint64_t addr, val;
	} reads[READ_LOG];
	unsigned int nreads;
	bool ended; /* reached a zero return address: the end, not a failure */
};

/*
 * libdw attaches callbacks to a Dwfl once and for good, while a Dwfl outlives any one
 * sample (it is cached per process by proc_maps, and shared with the symbolizer). So the
 * callbacks take the sample from here, set only for the duration of one unwind.
 */
static __thread struct unwinder *uw_current;

static pid_t uw__next_thread(Dwfl *dwfl, void *dwfl_arg, void **thread_argp)
{
	struct unwinder *uw = uw_current;

	if (*thread_argp || !uw)
		return 0;
	*thread_argp = uw;
	return uw->sample->pid;
}

static bool uw__read_stack(struct unwinder *uw, uint64_t addr, Dwarf_Word *result)
{
	uint64_t word;

	if (!stack_sample__word(uw->sample, addr, &word))
		return false;
	*result = word;
	uw->reads[uw->nreads % READ_LOG].addr = addr;
	uw->reads[uw->nreads % READ_LOG].val = *result;
	uw->nreads++;
	return true;
}

/* Memory outside the stack copy: only what is the same in every process mapping the file,
 * i.e. the file-backed part of read-only segments (CFI expressions rarely need more). */
static bool uw__read_elf(Dwfl *dwfl, uint64_t addr, Dwarf_Word *result)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
	Dwarf_Addr bias;
	size_t phnum, size;
	const char *raw;
	Elf *elf;

	if (!mod || !(elf = dwfl_module_getelf(mod, &bias)) || addr < bias ||
	    elf_getphdrnum(elf, &phnum) != 0 || !(raw = elf_rawfile(elf, &size)))
		return false;
	addr -= bias;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, i, &mem);
		uint64_t off;

		if (!ph || ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || addr < ph->p_vaddr ||
		    addr - ph->p_vaddr >= ph->p_filesz ||
		    ph->p_filesz - (addr - ph->p_vaddr) < sizeof(*result))
			continue;
		off = ph->p_offset + (addr - ph->p_vaddr);
		if (off < ph->p_offset || off > size || size - off < sizeof(*result))
			return false;
		memcpy(result, raw + off, sizeof(*result));
		return true;
	}
	return false;
}

static bool uw__memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *dwfl_arg)
{
	struct unwinder *uw = uw_current;

	if (!uw)
		return false;
	return uw__read_stack(uw, addr, result) || uw__read_elf(dwfl, addr, result);
}

static bool uw__set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct unwinder *uw = thread_arg;
	Dwarf_Word regs[STRAND_NREGS];

	for (int i = 0; i < STRAND_NREGS; i++)
		regs[i] = uw->sample->regs[i];
	if (!dwfl_thread_state_registers(thread, 0, STRAND_NREGS, regs))
		return false;
	dwfl_thread_state_register_pc(thread, regs[DWARF_RIP]);
	return true;
}

static const Dwfl_Thread_Callbacks uw_callbacks = {
	.next_thread = uw__next_thread,
	.memory_read = uw__memory_read,
	.set_initial_registers = uw__set_initial_registers,
};

/* libdw picks the architecture backend from an ELF header; a synthetic one makes that
 * independent of which module happens to be first (and of its lifetime: modules come and go
 * when the maps are re-read, the attached state stays). */
static Elf *uw__machine_elf(void)
{
	static Elf *elf;
	static Elf64_Ehdr ehdr = {
		.e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			    EV_CURRENT},
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_ehsize = sizeof(Elf64_Ehdr),
	};

	if (!elf) {
		elf_version(EV_CURRENT);
		elf = elf_memory((char *)&ehdr, sizeof(ehdr));
	}
	return elf;
}

static int32_t uw__find_slot(struct unwinder *uw, uint64_t ra)
{
	unsigned int n = uw->nreads < READ_LOG ? uw->nreads : READ_LOG;

	for (unsigned int k = 1; k <= n; k++) {
		unsigned int i = (uw->nreads - k) % READ_LOG;
		uint64_t off = uw->reads[i].addr - uw->sample->regs[DWARF_RSP];

		if (uw->reads[i].val == ra && off <= INT32_MAX)
			return (int32_t)off;
	}
	return -1;
}

static int uw__frame(Dwfl_Frame *state, void *arg)
{
	struct unwinder *uw = arg;
	struct unwound_stack *out = uw->out;
	Dwarf_Addr pc;

	/* Not asking whether the frame is an activation: libdw would unwind the next frame to
	 * tell, and its reads would be mistaken for this frame's. Signal frames are not
	 * expected in spawn stacks, so every frame past the first is a return address. */
	if (!dwfl_frame_pc(state, &pc, NULL))
		return DWARF_CB_ABORT;
	if (pc == 0) {
		uw->ended = true;
		return DWARF_CB_ABORT;
	}
	if (out->depth >= UNWIND_MAX_FRAMES) {
		out->truncated = 1;
		return DWARF_CB_ABORT;
	}
	out->pc[out->depth] = pc;
	out->slot[out->depth] = out->depth ? uw__find_slot(uw, pc) : -1;
	out->depth++;
	uw->nreads = 0;
	return DWARF_CB_OK;
}

static int uw__cfi_once(struct unwinder *uw, Dwfl *dwfl, const struct stack_sample *s,
			struct unwound_stack *out)
{
	int rc;

	memset(out->slot, 0xff, sizeof(out->slot));
	out->depth = 0;
	out->truncated = 0;
	uw->sample = s;
	uw->out = out;
	uw->nreads = 0;
	uw->ended = false;
	uw_current = uw;
	rc = dwfl_getthread_frames(dwfl, s->pid, uw__frame, uw);
	uw_current = NULL;
	uw->sample = NULL;
	uw->out = NULL;
	if (rc != 0 && !uw->ended)
		out->truncated = 1;
	return rc;
}

static void uw__cfi(struct unwinder *uw, const struct stack_sample *s, struct unwound_stack *out)
{
	Dwfl *dwfl = proc_maps__dwfl(uw->maps, s->pid, s->regs[DWARF_RIP]);
	uint64_t last;

	if (!dwfl)
		return;
	if (dwfl_pid(dwfl) < 0 &&
	    !dwfl_attach_state(dwfl, uw__machine_elf(), s->pid, &uw_callbacks, NULL))
		return;
	if (uw__cfi_once(uw, dwfl, s, out) == 0 || !out->truncated || out->depth == 0 ||
	    out->depth >= UNWIND_MAX_FRAMES)
		return;
	/* Stuck in code no module covers: a library dlopen'ed since the maps were read. The
	 * re-read is skipped by proc_maps when it already failed for that page. */
	last = out->pc[out->depth - 1] - (out->depth > 1);
	if (!dwfl_addrmodule(dwfl, last) && proc_maps__dwfl(uw->maps, s->pid, last) == dwfl &&
	    dwfl_addrmodule(dwfl, last))
		uw__cfi_once(uw, dwfl, s, out);
}

/* For code built with frame pointers when CFI is missing (JIT, stripped .eh_frame). */
static void uw__frame_pointers(const struct stack_sample *s, struct unwound_stack *out)
{
	uint64_t sp = s->regs[DWARF_RSP], fp = s->regs[DWARF_RBP];

	out->depth = 1;
	out->pc[0] = s->regs[DWARF_RIP];
	out->slot[0] = -1;
	out->truncated = 0;
	while (out->depth < UNWIND_MAX_FRAMES) {
		uint64_t next, ra;

		if (fp < sp || fp - sp > s->stack_len || s->stack_len - (fp - sp) < 16 ||
		    fp - sp > INT32_MAX) {
			out->truncated = 1;
			return;
		}
		memcpy(&next, s->stack + (fp - sp), sizeof(next));
		memcpy(&ra, s->stack + (fp - sp) + 8, sizeof(ra));
		if (ra == 0)
			return;
		out->pc[out->depth] = ra;
		out->slot[out->depth] = (int32_t)(fp - sp + 8);
		out->depth++;
		if (next <= fp)
			return;
		fp = next;
	}
	out->truncated = 1;
}

/*
 * The sampled pc has no CFI: glibc's clone3.S and clone.S end their FDE just before the
 * syscall ("in the child the unwind info will be wrong"), and that is exactly where every
 * thread spawn is sampled. Those stubs push nothing, so treat the frame as a leaf: the
 * return address is at sp. Unwind from there and put the sampled pc back on top.
 */
static void uw__cfi_from_leaf(struct unwinder *uw, const struct stack_sample *s,
			      struct unwound_stack *out)
{
	uint64_t regs[STRAND_NREGS], pc = s->regs[DWARF_RIP];
	struct stack_sample leaf = *s;

	if (s->stack_len < 16)
		return;
	memcpy(regs, s->regs, sizeof(regs));
	memcpy(&regs[DWARF_RIP], s->stack, sizeof(uint64_t));
	regs[DWARF_RSP] += 8;
	leaf.regs = regs;
	leaf.stack = s->stack + 8;
	leaf.stack_len = s->stack_len - 8;
	uw__cfi(uw, &leaf, out);
	if (out->depth < 1)
		return;
	if (out->depth == UNWIND_MAX_FRAMES) {
		out->depth--;
		out->truncated = 1;
	}
	memmove(out->pc + 1, out->pc, (size_t)out->depth * sizeof(out->pc[0]));
	memmove(out->slot + 1, out->slot, (size_t)out->depth * sizeof(out->slot[0]));
	out->depth++;
	out->pc[0] = pc;
	out->slot[0] = -1;
	out->slot[1] = 0;
	for (int i = 2; i < out->depth; i++)
		if (out->slot[i] >= 0)
			out->slot[i] += 8;
}

struct unwinder *unwinder__new(struct proc_maps *maps)
{
	struct unwinder *uw = xcalloc(1, sizeof(*uw));

	uw->maps = maps;
	return uw;
}

void unwinder__free(struct unwinder *uw)
{
	free(uw);
}

int unwinder__unwind(struct unwinder *uw, const struct stack_sample *sample,
		     struct unwound_stack *out)
{
	if (!uw || !sample || !out || !sample->regs || (!sample->stack && sample->stack_len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < UNWIND_MAX_FRAMES; i++)
		out->slot[i] = -1;
	if (sample->pid > 0)
		uw__cfi(uw, sample, out);
	if (out->depth < 2 && sample->pid > 0)
		uw__cfi_from_leaf(uw, sample, out);
	if (out->depth < 2)
		uw__frame_pointers(sample, out);
	return 0;
}

void unwinder__forget(struct unwinder *uw, pid_t pid)
{
	/* Nothing is cached per process here: the Dwfl and its attached state belong to
	 * proc_maps, whose owner calls proc_maps__forget. */
}
