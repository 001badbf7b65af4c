// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/jvm.h"
#include "sym/jvm_priv.h"
#include "lib/util.h"
#include "sym/elfsym.h"
#include "sym/procmaps.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JVM_MAX_ENTRIES 8192  /* JDK 17 describes 789 fields; a bound against a bad table */
#define JVM_LINES_MAX	16384 /* bytes of a method's line table read at most */

int jvm__read_str(pid_t pid, uint64_t addr, char *buf, size_t size)
{
	int err = addr ? procfs__read_mem(pid, addr, buf, size - 1) : -EINVAL;

	buf[err ? 0 : size - 1] = '\0';
	return err;
}

struct libjvm {
	pid_t pid;
	char *path;
	size_t size;
	uint64_t bias;
	bool found;
};

static int libjvm_mapping(void *ctx, const struct map_line *ml)
{
	struct libjvm *l = ctx;
	const char *base = strrchr(ml->path, '/');

	if (ml->offset || !base || strcmp(base, "/libjvm.so"))
		return 0;
	snprintf(l->path, l->size, "/proc/%d/root%s", l->pid, ml->path);
	l->bias = ml->start;
	l->found = true;
	return 1;
}

/* libjvm.so in pid: the path to open it by (through the process's root) and its load
 * address (a shared object's first mapping maps its first page at vaddr 0). */
static int find_libjvm(pid_t pid, char *path, size_t size, uint64_t *bias)
{
	struct libjvm l = {.pid = pid, .path = path, .size = size};
	int err = procmaps__each_file(pid, libjvm_mapping, &l);

	if (err)
		return err;
	if (!l.found)
		return -ENOENT;
	*bias = l.bias;
	return 0;
}

/* The tables' own layout: where in an entry its names, offset and address are. */
struct vm_tables {
	uint64_t structs, stride, type_name, field_name, is_static, offset, address;
	uint64_t types, type_stride, type_type_name, type_size;
};

static int read_tables(pid_t pid, const char *lib, uint64_t bias, struct vm_tables *t)
{
	static const struct {
		const char *sym;
		size_t at;
	} vars[] = {
		{"gHotSpotVMStructs", offsetof(struct vm_tables, structs)},
		{"gHotSpotVMStructEntryArrayStride", offsetof(struct vm_tables, stride)},
		{"gHotSpotVMStructEntryTypeNameOffset", offsetof(struct vm_tables, type_name)},
		{"gHotSpotVMStructEntryFieldNameOffset", offsetof(struct vm_tables, field_name)},
		{"gHotSpotVMStructEntryIsStaticOffset", offsetof(struct vm_tables, is_static)},
		{"gHotSpotVMStructEntryOffsetOffset", offsetof(struct vm_tables, offset)},
		{"gHotSpotVMStructEntryAddressOffset", offsetof(struct vm_tables, address)},
		{"gHotSpotVMTypes", offsetof(struct vm_tables, types)},
		{"gHotSpotVMTypeEntryArrayStride", offsetof(struct vm_tables, type_stride)},
		{"gHotSpotVMTypeEntryTypeNameOffset", offsetof(struct vm_tables, type_type_name)},
		{"gHotSpotVMTypeEntrySizeOffset", offsetof(struct vm_tables, type_size)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		uint64_t vaddr;
		int err = elfsym__variable_address(lib, vars[i].sym, &vaddr);

		if (err || (err = procfs__read_u64(pid, bias + vaddr,
						   (uint64_t *)((char *)t + vars[i].at))))
			return err;
	}
	/* an entry is a handful of pointers and ints: anything else is no such table */
	if (t->stride < 32 || t->stride > 256 || t->type_stride < 32 || t->type_stride > 256)
		return -EINVAL;
	return 0;
}

struct wanted {
	const char *type, *field; /* field NULL: the type's size */
	size_t at;		  /* in struct jvm_layout */
	bool is_static;		  /* the field's address, not its offset */
	bool code;		  /* the code cache's: without them, compiled frames go unnamed */
};

#define CODE(type, field, member, is_static)                                                       \
	{                                                                                          \
		type, field, offsetof(struct jvm_layout, member), is_static, true                  \
	}

static const struct wanted wanted[] = {
	{"Method", "_constMethod", offsetof(struct jvm_layout, method_const), false, false},
	{"ConstMethod", "_constants", offsetof(struct jvm_layout, const_constants), false, false},
	{"ConstMethod", "_name_index", offsetof(struct jvm_layout, const_name_index), false, false},
	{"ConstMethod", "_flags", offsetof(struct jvm_layout, const_flags), false, false},
	{"ConstMethod", "_code_size", offsetof(struct jvm_layout, const_code_size), false, false},
	{"ConstMethod", NULL, offsetof(struct jvm_layout, const_size), false, false},
	{"ConstantPool", "_source_file_name_index", offsetof(struct jvm_layout, pool_source_file),
	 false, false},
	{"ConstantPool", "_pool_holder", offsetof(struct jvm_layout, pool_holder), false, false},
	{"ConstantPool", NULL, offsetof(struct jvm_layout, pool_size), false, false},
	{"Klass", "_name", offsetof(struct jvm_layout, klass_name), false, false},
	{"Symbol", "_length", offsetof(struct jvm_layout, symbol_length), false, false},
	{"Symbol", "_body", offsetof(struct jvm_layout, symbol_body), false, false},
	{"AbstractInterpreter", "_code", offsetof(struct jvm_layout, interp_code), true, false},
	{"StubQueue", "_stub_buffer", offsetof(struct jvm_layout, queue_buffer), false, false},
	{"StubQueue", "_buffer_limit", offsetof(struct jvm_layout, queue_limit), false, false},
	CODE("CodeCache", "_heaps", cache_heaps, true),
	CODE("CodeCache", "_low_bound", cache_low, true),
	CODE("CodeCache", "_high_bound", cache_high, true),
	CODE("GrowableArrayBase", "_len", array_len, false),
	CODE("GrowableArray<int>", "_data", array_data, false),
	CODE("CodeHeap", "_memory", heap_memory, false),
	CODE("CodeHeap", "_segmap", heap_segmap, false),
	CODE("CodeHeap", "_log2_segment_size", heap_log2_seg, false),
	CODE("VirtualSpace", "_low_boundary", space_low_bound, false),
	CODE("VirtualSpace", "_high_boundary", space_high_bound, false),
	CODE("VirtualSpace", "_low", space_low, false),
	CODE("HeapBlock::Header", "_used", block_used, false),
	CODE("HeapBlock", NULL, block_size, false),
	CODE("CodeBlob", "_name", blob_name, false),
	CODE("CodeBlob", "_frame_size", blob_frame_size, false),
	CODE("CodeBlob", "_code_begin", blob_code_begin, false),
	CODE("CodeBlob", "_code_end", blob_code_end, false),
	CODE("CompiledMethod", "_method", cm_method, false),
	CODE("CompiledMethod", "_scopes_data_begin", cm_scopes_data, false),
	CODE("nmethod", "_metadata_offset", nm_metadata, false),
	CODE("nmethod", "_scopes_pcs_offset", nm_scopes_pcs, false),
	CODE("nmethod", "_dependencies_offset", nm_dependencies, false),
	CODE("PcDesc", "_pc_offset", pc_offset, false),
	CODE("PcDesc", "_scope_decode_offset", pc_scope, false),
	CODE("PcDesc", NULL, pc_size, false),
};

/* Walks a table of entries (ended by one whose type name is NULL) for what is wanted of
 * it; the number found, those of the code cache counted in *code. */
static size_t walk(pid_t pid, const struct vm_tables *t, bool types, struct jvm_layout *l,
		   size_t *code)
{
	uint64_t base = types ? t->types : t->structs, stride = types ? t->type_stride : t->stride;
	size_t found = 0;

	for (uint64_t i = 0; i < JVM_MAX_ENTRIES; i++) {
		uint64_t e = base + i * stride, tn, fn = 0, v = 0;
		char type[64], field[64] = "";
		int is_static = 0;

		if (procfs__read_u64(pid, e + (types ? t->type_type_name : t->type_name), &tn) ||
		    !tn)
			break;
		if (jvm__read_str(pid, tn, type, sizeof(type)))
			continue;
		if (!types &&
		    (procfs__read_u64(pid, e + t->field_name, &fn) ||
		     jvm__read_str(pid, fn, field, sizeof(field)) ||
		     procfs__read_mem(pid, e + t->is_static, &is_static, sizeof(is_static))))
			continue;
		for (size_t w = 0; w < ARRAY_SIZE(wanted); w++) {
			if (strcmp(wanted[w].type, type) || (!wanted[w].field) != types ||
			    (!types && strcmp(wanted[w].field, field)) ||
			    (!types && !!is_static != wanted[w].is_static))
				continue;
			if (procfs__read_u64(pid,
					     e + (types	      ? t->type_size
						  : is_static ? t->address
							      : t->offset),
					     &v))
				continue;
			*(uint64_t *)((char *)l + wanted[w].at) = v;
			if (wanted[w].code)
				(*code)++;
			else
				found++;
		}
	}
	return found;
}

/* Where the interpreter's code is: once the VM has made it (a JVM looked at early in its
 * start has not yet), asked again until then. */
static void read_interpreter(struct jvm *j)
{
	uint64_t queue = 0, buffer = 0;
	int32_t limit = 0;

	if (j->interp_hi)
		return;
	if (!procfs__read_u64(j->pid, j->l.interp_code, &queue) && queue &&
	    !procfs__read_u64(j->pid, queue + j->l.queue_buffer, &buffer) &&
	    !procfs__read_mem(j->pid, queue + j->l.queue_limit, &limit, sizeof(limit)) &&
	    limit > 0 && buffer) {
		j->interp_lo = buffer;
		j->interp_hi = buffer + (uint64_t)limit;
	}
}

struct jvm *jvm__open(pid_t pid)
{
	char lib[4200];
	uint64_t bias = 0;
	struct vm_tables t;
	struct jvm *j;

	if (find_libjvm(pid, lib, sizeof(lib), &bias) || read_tables(pid, lib, bias, &t))
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->pid = pid;
	size_t code = 0, ncode = 0;

	for (size_t w = 0; w < ARRAY_SIZE(wanted); w++)
		ncode += wanted[w].code;
	if (walk(pid, &t, false, &j->l, &code) + walk(pid, &t, true, &j->l, &code) !=
	    ARRAY_SIZE(wanted) - ncode) {
		free(j);
		return NULL;
	}
	j->code_known = code == ncode;
	hashmap__init(&j->blobs);
	read_interpreter(j);
	return j;
}

void jvm__free(struct jvm *j)
{
	if (!j)
		return;
	hashmap__free_values(&j->blobs);
	free(j);
}

bool jvm__in_interpreter(struct jvm *j, uint64_t pc)
{
	read_interpreter(j);
	return pc >= j->interp_lo && pc < j->interp_hi;
}

/* A Symbol's text into buf, when it is one: a length that fits, printable characters. */
static int symbol_text(struct jvm *j, uint64_t sym, char *buf, size_t size)
{
	uint16_t len;
	int err;

	if (!sym || (err = procfs__read_mem(j->pid, sym + j->l.symbol_length, &len, sizeof(len))))
		return sym ? err : -EINVAL;
	if (!len || len >= size)
		return -EINVAL;
	if ((err = procfs__read_mem(j->pid, sym + j->l.symbol_body, buf, len)))
		return err;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -EINVAL;
	return 0;
}

/* ConstMethod::_has_linenumber_table (an int constant the VM exports; 1 since JDK 8) */
#define HAS_LINE_TABLE 0x1

/* The compressed stream's numbers (CompressedReadStream, UNSIGNED5): a byte below 192 is
 * itself, others carry on into up to four more, six bits a byte. false past the end. */
bool jvm__uint5(const uint8_t *b, size_t n, size_t *at, uint32_t *v)
{
	uint32_t sum = 0;
	int shift = 0;

	for (int i = 0; i < 5; i++) {
		uint32_t x;

		if (*at >= n)
			return false;
		x = b[(*at)++];
		sum += x << shift;
		if (x < 192 || i == 4)
			break;
		shift += 6;
	}
	*v = sum;
	return true;
}

static bool read_sint5(const uint8_t *b, size_t n, size_t *at, int32_t *v)
{
	uint32_t u;

	if (!jvm__uint5(b, n, at, &u))
		return false;
	*v = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
	return true;
}

/* Method::line_number_from_bci over the table (CompressedLineNumberReadStream): pairs of
 * (bci, line) deltas, a byte each (bci << 3 | line) or 0xFF and two signed numbers, ended
 * by 0; the line of bci, or of the last pair before it. */
int jvm__line_of(const uint8_t *t, size_t n, int bci)
{
	/* 64 bits: deltas from memory strand does not trust may add up past an int */
	int64_t at_bci = 0, line = 0, best_bci = 0, best = 0;
	size_t at = 0;

	while (at < n && t[at]) {
		uint8_t b = t[at++];

		if (b == 0xFF) {
			int32_t db, dl;

			if (!read_sint5(t, n, &at, &db) || !read_sint5(t, n, &at, &dl))
				break;
			at_bci += db;
			line += dl;
		} else {
			at_bci += b >> 3;
			line += b & 7;
		}
		/* a method has at most 65535 bytes of code, a file fewer lines than an int */
		if (at_bci < 0 || at_bci > UINT16_MAX || line < 0 || line > INT32_MAX)
			break;
		if (at_bci == bci)
			return (int)line;
		if (at_bci < bci && at_bci >= best_bci) {
			best_bci = at_bci;
			best = line;
		}
	}
	return (int)best;
}

/* The line of the bytecode at bcp in the method whose ConstMethod is cm; 0 when unknown. */
static int frame_line(struct jvm *j, uint64_t cm, uint64_t bcp)
{
	uint16_t flags, code_size;
	uint64_t code = cm + j->l.const_size;
	uint8_t *table;
	int line = 0;
	size_t n;

	if (!bcp || procfs__read_mem(j->pid, cm + j->l.const_flags, &flags, sizeof(flags)) ||
	    procfs__read_mem(j->pid, cm + j->l.const_code_size, &code_size, sizeof(code_size)) ||
	    !(flags & HAS_LINE_TABLE) || bcp < code || bcp >= code + code_size)
		return 0;
	table = xcalloc(1, JVM_LINES_MAX);
	/* the table follows the bytecodes; it may end before a page does */
	for (n = JVM_LINES_MAX; n >= 64; n /= 4)
		if (!procfs__read_mem(j->pid, code + code_size, table, n))
			break;
	if (n >= 64)
		line = jvm__line_of(table, n, (int)(bcp - code));
	free(table);
	return line;
}

int jvm__frame(struct jvm *j, uint64_t method, uint64_t bcp, struct jvm_frame *out)
{
	uint64_t cm, cp, holder, kname, mname, fname;
	char klass[JVM_NAME_MAX];
	uint16_t index, file_index;
	int err;

	if ((err = procfs__read_u64(j->pid, method + j->l.method_const, &cm)) ||
	    (err = procfs__read_u64(j->pid, cm + j->l.const_constants, &cp)) ||
	    (err = procfs__read_mem(j->pid, cm + j->l.const_name_index, &index, sizeof(index))) ||
	    (err = procfs__read_u64(j->pid, cp + j->l.pool_holder, &holder)) ||
	    (err = procfs__read_u64(j->pid, holder + j->l.klass_name, &kname)) ||
	    (err = procfs__read_u64(j->pid, cp + j->l.pool_size + (uint64_t)index * 8, &mname)) ||
	    (err = symbol_text(j, kname, klass, sizeof(klass))) ||
	    (err = symbol_text(j, mname, out->file, sizeof(out->file))))
		return err == -EFAULT || err == -EIO ? -EINVAL : err;
	/* the class's name is internal ("java/util/concurrent/ThreadPoolExecutor") */
	for (char *c = klass; *c; c++)
		if (*c == '/')
			*c = '.';
	snprintf(out->name, sizeof(out->name), "%s.%s", klass, out->file);
	out->file[0] = '\0';
	if (!procfs__read_mem(j->pid, cp + j->l.pool_source_file, &file_index,
			      sizeof(file_index)) &&
	    file_index &&
	    !procfs__read_u64(j->pid, cp + j->l.pool_size + (uint64_t)file_index * 8, &fname) &&
	    symbol_text(j, fname, out->file, sizeof(out->file)))
		out->file[0] = '\0';
	out->line = frame_line(j, cm, bcp);
	return 0;
}
