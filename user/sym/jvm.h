/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HotSpot's interpreted Java frames named from outside, as its serviceability agent names
 * them: libjvm.so describes its own structures (gHotSpotVMStructs, gHotSpotVMTypes: each
 * field's offset, each type's size, read from the process), and an interpreted frame keeps
 * its Method* at a fixed slot below its frame pointer (frame::interpreter_frame_method_offset,
 * -3 words on x86-64). A name is believed only when the whole chain it was read through
 * holds: Method -> ConstMethod -> ConstantPool -> its class's name, and the method's name
 * from the pool, each a Symbol of sane length and characters.
 */
#ifndef STRAND_JVM_H
#define STRAND_JVM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sym/unwind.h"

/* The interpreter frame's slots of its Method* and of its bytecode pointer, in words from
 * its frame pointer (frame_x86.hpp: sender sp, last sp, method, mirror, mdp, cache, locals,
 * bcp). */
#define JVM_INTERP_METHOD_SLOT (-3)
#define JVM_INTERP_BCP_SLOT    (-8)

#define JVM_NAME_MAX 512

/* A Java frame in words. */
struct jvm_frame {
	char name[2 * JVM_NAME_MAX + 1]; /* "pkg.Class.method" */
	char file[JVM_NAME_MAX];	 /* "Class.java", "" when the class says none */
	int line; /* 0 when the bytecode pointer or the method's table says none */
};

struct jvm;

/* pid's JVM, when it maps libjvm.so and the library describes itself; NULL when not (a
 * process that is no JVM, or one whose tables cannot be read). */
struct jvm *jvm__open(pid_t pid);
void jvm__free(struct jvm *j);

/* Whether pc is in the interpreter's code (AbstractInterpreter::_code's buffer, read again
 * until the VM has made it). */
bool jvm__in_interpreter(struct jvm *j, uint64_t pc);

/* The frame running method at bytecode pointer bcp (0: unknown), as HotSpot's own
 * Method::line_number_from_bci reads the method's compressed line table; 0, or -EINVAL when
 * what was read is no method (the chain does not hold), -errno when it cannot be read. */
int jvm__frame(struct jvm *j, uint64_t method, uint64_t bcp, struct jvm_frame *out);

/* What HotSpot's code cache holds at a pc. */
struct jvm_code {
	uint64_t blob;	     /* its CodeBlob */
	uint64_t code_begin; /* the blob's code */
	int32_t frame_size;  /* bytes of the blob's frames, return address included; 0: none */
	bool interpreter;    /* the template interpreter's: its frames kept by frame pointers */
	bool compiled;	     /* an nmethod: a compiled Java method, or a native one's wrapper */
	uint64_t method;     /* the compiled method's Method* */
	char name[64];	     /* "nmethod", "Interpreter", "StubRoutines (1)", ... */
};

/* Whether the code cache can be read (the tables describe it, the VM has made it): where
 * not, compiled frames go unnamed. */
bool jvm__reads_code_cache(struct jvm *j);

/* The blob of compiled code pc is in (pc - 1 for a return address: a call may be a blob's
 * last instruction); -ENOENT when none (not in the code cache, or in no live block). */
int jvm__code_at(struct jvm *j, uint64_t pc, struct jvm_code *out);

/* The Java frames a compiled method's call returning to pc stands for, innermost first
 * (the methods inlined into it, then itself), each at its line as the method's own line
 * table says of the call's bytecode: the count, up to max; -EINVAL when c is no compiled
 * method. */
int jvm__compiled_frames(struct jvm *j, const struct jvm_code *c, uint64_t pc,
			 struct jvm_frame *out, int max);

/* Where a JVM's stack went back into native code (a frame's pc, and its caller's sp and
 * frame pointer): the unwinder's CFI goes on from there. pc 0: it did not. */
struct jvm_native {
	uint64_t pc, sp, fp;
	int at; /* the frame of st it is */
};

/* A scope of a compiled method's call: a method (its index in the compiled method's
 * metadata, from 1) at a bytecode index (-1: none). */
struct jvm_scope {
	uint32_t method_index;
	int bci;
};

#define JVM_MAX_SCOPES	    16
#define JVM_SCOPE_INDEX_MAX (1u << 20)

/* Pure: the scope chain at offset off of a compiled method's scopes data[0..n) (HotSpot's
 * compressed debug information, read from memory strand does not trust), innermost first:
 * how many, up to max. */
int jvm__scopes(const uint8_t *data, size_t n, int32_t off, struct jvm_scope *out, int max);

/* An unwound stack's frames from the first whose return address is into the code cache
 * unwound again as HotSpot does: compiled frames by their blob's frame size (they keep no
 * frame pointer), the interpreter's and stubs' by frame pointers, up to native code again
 * (*tail). The number of frames it found. */
int jvm__unwind(struct jvm *j, const struct stack_sample *sample, struct unwound_stack *st,
		struct jvm_native *tail);

/* The line of bytecode index bci in a method's compressed line table t[0..n) (its end may
 * be cut off: what is read stops there); 0 when it says none. */
int jvm__line_of(const uint8_t *t, size_t n, int bci);

#endif /* STRAND_JVM_H */
