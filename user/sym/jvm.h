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

/* The interpreter frame's slot of its Method*, in words from its frame pointer. */
#define JVM_INTERP_METHOD_SLOT (-3)

struct jvm;

/* pid's JVM, when it maps libjvm.so and the library describes itself; NULL when not (a
 * process that is no JVM, or one whose tables cannot be read). */
struct jvm *jvm__open(pid_t pid);
void jvm__free(struct jvm *j);

/* Whether pc is in the interpreter's code (AbstractInterpreter::_code's buffer). */
bool jvm__in_interpreter(const struct jvm *j, uint64_t pc);

/* The method at method as "pkg.Class.name" into buf; 0, or -EINVAL when what was read there
 * is no method (the chain does not hold), -errno when it cannot be read. */
int jvm__method_name(struct jvm *j, uint64_t method, char *buf, size_t size);

#endif /* STRAND_JVM_H */
