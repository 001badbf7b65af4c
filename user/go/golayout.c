// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/golayout.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What the scan of the DWARF found: the DIEs it needs, by name. */
struct found {
	Dwarf_Die g, m, sudog, allgs, allglen, wait_reasons, allm, pd, mheap, mheap_var, arena,
		span, p, timer, allp, iscgo, semtable;
	bool have_g, have_m, have_sudog, have_allgs, have_allglen, have_wait_reasons, have_allm,
		have_pd, have_mheap, have_mheap_var, have_arena, have_span, have_p, have_timer,
		have_allp, have_iscgo, have_semtable;
};

/* The type of a member, variable or pointer, its typedefs peeled (Go names its structs
 * through one). */
static bool type_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute attr;

	return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, out) &&
	       dwarf_peel_type(out, out) == 0;
}

static int member_offset(Dwarf_Die *strct, const char *name, Dwarf_Die *type_out)
{
	Dwarf_Die child;

	if (dwarf_child(strct, &child) != 0)
		return -1;
	do {
		Dwarf_Attribute attr;
		Dwarf_Word off;
		const char *n;

		if (dwarf_tag(&child) != DW_TAG_member || !(n = dwarf_diename(&child)) ||
		    strcmp(n, name))
			continue;
		if (!dwarf_attr(&child, DW_AT_data_member_location, &attr) ||
		    dwarf_formudata(&attr, &off) || off > INT32_MAX)
			return -1;
		if (type_out && !type_of(&child, type_out))
			return -1;
		return (int32_t)off;
	} while (dwarf_siblingof(&child, &child) == 0);
	return -1;
}

/* Offset of outer.inner, where outer is a struct member (g.sched.sp, g.stack.lo). */
static int nested_offset(Dwarf_Die *strct, const char *outer, const char *inner)
{
	Dwarf_Die type;
	int a = member_offset(strct, outer, &type), b;

	if (a < 0)
		return -1;
	b = member_offset(&type, inner, NULL);
	return b < 0 ? -1 : a + b;
}

static int variable_address(Dwarf_Die *var, uint64_t *addr)
{
	Dwarf_Attribute attr;
	Dwarf_Op *expr;
	size_t len;

	Dwarf_Block block;

	if (!dwarf_attr(var, DW_AT_location, &attr))
		return -1;
	if (!dwarf_getlocation(&attr, &expr, &len) && len == 1 && expr[0].atom == DW_OP_addr) {
		*addr = expr[0].number;
		return 0;
	}
	/* Go's linker writes the location as a plain block (DW_FORM_block1) in DWARF 4 CUs,
	 * which libdw does not take for an expression: decode the one DW_OP_addr by hand */
	if (dwarf_formblock(&attr, &block) || block.length != 9 || block.data[0] != DW_OP_addr)
		return -1;
	memcpy(addr, block.data + 1, sizeof(*addr));
	return 0;
}

static void note_die(struct found *f, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);
	int tag = dwarf_tag(die);

	if (!name || strncmp(name, "runtime.", 8))
		return;
	if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.g") && !f->have_g) {
		f->g = *die;
		f->have_g = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.m") && !f->have_m) {
		f->m = *die;
		f->have_m = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.sudog") &&
		   !f->have_sudog) {
		f->sudog = *die;
		f->have_sudog = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.pollDesc") &&
		   !f->have_pd) {
		f->pd = *die;
		f->have_pd = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.mheap") &&
		   !f->have_mheap) {
		f->mheap = *die;
		f->have_mheap = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.heapArena") &&
		   !f->have_arena) {
		f->arena = *die;
		f->have_arena = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.mspan") &&
		   !f->have_span) {
		f->span = *die;
		f->have_span = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.p") && !f->have_p) {
		f->p = *die;
		f->have_p = true;
	} else if (tag == DW_TAG_structure_type && !strcmp(name, "runtime.timer") &&
		   !f->have_timer) {
		f->timer = *die;
		f->have_timer = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.allp")) {
		f->allp = *die;
		f->have_allp = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.semtable")) {
		f->semtable = *die;
		f->have_semtable = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.iscgo")) {
		f->iscgo = *die;
		f->have_iscgo = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.mheap_")) {
		f->mheap_var = *die;
		f->have_mheap_var = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.allgs")) {
		f->allgs = *die;
		f->have_allgs = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.allglen")) {
		f->allglen = *die;
		f->have_allglen = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.allm")) {
		f->allm = *die;
		f->have_allm = true;
	} else if (tag == DW_TAG_variable && !strcmp(name, "runtime.waitReasonStrings")) {
		f->wait_reasons = *die;
		f->have_wait_reasons = true;
	}
}

static void scan_dies(Dwarf *dw, struct found *f)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;

		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do
				note_die(f, &die);
			while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
}

/* Reads size bytes at link-time address vaddr from the file's allocated sections. */
static int read_vaddr(Elf *elf, int fd, uint64_t vaddr, void *buf, size_t size)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < sh.sh_addr || vaddr - sh.sh_addr > sh.sh_size ||
		    sh.sh_size - (vaddr - sh.sh_addr) < size)
			continue;
		return pread(fd, buf, size, (off_t)(sh.sh_offset + (vaddr - sh.sh_addr))) ==
				       (ssize_t)size
			       ? 0
			       : -EIO;
	}
	return -ENOENT;
}

/* runtime.waitReasonStrings: [N]string in initialized data, each string in read-only data. */
static void read_wait_reasons(Elf *elf, int fd, Dwarf_Die *var, struct go_layout *l)
{
	Dwarf_Attribute attr;
	Dwarf_Die type, sub;
	Dwarf_Word count = 0;
	uint64_t addr;

	if (variable_address(var, &addr) || !dwarf_attr_integrate(var, DW_AT_type, &attr) ||
	    !dwarf_formref_die(&attr, &type) || dwarf_peel_type(&type, &type) != 0 ||
	    dwarf_tag(&type) != DW_TAG_array_type || dwarf_child(&type, &sub) != 0)
		return;
	if (dwarf_attr(&sub, DW_AT_count, &attr))
		dwarf_formudata(&attr, &count);
	else if (dwarf_attr(&sub, DW_AT_upper_bound, &attr) && !dwarf_formudata(&attr, &count))
		count++;
	if (count > GO_MAX_WAIT_REASONS)
		count = GO_MAX_WAIT_REASONS;
	for (Dwarf_Word i = 0; i < count; i++) {
		uint64_t hdr[2]; /* string header: data pointer, length */
		size_t len;

		if (read_vaddr(elf, fd, addr + i * 16, hdr, sizeof(hdr)))
			break;
		len = hdr[1] < sizeof(l->wait_reasons[0]) - 1 ? hdr[1]
							      : sizeof(l->wait_reasons[0]) - 1;
		if (len && read_vaddr(elf, fd, hdr[0], l->wait_reasons[i], len))
			break;
		l->wait_reasons[i][len] = '\0';
		l->nwait_reasons = (int)i + 1;
	}
}

void golayout__init(struct go_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->goid = l->gopc = l->startpc = l->atomicstatus = l->waitreason = l->parent_goid = -1;
	l->waitsince = l->tracking_seq = -1;
	l->sched_sp = l->sched_pc = l->sched_bp = l->sched_g = l->stack_lo = l->stack_hi = -1;
	l->g_m = l->m_curg = -1;
	l->g_waiting = l->sudog_waitlink = l->sudog_c = -1;
	golayout__forget_m(l, "");
	golayout__forget_netpoll(l, "");
	l->mheap_arenas = l->arena_spans = l->span_start = l->span_npages = l->span_elemsize =
		l->span_state = -1;
	l->p_timers = l->timer_stride = l->timer_f = l->timer_arg = -1;
	l->sema_count = l->sema_stride = l->sema_treap = l->sudog_prev = l->sudog_next =
		l->sudog_elem = -1;
}

void golayout__forget_m(struct go_layout *l, const char *why)
{
	l->allm = 0;
	l->m_curg = l->m_alllink = l->m_procid = l->m_mstartfn = l->m_spinning = l->m_park = -1;
	l->m_source = NULL;
	snprintf(l->m_problem, sizeof(l->m_problem), "%s", why);
}

/* All of the M layer or none of it: a list of Ms is no use without the thread ids. */
static void m_layer_from_dwarf(struct found *f, struct go_layout *l)
{
	int32_t curg = l->m_curg;

	golayout__forget_m(l, "");
	l->m_curg = curg;
	if (!f->have_m || !f->have_allm || variable_address(&f->allm, &l->allm)) {
		golayout__forget_m(l, "no runtime.m or runtime.allm in DWARF");
		return;
	}
	l->m_alllink = member_offset(&f->m, "alllink", NULL);
	l->m_procid = member_offset(&f->m, "procid", NULL);
	l->m_mstartfn = member_offset(&f->m, "mstartfn", NULL);
	l->m_spinning = member_offset(&f->m, "spinning", NULL);
	l->m_park = member_offset(&f->m, "park", NULL);
	if (l->m_alllink < 0 || l->m_procid < 0) {
		golayout__forget_m(l, "runtime.m in DWARF has no alllink or procid");
		return;
	}
	l->m_source = "DWARF";
	l->m_size = (uint32_t)dwarf_bytesize(&f->m);
}

/* The Go heap's index (what measures the memory a stranded goroutine keeps): DWARF only,
 * all of it or nothing. */
static void heap_from_dwarf(struct found *f, struct go_layout *l)
{
	l->mheap = 0;
	l->mheap_arenas = l->arena_spans = l->span_start = l->span_npages = l->span_elemsize =
		l->span_state = -1;
	if (!f->have_mheap || !f->have_mheap_var || !f->have_arena || !f->have_span ||
	    variable_address(&f->mheap_var, &l->mheap))
		return;
	l->mheap_arenas = member_offset(&f->mheap, "arenas", NULL);
	l->arena_spans = member_offset(&f->arena, "spans", NULL);
	l->span_start = member_offset(&f->span, "startAddr", NULL);
	l->span_npages = member_offset(&f->span, "npages", NULL);
	l->span_elemsize = member_offset(&f->span, "elemsize", NULL);
	l->span_state = member_offset(&f->span, "state", NULL);
	if (l->mheap_arenas < 0 || l->arena_spans < 0 || l->span_start < 0 || l->span_npages < 0 ||
	    l->span_elemsize < 0 || l->span_state < 0)
		l->mheap = 0;
}

/* p.timers is a []*timer up to Go 1.22, then a struct timers whose heap is a []timerWhen
 * ({*timer, when}): the slice's element size tells them apart. All of it or nothing. */
static void timers_from_dwarf(struct found *f, struct go_layout *l)
{
	Dwarf_Die timers, heap, elem;
	int heap_off = 0;

	l->allp = l->iscgo = 0;
	l->p_timers = l->timer_stride = l->timer_f = l->timer_arg = -1;
	if (!f->have_p || !f->have_timer || !f->have_allp || !f->have_iscgo ||
	    variable_address(&f->allp, &l->allp) || variable_address(&f->iscgo, &l->iscgo))
		goto unknown;
	l->p_timers = member_offset(&f->p, "timers", &timers);
	l->timer_f = member_offset(&f->timer, "f", NULL);
	l->timer_arg = member_offset(&f->timer, "arg", NULL);
	if (l->p_timers < 0 || l->timer_f < 0 || l->timer_arg < 0)
		goto unknown;
	heap = timers;
	if (dwarf_tag(&timers) == DW_TAG_structure_type &&
	    (!dwarf_diename(&timers) || strcmp(dwarf_diename(&timers), "[]*runtime.timer")) &&
	    (heap_off = member_offset(&timers, "heap", &heap)) < 0)
		goto unknown;
	/* a Go slice's DWARF is a struct of array (a pointer to the element), len and cap */
	if (member_offset(&heap, "array", &elem) != 0 || dwarf_tag(&elem) != DW_TAG_pointer_type ||
	    !type_of(&elem, &elem))
		goto unknown;
	l->timer_stride =
		dwarf_tag(&elem) == DW_TAG_pointer_type ? 8 : (int32_t)dwarf_bytesize(&elem);
	if (l->timer_stride < 8)
		goto unknown;
	l->p_timers += heap_off;
	return;
unknown:
	l->allp = 0;
}

/* runtime.semtable: an array (of a named type, semTable, since Go 1.19) of padded structs,
 * each {root semaRoot; pad}, the treap's root in semaRoot.treap. All of it or nothing. */
static void sema_from_dwarf(struct found *f, struct go_layout *l)
{
	Dwarf_Attribute attr;
	Dwarf_Die arr, elem, root, sub;
	Dwarf_Word upper;
	int root_off;

	l->semtable = 0;
	if (!f->have_semtable || !f->have_sudog || variable_address(&f->semtable, &l->semtable) ||
	    !type_of(&f->semtable, &arr) || dwarf_tag(&arr) != DW_TAG_array_type ||
	    !type_of(&arr, &elem) || dwarf_child(&arr, &sub) != 0 ||
	    (!dwarf_attr(&sub, DW_AT_upper_bound, &attr) &&
	     !dwarf_attr(&sub, DW_AT_count, &attr)) ||
	    dwarf_formudata(&attr, &upper))
		goto unknown;
	l->sema_count = (int32_t)upper + (dwarf_attr(&sub, DW_AT_upper_bound, &attr) ? 1 : 0);
	l->sema_stride = (int32_t)dwarf_bytesize(&elem);
	root_off = member_offset(&elem, "root", &root);
	l->sema_treap = root_off < 0 ? -1 : member_offset(&root, "treap", NULL);
	l->sudog_prev = member_offset(&f->sudog, "prev", NULL);
	l->sudog_next = member_offset(&f->sudog, "next", NULL);
	l->sudog_elem = member_offset(&f->sudog, "elem", NULL);
	if (l->sema_count <= 0 || l->sema_count > 4096 || l->sema_stride <= 0 ||
	    l->sema_treap < 0 || l->sudog_prev < 0 || l->sudog_next < 0 || l->sudog_elem < 0 ||
	    l->sudog_waitlink < 0)
		goto unknown;
	l->sema_treap += root_off;
	return;
unknown:
	l->semtable = 0;
}

/* rg and wg are uintptrs (Go 1.18) or atomic.Uintptr, whose value is its only sized field
 * (Go 1.19+): either way the word at the member's offset. */
static void pd_from_dwarf(struct found *f, struct go_layout *l)
{
	if (!f->have_pd) {
		golayout__forget_netpoll(l, "no runtime.pollDesc in DWARF");
		return;
	}
	l->pd_fd = member_offset(&f->pd, "fd", NULL);
	l->pd_rg = member_offset(&f->pd, "rg", NULL);
	l->pd_wg = member_offset(&f->pd, "wg", NULL);
	if (l->pd_fd < 0 || l->pd_rg < 0 || l->pd_wg < 0) {
		golayout__forget_netpoll(l, "runtime.pollDesc in DWARF lacks fd, rg or wg");
		return;
	}
	l->pd_dwarf = true;
	snprintf(l->pd_problem, sizeof(l->pd_problem), "not yet checked against the process");
}

void golayout__forget_netpoll(struct go_layout *l, const char *why)
{
	l->pd_fd = l->pd_rg = l->pd_wg = l->pd_epfd = -1;
	l->pd_dwarf = false;
	l->pd_decoders = 0;
	l->pd_source = NULL;
	snprintf(l->pd_problem, sizeof(l->pd_problem), "%s", why);
}

int golayout__from_dwarf(const char *path, struct go_layout *l)
{
	struct found f = {0};
	Dwarf *dw = NULL;
	Elf *elf = NULL;
	int fd, err = 0;

	golayout__init(l);
	golayout__forget_m(l, "no DWARF");
	golayout__forget_netpoll(l, "no DWARF");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		err = -ENODATA;
		goto out;
	}
	scan_dies(dw, &f);
	if (!f.have_g || !f.have_allgs || !f.have_allglen) {
		err = -ENODATA;
		goto out;
	}
	l->g_size = (uint32_t)dwarf_bytesize(&f.g);
	l->goid = member_offset(&f.g, "goid", NULL);
	l->gopc = member_offset(&f.g, "gopc", NULL);
	l->startpc = member_offset(&f.g, "startpc", NULL);
	l->atomicstatus = member_offset(&f.g, "atomicstatus", NULL);
	l->waitreason = member_offset(&f.g, "waitreason", NULL);
	l->parent_goid = member_offset(&f.g, "parentGoid", NULL); /* Go >= 1.21 */
	l->waitsince = member_offset(&f.g, "waitsince", NULL);
	l->tracking_seq = member_offset(&f.g, "trackingSeq", NULL); /* Go >= 1.17 */
	l->sched_sp = nested_offset(&f.g, "sched", "sp");
	l->sched_pc = nested_offset(&f.g, "sched", "pc");
	l->sched_bp = nested_offset(&f.g, "sched", "bp");
	l->sched_g = nested_offset(&f.g, "sched", "g");
	l->g_m = member_offset(&f.g, "m", NULL);
	l->m_curg = f.have_m ? member_offset(&f.m, "curg", NULL) : -1;
	m_layer_from_dwarf(&f, l);
	l->source = "DWARF";
	l->stack_lo = nested_offset(&f.g, "stack", "lo");
	l->stack_hi = nested_offset(&f.g, "stack", "hi");
	l->g_waiting = member_offset(&f.g, "waiting", NULL);
	l->sudog_waitlink = f.have_sudog ? member_offset(&f.sudog, "waitlink", NULL) : -1;
	l->sudog_c = f.have_sudog ? member_offset(&f.sudog, "c", NULL) : -1;
	if (variable_address(&f.allgs, &l->allgs) || variable_address(&f.allglen, &l->allglen) ||
	    l->goid < 0 || l->atomicstatus < 0 || l->gopc < 0 || (int64_t)l->g_size <= 0) {
		err = -ENODATA;
		goto out;
	}
	if (f.have_wait_reasons)
		read_wait_reasons(elf, fd, &f.wait_reasons, l);
	pd_from_dwarf(&f, l);
	heap_from_dwarf(&f, l);
	timers_from_dwarf(&f, l);
	sema_from_dwarf(&f, l);
out:
	if (dw)
		dwarf_end(dw);
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

int golayout__read_wait_reasons(pid_t pid, uint64_t addr, int count, struct go_layout *l)
{
	bool has_chan_receive = false;
	uint64_t hdr[GO_MAX_WAIT_REASONS][2]; /* string headers: data pointer, length */

	l->nwait_reasons = 0;
	if (count <= 0 || count > GO_MAX_WAIT_REASONS ||
	    procfs__read_mem(pid, addr, hdr, (size_t)count * sizeof(hdr[0])))
		return -EFAULT;
	for (int i = 0; i < count; i++) {
		char *name = l->wait_reasons[i];

		if (hdr[i][1] >= sizeof(l->wait_reasons[0]) ||
		    (hdr[i][1] && procfs__read_mem(pid, hdr[i][0], name, hdr[i][1])))
			return -EBADMSG;
		name[hdr[i][1]] = '\0';
		for (const char *c = name; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				return -EBADMSG;
		has_chan_receive |= !strcmp(name, "chan receive");
	}
	if (!has_chan_receive) /* not the table of wait reasons */
		return -EBADMSG;
	l->nwait_reasons = count;
	return 0;
}

const char *go_status__name(uint32_t status)
{
	switch (status & ~(uint32_t)GO_SCAN) {
	case GO_IDLE:
		return "idle";
	case GO_RUNNABLE:
		return "runnable";
	case GO_RUNNING:
		return "running";
	case GO_SYSCALL:
		return "syscall";
	case GO_WAITING:
		return "waiting";
	case GO_DEAD:
		return "dead";
	case GO_COPYSTACK:
		return "copystack";
	case GO_PREEMPTED:
		return "preempted";
	case GO_LEAKED:
		return "leaked";
	case GO_DEAD_EXTRA:
		return "dead (cgo extra M)";
	default:
		return "unknown";
	}
}

bool golayout__is_go(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool go = false;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getshdrstrndx(elf, &shstrndx)) {
		while (!go && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			const char *name;

			if (gelf_getshdr(scn, &sh) &&
			    (name = elf_strptr(elf, shstrndx, sh.sh_name)))
				go = !strcmp(name, ".go.buildinfo") || !strcmp(name, ".gopclntab");
		}
	}
	elf_end(elf);
	close(fd);
	return go;
}
