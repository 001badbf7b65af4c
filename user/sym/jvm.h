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

/* Whether pc is in the interpreter's code (AbstractInterpreter::_code's buffer). */
bool jvm__in_interpreter(const struct jvm *j, uint64_t pc);

/* The frame running method at bytecode pointer bcp (0: unknown), as HotSpot's own
 * Method::line_number_from_bci reads the method's compressed line table; 0, or -EINVAL when
 * what was read is no method (the chain does not hold), -errno when it cannot be read. */
int jvm__frame(struct jvm *j, uint64_t method, uint64_t bcp, struct jvm_frame *out);

/* The line of bytecode index bci in a method's compressed line table t[0..n) (its end may
 * be cut off: what is read stops there); 0 when it says none. */
int jvm__line_of(const uint8_t *t, size_t n, int bci);

#endif /* STRAND_JVM_H */
