// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gocode.h"
#include "go/golayout.h"
#include "lib/util.h"
#include "sym/elfsym.h"
#include "sym/gopclntab.h"
#include "sys/procfs.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUILDINFO_MAGIC	   "\xff Go buildinf:"
#define BUILDINFO_HDR	   32
#define BUILDINFO_INLINE   0x2	      /* flags: strings follow the header (Go >= 1.18) */
#define MAX_FUNCTION_BYTES (64 << 10) /* the runtime functions read here are far smaller */
#define MAX_REFS	   256
#define GO_VERSION_MAX	   64 /* "go1.27.3 X:nocoverageredesign,..." and the like fit */

int gocode__parse_buildinfo(const uint8_t *data, size_t len, char *version, size_t size)
{
	uint64_t n = 0;
	size_t off = BUILDINFO_HDR;

	if (len < BUILDINFO_HDR || memcmp(data, BUILDINFO_MAGIC, 14) ||
	    !(data[15] & BUILDINFO_INLINE))
		return -ENOENT;
	for (int shift = 0;; shift += 7) { /* uvarint length, then the bytes */
		if (off >= len || shift > 28)
			return -ENOENT;
		n |= (uint64_t)(data[off] & 0x7f) << shift;
		if (!(data[off++] & 0x80))
			break;
	}
	if (!n || n > len - off || n >= size || memcmp(data + off, "go", 2))
		return -ENOENT;
	memcpy(version, data + off, n);
	version[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (version[i] < 0x21 || version[i] > 0x7e)
			return -ENOENT;
	return 0;
}

int gocode__version(const char *path, char *version, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = -ENOENT;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getshdrstrndx(elf, &shstrndx)) {
		while (err && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;
			Elf_Data *d;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_PROGBITS &&
			    (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
			    !strcmp(name, ".go.buildinfo") && (d = elf_getdata(scn, NULL)) &&
			    d->d_buf)
				err = gocode__parse_buildinfo(d->d_buf, d->d_size, version, size);
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

/* A RIP-relative memory operand: the link-time address it names. */
struct rip_ref {
	uint64_t addr;
	unsigned insn;
};

struct decoded {
	struct rip_ref refs[MAX_REFS];
	int nrefs;
	int64_t first_cmp_imm; /* -1: none */
};

/* Code bytes at link-time address addr of pid's executable. A uprobe (another strand's,
 * any tool's) or a debugger's breakpoint is an int3 (0xcc) in the code in memory: where
 * one may be, the bytes come from the file, which they never touch. */
static int read_code(pid_t pid, uint64_t bias, uint64_t addr, void *buf, size_t len)
{
	int err = procfs__read_mem(pid, addr + bias, buf, len), fd;
	char exe[64];
	uint64_t off;

	if (err || !memchr(buf, 0xcc, len))
		return err;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (!elfsym__file_offset(exe, addr, &off) && (fd = open(exe, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (pread(fd, buf, len, (off_t)off) != (ssize_t)len)
			err = procfs__read_mem(pid, addr + bias, buf, len);
		close(fd);
	}
	return err;
}

/* Decodes the function called name from pid's memory, collecting its RIP-relative operands. */
static int decode_function(pid_t pid, uint64_t bias, struct gopclntab *pcln, const char *name,
			   struct decoded *out)
{
	uint64_t entry, end;
	size_t count;
	uint8_t *code;
	cs_insn *insn;
	csh cs;
	int err;

	out->nrefs = 0;
	out->first_cmp_imm = -1;
	if (gopclntab__function(pcln, name, &entry, &end) || end - entry > MAX_FUNCTION_BYTES)
		return -ENOENT;
	code = xcalloc(end - entry + 1, 1);
	err = read_code(pid, bias, entry, code, end - entry);
	if (err || cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		free(code);
		return err ? err : -ENOSYS;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	/* disassembled at its link-time address: RIP-relative operands give link-time ones */
	count = cs_disasm(cs, code, end - entry, entry, 0, &insn);
	for (size_t i = 0; i < count; i++) {
		const cs_x86 *x = &insn[i].detail->x86;

		for (int k = 0; k < x->op_count; k++) {
			const cs_x86_op *op = &x->operands[k];

			if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP &&
			    out->nrefs < MAX_REFS)
				out->refs[out->nrefs++] = (struct rip_ref){
					insn[i].address + insn[i].size + (uint64_t)op->mem.disp,
					insn[i].id};
			if (op->type == X86_OP_IMM && insn[i].id == X86_INS_CMP &&
			    out->first_cmp_imm < 0)
				out->first_cmp_imm = op->imm;
		}
	}
	cs_free(insn, count);
	cs_close(&cs);
	free(code);
	return count ? 0 : -ENOEXEC;
}

bool gocode__is_version(const char *s, size_t len)
{
	if (len < 4 || (strncmp(s, "go1.", 4) && (len < 6 || strncmp(s, "devel ", 6))))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

int gocode__runtime_version(pid_t pid, uint64_t bias, struct gopclntab *pcln, char *version,
			    size_t size)
{
	struct decoded *d = xcalloc(1, sizeof(*d));
	int err = decode_function(pid, bias, pcln, "runtime.schedinit", d);

	for (int i = 0; !err && i < d->nrefs; i++) {
		uint64_t str[2]; /* the string's pointer and length */
		char text[GO_VERSION_MAX];

		if (d->refs[i].insn != X86_INS_CMP || d->refs[i].addr < 8 ||
		    procfs__read_mem(pid, d->refs[i].addr - 8 + bias, str, sizeof(str)) ||
		    str[1] >= sizeof(text) || str[1] >= size ||
		    procfs__read_mem(pid, str[0], text, str[1]) ||
		    !gocode__is_version(text, str[1]))
			continue;
		memcpy(version, text, str[1]);
		version[str[1]] = '\0';
		free(d);
		return 0;
	}
	free(d);
	return -ENOENT;
}

static bool refers_to(const struct decoded *d, uint64_t addr)
{
	for (int i = 0; i < d->nrefs; i++)
		if (d->refs[i].addr == addr)
			return true;
	return false;
}

/* allgadd appends to allgs: the one variable whose pointer, length and capacity (three
 * consecutive words) are all operands is the slice header. */
static int find_allgs(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l)
{
	struct decoded *d = xcalloc(1, sizeof(*d));
	int err = decode_function(pid, bias, pcln, "runtime.allgadd", d);

	if (!err) {
		err = -ENODATA;
		for (int i = 0; i < d->nrefs && err; i++) {
			uint64_t a = d->refs[i].addr, hdr[3];

			if (refers_to(d, a + 8) && refers_to(d, a + 16) &&
			    !procfs__read_mem(pid, a + bias, hdr, sizeof(hdr)) && hdr[0] &&
			    hdr[1] && hdr[1] <= hdr[2]) {
				l->allgs = a;
				l->allglen = a + 8; /* the slice's own length */
				err = 0;
			}
		}
	}
	free(d);
	return err;
}

/* waitReason.String bounds-checks against the array's length, then indexes the array. */
static void find_wait_reasons(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l)
{
	struct decoded *d = xcalloc(1, sizeof(*d));

	if (!decode_function(pid, bias, pcln, "runtime.waitReason.String", d) &&
	    d->first_cmp_imm > 0 && d->first_cmp_imm <= GO_MAX_WAIT_REASONS) {
		for (int i = 0; i < d->nrefs; i++) {
			if (d->refs[i].insn != X86_INS_LEA)
				continue;
			golayout__read_wait_reasons(pid, d->refs[i].addr + bias,
						    (int)d->first_cmp_imm, l);
			if (l->nwait_reasons)
				break;
		}
	}
	free(d);
}

int gocode__find_runtime(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l)
{
	if (find_allgs(pid, bias, pcln, l))
		return -ENODATA;
	find_wait_reasons(pid, bias, pcln, l);
	return 0;
}

/* What the walk of mcommoninit tracks per 64-bit register: the RIP-relative variable whose
 * value (load) or address (lea) it holds since, 0 when none; and the stores of loaded
 * values into structs. */
#define MAX_STORES 16

struct reg_track {
	uint64_t loaded[X86_REG_ENDING], address[X86_REG_ENDING];
	uint64_t xchg_target;
	struct {
		uint64_t var;
		int32_t disp;
	} stores[MAX_STORES];
	int nstores;
};

static void note_allm_insn(const cs_insn *insn, struct reg_track *t, uint64_t atomicstorep)
{
	const cs_x86 *x = &insn->detail->x86;
	const cs_x86_op *a = &x->operands[0], *b = &x->operands[1];
	uint64_t rip = insn->address + insn->size;

	/* not inlined (-gcflags=-l): the pointer's address is the first argument, in RAX
	 * (ABIInternal, Go >= 1.17) */
	if (insn->id == X86_INS_CALL && x->op_count == 1 && a->type == X86_OP_IMM && atomicstorep &&
	    (uint64_t)a->imm == atomicstorep && t->address[X86_REG_RAX])
		t->xchg_target = t->address[X86_REG_RAX];
	if (x->op_count != 2)
		return;
	if (insn->id == X86_INS_XCHG && (a->type == X86_OP_MEM || b->type == X86_OP_MEM)) {
		const x86_op_mem *m = a->type == X86_OP_MEM ? &a->mem : &b->mem;

		if (m->base == X86_REG_RIP)
			t->xchg_target = rip + (uint64_t)m->disp;
		else if (m->base != X86_REG_INVALID && m->base < X86_REG_ENDING && !m->disp &&
			 m->index == X86_REG_INVALID && t->address[m->base])
			t->xchg_target = t->address[m->base];
	}
	/* a store of a loaded value into a struct: `MOV reg, disp(base)` */
	if (insn->id == X86_INS_MOV && a->type == X86_OP_MEM && b->type == X86_OP_REG &&
	    b->size == 8 && b->reg < X86_REG_ENDING && t->loaded[b->reg] &&
	    a->mem.base != X86_REG_RIP && a->mem.base != X86_REG_RSP &&
	    a->mem.base != X86_REG_INVALID && a->mem.index == X86_REG_INVALID && a->mem.disp > 0 &&
	    a->mem.disp < 4096 && t->nstores < MAX_STORES) {
		t->stores[t->nstores].var = t->loaded[b->reg];
		t->stores[t->nstores++].disp = (int32_t)a->mem.disp;
	}
	if (a->type != X86_OP_REG || a->size != 8 || a->reg >= X86_REG_ENDING)
		return;
	t->loaded[a->reg] = t->address[a->reg] = 0;
	if (b->type == X86_OP_MEM && b->mem.base == X86_REG_RIP &&
	    b->mem.index == X86_REG_INVALID) {
		if (insn->id == X86_INS_MOV)
			t->loaded[a->reg] = rip + (uint64_t)b->mem.disp;
		else if (insn->id == X86_INS_LEA)
			t->address[a->reg] = rip + (uint64_t)b->mem.disp;
	}
}

int gocode__find_allm(pid_t pid, uint64_t bias, struct gopclntab *pcln, uint64_t *allm,
		      int32_t hints[GOCODE_ALLM_HINTS], int *nhints)
{
	uint64_t entry, end, atomicstorep = 0, unused;
	struct reg_track *t;
	uint8_t *code;
	size_t count;
	cs_insn *insn;
	csh cs;
	int err = -ENODATA;

	*nhints = 0;
	gopclntab__function(pcln, "runtime.atomicstorep", &atomicstorep, &unused);
	if (gopclntab__function(pcln, "runtime.mcommoninit", &entry, &end) ||
	    end - entry > MAX_FUNCTION_BYTES)
		return -ENODATA;
	code = xcalloc(end - entry + 1, 1);
	t = xcalloc(1, sizeof(*t));
	if (read_code(pid, bias, entry, code, end - entry) ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		goto out;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	count = cs_disasm(cs, code, end - entry, entry, 0, &insn);
	for (size_t i = 0; i < count; i++) {
		/* Straight through, branches not followed, calls taken to keep registers: the
		 * load and the store have only the write barrier between them (Go 1.26: `CALL
		 * gcWriteBarrier2`, on the path the test skips), which keeps them. A stale
		 * register makes at worst a wrong hint, and every hint is proved on the process. */
		note_allm_insn(&insn[i], t, atomicstorep);
	}
	cs_free(insn, count);
	cs_close(&cs);
	for (int i = 0; i < t->nstores && t->xchg_target; i++)
		if (t->stores[i].var == t->xchg_target && *nhints < GOCODE_ALLM_HINTS)
			hints[(*nhints)++] = t->stores[i].disp;
	/* no hint (the value spilled to the stack first, as unoptimized code does) leaves
	 * the proof to search every offset */
	if (t->xchg_target) {
		*allm = t->xchg_target;
		err = 0;
	}
out:
	free(t);
	free(code);
	return err;
}

bool gocode__is_call_to(pid_t pid, uint64_t bias, uint64_t pc, uint64_t target)
{
	uint8_t insn[5];
	int32_t rel;

	if (pc < 5 || read_code(pid, bias, pc - 5, insn, sizeof(insn)) || insn[0] != 0xe8)
		return false;
	memcpy(&rel, insn + 1, sizeof(rel));
	return pc + (uint64_t)(int64_t)rel == target;
}

/* The conditional jump of a function's stack-bound check (CMP SP or a scratch register with
 * g.stackguard0 at 16(R14), then JBE to morestack): arguments are still in their registers
 * there, and the kernel emulates a jump instead of single-stepping it. */
static int stack_check_branch(pid_t pid, uint64_t bias, struct gopclntab *pcln, const char *name,
			      uint64_t *addr)
{
	uint64_t entry, end;
	uint8_t code[32];
	size_t count;
	cs_insn *insn;
	csh cs;
	int err = -ENOENT;

	if (gopclntab__function(pcln, name, &entry, &end) || end - entry < sizeof(code) ||
	    read_code(pid, bias, entry, code, sizeof(code)) ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOENT;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	count = cs_disasm(cs, code, sizeof(code), entry, 4, &insn);
	for (size_t i = 1; i < count && err; i++) {
		const cs_x86 *prev = &insn[i - 1].detail->x86;
		bool guard = false;

		for (int k = 0; k < prev->op_count; k++)
			guard |= prev->operands[k].type == X86_OP_MEM &&
				 prev->operands[k].mem.base == X86_REG_R14 &&
				 prev->operands[k].mem.disp == 16;
		if (insn[i - 1].id == X86_INS_CMP && guard &&
		    (insn[i].id == X86_INS_JBE || insn[i].id == X86_INS_JB)) {
			*addr = insn[i].address;
			err = 0;
		}
	}
	cs_free(insn, count);
	cs_close(&cs);
	return err;
}

/* The CALL runtime.runqput in runtime.newproc.func1: the new goroutine, complete, is
 * queued; it is the call's second argument. */
static int runqput_call(pid_t pid, uint64_t bias, struct gopclntab *pcln, uint64_t *addr)
{
	uint64_t runqput, entry, end;
	uint8_t *code;
	size_t count;
	cs_insn *insn;
	csh cs;
	int err = -ENOENT;

	if (gopclntab__function(pcln, "runtime.runqput", &runqput, &end) ||
	    gopclntab__function(pcln, "runtime.newproc.func1", &entry, &end) ||
	    end - entry > MAX_FUNCTION_BYTES)
		return -ENOENT;
	code = xcalloc(end - entry + 1, 1);
	if (read_code(pid, bias, entry, code, end - entry) ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		free(code);
		return -ENOENT;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	count = cs_disasm(cs, code, end - entry, entry, 0, &insn);
	for (size_t i = 0; i < count && err; i++) {
		const cs_x86 *x = &insn[i].detail->x86;

		if (insn[i].id == X86_INS_CALL && x->op_count == 1 &&
		    x->operands[0].type == X86_OP_IMM && (uint64_t)x->operands[0].imm == runqput) {
			*addr = insn[i].address;
			err = 0;
		}
	}
	cs_free(insn, count);
	cs_close(&cs);
	free(code);
	return err;
}

int gocode__probe_sites(pid_t pid, uint64_t bias, struct gopclntab *pcln,
			struct go_probe_sites *sites)
{
	memset(sites, 0, sizeof(*sites));
	runqput_call(pid, bias, pcln, &sites->create);
	stack_check_branch(pid, bias, pcln, "runtime.goexit1", &sites->exit);
	stack_check_branch(pid, bias, pcln, "runtime.gopark", &sites->park);
	stack_check_branch(pid, bias, pcln, "runtime.ready", &sites->ready);
	return sites->create || sites->exit || sites->park || sites->ready ? 0 : -ENOENT;
}
