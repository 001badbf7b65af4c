/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Threads a runtime or a library starts for itself: the JVM's collectors, compilers and
 * service threads, jemalloc's background thread, glibc's and GLib's helpers. They wait,
 * untimed and alone, for the whole life of a healthy process, as Go's runtime goroutines
 * do: they are recognised by their role (thread name, start routine, the library of their
 * frames) and judged apart, never called stranded for waiting. The list is data, kept in
 * thread_roles.c and documented in docs/verdicts.md, as goleak documents its defaults.
 */
#ifndef STRAND_THREAD_ROLES_H
#define STRAND_THREAD_ROLES_H

#include "collect/model.h"

struct thread_role {
	const char *runtime; /* "JVM", "jemalloc", "glibc", "GLib" */
	const char *role;    /* what the thread does, in a few words */
};

/* The role of t from its name and the frames of its wait, NULL when none is known. */
const struct thread_role *thread_role__of(const struct task *t);

/* Whether the wait parks on an object the runtime gives every thread of its own (HotSpot's
 * Parker and PlatformEvent, CPython's per-waiter lock): then distinct objects say nothing of
 * what the program waits for. */
bool thread_role__parks_per_thread(const struct task_wait *w);

#endif /* STRAND_THREAD_ROLES_H */
