/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What jvm.c (the tables, the methods) and jvm_code.c (the code cache: compiled frames, their
 * unwinding) share of a JVM: the layout found in its tables, and its reads.
 */
#ifndef STRAND_JVM_PRIV_H
#define STRAND_JVM_PRIV_H

#include "lib/hashmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What strand reads of HotSpot's structures, each found by its name in the tables. */
struct jvm_layout {
	uint64_t method_const;	   /* Method::_constMethod */
	uint64_t const_constants;  /* ConstMethod::_constants */
	uint64_t const_name_index; /* ConstMethod::_name_index (u2) */
	uint64_t const_flags;	   /* ConstMethod::_flags (u2) */
	uint64_t const_code_size;  /* ConstMethod::_code_size (u2) */
	uint64_t const_size;	   /* sizeof(ConstMethod): its bytecodes follow it */
	uint64_t pool_source_file; /* ConstantPool::_source_file_name_index (u2) */
	uint64_t pool_holder;	   /* ConstantPool::_pool_holder */
	uint64_t pool_size;	   /* sizeof(ConstantPool): its slots follow it */
	uint64_t klass_name;	   /* Klass::_name */
	uint64_t symbol_length;	   /* Symbol::_length (u2) */
	uint64_t symbol_body;	   /* Symbol::_body */
	uint64_t interp_code;	   /* &AbstractInterpreter::_code, a StubQueue* */
	uint64_t queue_buffer;	   /* StubQueue::_stub_buffer */
	uint64_t queue_limit;	   /* StubQueue::_buffer_limit (int) */
	/* The code cache (jvm_code.c): where compiled code's blobs are, and what they say
	 * of their frames and of the Java frames they run. */
	uint64_t cache_heaps;	   /* &CodeCache::_heaps, a GrowableArray<CodeHeap*>* */
	uint64_t cache_low;	   /* &CodeCache::_low_bound */
	uint64_t cache_high;	   /* &CodeCache::_high_bound */
	uint64_t array_len;	   /* GrowableArrayBase::_len (int) */
	uint64_t array_data;	   /* GrowableArray<int>::_data */
	uint64_t heap_memory;	   /* CodeHeap::_memory, a VirtualSpace */
	uint64_t heap_segmap;	   /* CodeHeap::_segmap, a VirtualSpace */
	uint64_t heap_log2_seg;	   /* CodeHeap::_log2_segment_size (int) */
	uint64_t space_low_bound;  /* VirtualSpace::_low_boundary */
	uint64_t space_high_bound; /* VirtualSpace::_high_boundary */
	uint64_t space_low;	   /* VirtualSpace::_low */
	uint64_t block_used;	   /* HeapBlock::Header::_used (bool) */
	uint64_t block_size;	   /* sizeof(HeapBlock): the blob follows its block's header */
	uint64_t blob_name;	   /* CodeBlob::_name */
	uint64_t blob_frame_size;  /* CodeBlob::_frame_size (int, words) */
	uint64_t blob_code_begin;  /* CodeBlob::_code_begin */
	uint64_t blob_code_end;	   /* CodeBlob::_code_end */
	uint64_t cm_method;	   /* CompiledMethod::_method */
	uint64_t cm_scopes_data;   /* CompiledMethod::_scopes_data_begin */
	uint64_t nm_metadata;	   /* nmethod::_metadata_offset (int) */
	uint64_t nm_scopes_pcs;	   /* nmethod::_scopes_pcs_offset (int) */
	uint64_t nm_dependencies;  /* nmethod::_dependencies_offset (int): the PcDescs end there */
	uint64_t pc_offset;	   /* PcDesc::_pc_offset (int) */
	uint64_t pc_scope;	   /* PcDesc::_scope_decode_offset (int) */
	uint64_t pc_size;	   /* sizeof(PcDesc) */
};

#define JVM_MAX_HEAPS 8

struct jvm_heap {
	uint64_t lo, hi; /* its reserved memory: blocks of segments */
	uint64_t segmap; /* a byte per segment: how far back its block starts */
	int log2_seg;
};

struct jvm {
	pid_t pid;
	struct jvm_layout l;
	uint64_t interp_lo, interp_hi; /* the interpreter's code */
	bool code_known;	       /* the code cache's fields were all found */
	bool heaps_read;
	uint64_t code_lo, code_hi; /* the code cache's bounds */
	struct jvm_heap heaps[JVM_MAX_HEAPS];
	int nheaps;
	struct hashmap blobs; /* pc -> struct jvm_code, as found */
};

int jvm__read_str(pid_t pid, uint64_t addr, char *buf, size_t size);
/* A number of HotSpot's compressed streams (CompressedReadStream, UNSIGNED5: line tables,
 * compiled methods' scopes) at b[*at], read on; false past the end n. */
bool jvm__uint5(const uint8_t *b, size_t n, size_t *at, uint32_t *v);
/* The code cache's heaps, read once the VM has made them. */
void jvm__read_heaps(struct jvm *j);

#endif /* STRAND_JVM_PRIV_H */
