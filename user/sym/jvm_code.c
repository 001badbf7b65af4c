// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HotSpot's code cache read from outside, as its serviceability agent and async-profiler
 * read it: which blob of compiled code a pc is in (the heap's segment map leads back from
 * any segment to its block's start), how big that blob's frames are (compiled frames keep
 * no frame pointer: their size is how to pass them), and which Java frames, inlined ones
 * too, a compiled method's call at that pc stands for (its PcDesc's scope chain).
 */
#include "sym/jvm.h"
#include "lib/util.h"
#include "sym/jvm_priv.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SEGMAP_FREE    0xFF /* CodeHeap's free_sentinel: a segment no block holds */
#define SEGMAP_HOPS    1024 /* a block of 128 MiB at 128-byte segments and hops of 254 */
#define BLOBS_KEPT     16384
#define PCDESCS_MAX    65536	 /* a compiled method's call sites, at most, read */
#define SCOPES_MAX     (1 << 20) /* bytes of a compiled method's scopes read at most */
#define INVOCATION_BCI (-1)	 /* InvocationEntryBci: a scope's bci is stored less it */

static int read_int(pid_t pid, uint64_t addr, int32_t *v)
{
	return procfs__read_mem(pid, addr, v, sizeof(*v));
}

void jvm__read_heaps(struct jvm *j)
{
	uint64_t array = 0, data = 0;
	int32_t len = 0;

	if (j->heaps_read || !j->code_known)
		return;
	if (procfs__read_u64(j->pid, j->l.cache_low, &j->code_lo) ||
	    procfs__read_u64(j->pid, j->l.cache_high, &j->code_hi) ||
	    procfs__read_u64(j->pid, j->l.cache_heaps, &array) || !array ||
	    read_int(j->pid, array + j->l.array_len, &len) ||
	    procfs__read_u64(j->pid, array + j->l.array_data, &data) || len <= 0)
		return; /* not made yet: asked again at the next compiled frame */
	j->heaps_read = true;
	for (int32_t i = 0; i < len && j->nheaps < JVM_MAX_HEAPS; i++) {
		struct jvm_heap *h = &j->heaps[j->nheaps];
		uint64_t heap, memory, segmap;
		int32_t log2 = 0;

		if (procfs__read_u64(j->pid, data + (uint64_t)i * 8, &heap) || !heap)
			continue;
		memory = heap + j->l.heap_memory;
		segmap = heap + j->l.heap_segmap;
		if (procfs__read_u64(j->pid, memory + j->l.space_low_bound, &h->lo) ||
		    procfs__read_u64(j->pid, memory + j->l.space_high_bound, &h->hi) ||
		    procfs__read_u64(j->pid, segmap + j->l.space_low, &h->segmap) ||
		    read_int(j->pid, heap + j->l.heap_log2_seg, &log2) || log2 < 4 || log2 > 16 ||
		    h->hi <= h->lo)
			continue;
		h->log2_seg = log2;
		j->nheaps++;
	}
}

/* The blob whose block holds pc: CodeHeap::find_start, hop by hop back in the segment map
 * to the segment its block starts at. */
static int find_blob(struct jvm *j, uint64_t pc, uint64_t *blob)
{
	for (int k = 0; k < j->nheaps; k++) {
		const struct jvm_heap *h = &j->heaps[k];
		uint64_t seg, block;
		uint8_t hop, used = 0;
		int n;

		if (pc < h->lo || pc >= h->hi)
			continue;
		seg = (pc - h->lo) >> h->log2_seg;
		for (n = 0; n < SEGMAP_HOPS; n++) {
			if (procfs__read_mem(j->pid, h->segmap + seg, &hop, 1))
				return -EFAULT;
			if (hop == SEGMAP_FREE)
				return -ENOENT;
			if (!hop)
				break;
			if (hop > seg)
				return -EINVAL;
			seg -= hop;
		}
		if (n == SEGMAP_HOPS)
			return -EINVAL;
		block = h->lo + (seg << h->log2_seg);
		if (procfs__read_mem(j->pid, block + j->l.block_used, &used, 1) || !used)
			return -ENOENT;
		*blob = block + j->l.block_size;
		return 0;
	}
	return -ENOENT;
}

static int read_code(struct jvm *j, uint64_t pc, struct jvm_code *out)
{
	uint64_t begin = 0, end = 0, name = 0;
	int32_t words = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = find_blob(j, pc, &out->blob)))
		return err;
	if ((err = procfs__read_u64(j->pid, out->blob + j->l.blob_code_begin, &begin)) ||
	    (err = procfs__read_u64(j->pid, out->blob + j->l.blob_code_end, &end)) ||
	    (err = read_int(j->pid, out->blob + j->l.blob_frame_size, &words)) ||
	    (err = procfs__read_u64(j->pid, out->blob + j->l.blob_name, &name)) ||
	    (err = jvm__read_str(j->pid, name, out->name, sizeof(out->name))))
		return err;
	/* a blob's frame is a few words to a few thousand */
	if (pc < begin || pc > end || words < 0 || words > (1 << 20))
		return -EINVAL;
	out->code_begin = begin;
	out->frame_size = words * 8;
	out->interpreter = jvm__in_interpreter(j, pc);
	/* nmethod's name is "nmethod" (a native method's wrapper is one too) */
	out->compiled = strstr(out->name, "nmethod") != NULL;
	if (out->compiled &&
	    (err = procfs__read_u64(j->pid, out->blob + j->l.cm_method, &out->method)))
		return err;
	return 0;
}

bool jvm__reads_code_cache(struct jvm *j)
{
	jvm__read_heaps(j);
	return j->heaps_read && j->nheaps > 0;
}

/* Whether the blob c was read from is still there as it was: its code, its frames' size,
 * its method (one read of its header). */
static bool same_blob(struct jvm *j, const struct jvm_code *c)
{
	uint64_t begin, method = 0, end = j->l.blob_code_begin + 8;
	uint8_t head[512];
	int32_t words;

	if (j->l.blob_frame_size + 4 > end)
		end = j->l.blob_frame_size + 4;
	if (c->compiled && j->l.cm_method + 8 > end)
		end = j->l.cm_method + 8;
	if (end > sizeof(head) || procfs__read_mem(j->pid, c->blob, head, end))
		return false;
	memcpy(&begin, head + j->l.blob_code_begin, sizeof(begin));
	memcpy(&words, head + j->l.blob_frame_size, sizeof(words));
	if (c->compiled)
		memcpy(&method, head + j->l.cm_method, sizeof(method));
	return begin == c->code_begin && (int64_t)words * 8 == c->frame_size &&
	       method == (c->compiled ? c->method : 0);
}

int jvm__code_at(struct jvm *j, uint64_t pc, struct jvm_code *out)
{
	struct jvm_code *kept;
	int err;

	jvm__read_heaps(j);
	if (!j->heaps_read || pc < j->code_lo || pc >= j->code_hi)
		return -ENOENT;
	/* a blob's pcs stand for it while it lives: kept by pc, and checked to be the same
	 * blob still (a compiled method freed, another made in its memory) */
	if ((kept = hashmap__get(&j->blobs, pc))) {
		if (same_blob(j, kept)) {
			*out = *kept;
			return 0;
		}
		free(hashmap__del(&j->blobs, pc));
	}
	if ((err = read_code(j, pc, out)))
		return err;
	if (j->blobs.len >= BLOBS_KEPT) {
		hashmap__free_values(&j->blobs);
		hashmap__init(&j->blobs);
	}
	kept = xmalloc(sizeof(*kept));
	*kept = *out;
	hashmap__set(&j->blobs, pc, kept);
	return 0;
}

/* The PcDesc of compiled method nm at pc offset off (a call's return address has one of
 * its own): its scope's offset in the scopes data, 0 when none. */
static int32_t scope_at(struct jvm *j, uint64_t nm, int32_t off)
{
	int32_t pcs = 0, deps = 0, at_off, scope = 0;
	uint64_t n, size = j->l.pc_size;
	size_t lo = 0, hi;
	uint8_t *descs;

	if (size < 8 || size > 64 || j->l.pc_offset + 4 > size || j->l.pc_scope + 4 > size ||
	    read_int(j->pid, nm + j->l.nm_scopes_pcs, &pcs) ||
	    read_int(j->pid, nm + j->l.nm_dependencies, &deps) || pcs <= 0 || deps <= pcs)
		return 0;
	n = (uint64_t)(deps - pcs) / size;
	if (n > PCDESCS_MAX)
		n = PCDESCS_MAX;
	/* all of them in one read: a large method has thousands */
	descs = xmalloc(n * size + 1);
	if (procfs__read_mem(j->pid, nm + (uint64_t)pcs, descs, n * size)) {
		free(descs);
		return 0;
	}
	/* sorted by pc: the one at off exactly, if any */
	for (hi = n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		memcpy(&at_off, descs + mid * size + j->l.pc_offset, sizeof(at_off));
		if (at_off == off) {
			memcpy(&scope, descs + mid * size + j->l.pc_scope, sizeof(scope));
			break;
		}
		if (at_off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	free(descs);
	return scope;
}

int jvm__scopes(const uint8_t *data, size_t n, int32_t off, struct jvm_scope *out, int max)
{
	int k = 0;

	/* ScopeDesc::decode_body: the sender's offset, the method (an index into the
	 * nmethod's metadata, from 1), the bci; from the innermost inlined call out */
	while (off > 0 && (size_t)off < n && k < max) {
		uint32_t sender, index, bci;
		size_t at = (size_t)off;

		if (!jvm__uint5(data, n, &at, &sender) || !jvm__uint5(data, n, &at, &index) ||
		    !jvm__uint5(data, n, &at, &bci) || !index || index > JVM_SCOPE_INDEX_MAX)
			break;
		out[k].method_index = index;
		/* stored less InvocationEntryBci (-1); a method has 65535 bytes of code */
		out[k].bci = bci > UINT16_MAX ? -1 : (int)bci + INVOCATION_BCI;
		k++;
		/* senders are written before their callees: an offset that does not go back
		 * is no chain */
		if ((int32_t)sender >= off)
			break;
		off = (int32_t)sender;
	}
	return k;
}

static int frame_at_bci(struct jvm *j, uint64_t method, int bci, struct jvm_frame *out)
{
	uint64_t cm = 0;

	if (bci < 0 || procfs__read_u64(j->pid, method + j->l.method_const, &cm))
		return jvm__frame(j, method, 0, out);
	return jvm__frame(j, method, cm + j->l.const_size + (uint64_t)bci, out);
}

/* A compiled method's scopes data (it ends where its PcDescs begin) up to the scope at off:
 * its senders were written before it, so the chain lies below it. */
static uint8_t *read_scopes(struct jvm *j, uint64_t nm, int32_t off, size_t *n)
{
	uint64_t begin = 0;
	int32_t pcs = 0;
	uint8_t *data;

	if (procfs__read_u64(j->pid, nm + j->l.cm_scopes_data, &begin) ||
	    read_int(j->pid, nm + j->l.nm_scopes_pcs, &pcs) || pcs <= 0 ||
	    nm + (uint64_t)pcs <= begin || nm + (uint64_t)pcs - begin > SCOPES_MAX)
		return NULL;
	*n = nm + (uint64_t)pcs - begin;
	/* the three numbers read of the scope at off: five bytes each at most */
	if (*n > (uint64_t)off + 15)
		*n = (uint64_t)off + 15;
	data = xmalloc(*n);
	if (procfs__read_mem(j->pid, begin, data, *n)) {
		free(data);
		return NULL;
	}
	return data;
}

int jvm__compiled_frames(struct jvm *j, const struct jvm_code *c, uint64_t pc,
			 struct jvm_frame *out, int max)
{
	struct jvm_scope scopes[JVM_MAX_SCOPES];
	uint64_t nm = c->blob;
	int32_t meta = 0, off;
	uint8_t *data = NULL;
	size_t n = 0;
	int k = 0, got = 0;

	if (!c->compiled || !c->method || max < 1)
		return -EINVAL;
	if (!read_int(j->pid, nm + j->l.nm_metadata, &meta) && meta > 0 &&
	    (off = scope_at(j, nm, (int32_t)(pc - c->code_begin))) > 0 &&
	    (data = read_scopes(j, nm, off, &n)))
		k = jvm__scopes(data, n, off, scopes, max < JVM_MAX_SCOPES ? max : JVM_MAX_SCOPES);
	free(data);
	for (int i = 0; i < k; i++) {
		uint64_t method;

		if (procfs__read_u64(j->pid, nm + (uint64_t)meta + (scopes[i].method_index - 1) * 8,
				     &method) ||
		    frame_at_bci(j, method, scopes[i].bci, &out[got]))
			break;
		got++;
	}
	if (got)
		return got;
	/* no scope at pc: the method the code was compiled from, no line */
	return jvm__frame(j, c->method, 0, &out[0]) ? -EINVAL : 1;
}

/* The first frame whose return address is into the JIT's code, where the unwinder went by
 * frame pointers (compiled code keeps none): 0 when none. */
static int first_jit_frame(struct jvm *j, const struct unwound_stack *st)
{
	struct jvm_code c;

	for (int i = 1; i < st->depth; i++)
		if (st->slot[i] >= 8 && !jvm__code_at(j, st->pc[i] - 1, &c))
			return i;
	return 0;
}

int jvm__unwind(struct jvm *j, const struct stack_sample *s, struct unwound_stack *st,
		struct jvm_native *tail)
{
	uint64_t s_sp = s->regs[DWARF_RSP], sp, fp, pc;
	int i = first_jit_frame(j, st), depth;

	memset(tail, 0, sizeof(*tail));
	/* the callee of frame i pushed its frame pointer first thing: HotSpot's own code and
	 * libjvm.so (built with frame pointers) both do */
	if (!i || !stack_sample__word(s, s_sp + (uint64_t)st->slot[i] - 8, &fp))
		return 0;
	st->truncated = 0;
	sp = s_sp + (uint64_t)st->slot[i] + 8;
	pc = st->pc[i];
	for (depth = i + 1; depth < UNWIND_MAX_FRAMES;) {
		uint64_t ra_at, next_sp, next_fp = 0, ra = 0;
		struct jvm_code c;
		bool jit = !jvm__code_at(j, pc - 1, &c);

		if (!jit) { /* back in native code: its CFI goes on from here */
			*tail = (struct jvm_native){.pc = pc, .sp = sp, .fp = fp, .at = depth - 1};
			break;
		}
		if (!c.interpreter && c.frame_size > 0) {
			/* a compiled frame: frame_size bytes up to its caller's sp, the return
			 * address and the saved frame pointer its last two words */
			next_sp = sp + (uint64_t)c.frame_size;
			ra_at = next_sp - 8;
			if (!stack_sample__word(s, next_sp - 16, &next_fp))
				break;
		} else {
			/* the interpreter's frames and stubs keep frame pointers; an interpreted
			 * frame's caller's sp is the one it saved (the "sender sp" a compiled
			 * caller's adapter extended the stack from) */
			ra_at = fp + 8;
			next_sp = fp + 16;
			if (!stack_sample__word(s, fp, &next_fp) ||
			    (c.interpreter && !stack_sample__word(s, fp - 8, &next_sp)))
				break;
		}
		if (!stack_sample__word(s, ra_at, &ra) || ra_at - s_sp > INT32_MAX) {
			st->truncated = 1;
			break;
		}
		if (!ra)
			break;
		st->pc[depth] = ra;
		st->slot[depth] = (int32_t)(ra_at - s_sp);
		depth++;
		if (next_sp <= sp)
			break;
		pc = ra;
		sp = next_sp;
		fp = next_fp;
	}
	if (depth == UNWIND_MAX_FRAMES)
		st->truncated = 1;
	st->depth = depth;
	return depth - i - 1;
}
