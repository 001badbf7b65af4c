/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * C++ names as people read them ("os::create_thread(Thread*, ...)"), not as the linker
 * keeps them ("_ZN2os13create_threadEP6Thread..."), by the C++ runtime's own demangler.
 */
#ifndef STRAND_DEMANGLE_H
#define STRAND_DEMANGLE_H

/* The plain name of a mangled C++ name (malloc'd, the caller frees it); NULL when name is not
 * one (a C or Go name) or cannot be demangled. */
char *demangle(const char *name);

#endif /* STRAND_DEMANGLE_H */
