// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "verdicts/thread_roles.h"
#include "lib/util.h"

#include <string.h>

/*
 * A thread has a role when its name starts with comm (NULL: any name) and a frame of its
 * wait stack has a function containing frame (NULL: any) in a module whose file name ends
 * with module (NULL: any). Frames are matched as the symbolizer names them: C++ names of
 * libjvm.so demangled ("GangWorker::loop()"), so a class or function name is a substring.
 */
static const struct role_rule {
	struct thread_role role;
	const char *comm, *frame, *module;
} rules[] = {
	/* HotSpot (JDK 11 to 21): the threads the JVM names for itself; a Java thread's name
	 * is its comm, cut to 15 characters. A frame of libjvm.so makes sure it is a JVM. */
	{{"JVM", "launcher, joining the Java main thread"}, NULL, "JLI_Launch", "libjli.so"},
	{{"JVM", "DestroyJavaVM, awaiting the last thread"}, NULL, "destroy_vm", "libjvm.so"},
	{{"JVM", "VM operations"}, "VM Thread", NULL, "libjvm.so"},
	{{"JVM", "periodic tasks"}, "VM Periodic Tas", NULL, "libjvm.so"},
	{{"JVM", "garbage collector"}, "GC Thread#", NULL, "libjvm.so"},
	{{"JVM", "garbage collector"}, "G1 ", NULL, "libjvm.so"},
	{{"JVM", "garbage collector"}, "ParGC", NULL, "libjvm.so"},
	{{"JVM", "garbage collector"}, "Shenandoah", NULL, "libjvm.so"},
	{{"JVM", "garbage collector"}, "Z", "ZThread", "libjvm.so"},
	{{"JVM", "garbage collector"}, NULL, "GangWorker", "libjvm.so"},
	{{"JVM", "garbage collector"}, NULL, "ConcurrentGCThread", "libjvm.so"},
	{{"JVM", "JIT compiler"}, "C1 CompilerThre", NULL, "libjvm.so"},
	{{"JVM", "JIT compiler"}, "C2 CompilerThre", NULL, "libjvm.so"},
	{{"JVM", "JIT compiler"}, "JVMCI", NULL, "libjvm.so"},
	{{"JVM", "code cache sweeper"}, "Sweeper thread", NULL, "libjvm.so"},
	{{"JVM", "service thread"}, "Service Thread", NULL, "libjvm.so"},
	{{"JVM", "monitor deflation"}, "Monitor Deflati", NULL, "libjvm.so"},
	{{"JVM", "JMX notifications"}, "Notification Th", NULL, "libjvm.so"},
	{{"JVM", "signal dispatcher"}, "Signal Dispatch", NULL, "libjvm.so"},
	{{"JVM", "attach listener"}, "Attach Listener", NULL, "libjvm.so"},
	{{"JVM", "reference handler"}, "Reference Handl", NULL, "libjvm.so"},
	{{"JVM", "finalizer"}, "Finalizer", NULL, "libjvm.so"},
	{{"JVM", "cleaner"}, "Common-Cleaner", NULL, "libjvm.so"},
	{{"JVM", "flight recorder"}, "JFR ", NULL, "libjvm.so"},
	/* jemalloc's background purging thread names itself (it may have no symbols) */
	{{"jemalloc", "background purging thread"}, "jemalloc_bg_thd", NULL, NULL},
	{{"jemalloc", "background purging thread"}, NULL, "background_thread_entry", NULL},
	/* glibc: the helpers of POSIX timers (SIGEV_THREAD), POSIX AIO and getaddrinfo_a */
	{{"glibc", "POSIX timer helper"}, NULL, "timer_helper_thread", NULL},
	{{"glibc", "POSIX AIO helper"}, NULL, "handle_fildes_io", NULL},
	{{"glibc", "getaddrinfo_a helper"}, NULL, "handle_requests", NULL},
	/* GLib's own threads, named by GLib */
	{{"GLib", "main context"}, "gmain", NULL, NULL},
	{{"GLib", "D-Bus worker"}, "gdbus", NULL, NULL},
	{{"GLib", "thread-pool spawner"}, "pool-spawner", NULL, NULL},
	{{"GLib", "dconf worker"}, "dconf worker", NULL, NULL},
};

/* Runtimes that park every thread on an object of its own, whatever it waits for. */
static const struct {
	const char *frame, *module;
} per_thread_parks[] = {
	{"Parker4park", "libjvm.so"},	     /* LockSupport.park: Parker::park */
	{"PlatformEvent4park", "libjvm.so"}, /* Object.wait, sleep: os::PlatformEvent::park */
	{"PyThread_acquire_lock", NULL},     /* threading.Condition: a lock per waiter */
	{"PyCOND_WAIT", NULL},
};

static bool module_is(const struct sym_frame *f, const char *module)
{
	return !module || (f->module && str_ends_with(f->module, module));
}

static bool has_frame(const struct task_wait *w, const char *frame, const char *module)
{
	if (!frame && !module)
		return true;
	for (int i = 0; w && i < w->depth; i++) {
		const struct sym_frame *f = &w->stack[i];

		if (frame && (!f->function || !strstr(f->function, frame)))
			continue;
		if (module_is(f, module))
			return true;
	}
	return false;
}

_Static_assert(ARRAY_SIZE(rules) <= 64, "a bit per rule in frames_facts.role_rules");

/* w's stack's facts, worked out on first use (NULL: no stack) */
static const struct frames_facts *facts_of(const struct task_wait *w)
{
	struct frames_facts *f = w ? frames__facts(w->stack) : NULL;

	if (!f || f->known)
		return f;
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (has_frame(w, rules[i].frame, rules[i].module))
			f->role_rules |= 1ULL << i;
	for (size_t i = 0; i < ARRAY_SIZE(per_thread_parks) && !f->parks_per_thread; i++)
		f->parks_per_thread =
			has_frame(w, per_thread_parks[i].frame, per_thread_parks[i].module);
	f->known = true;
	return f;
}

const struct thread_role *thread_role__of(const struct task *t)
{
	const struct frames_facts *f = facts_of(t->wait);

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		const struct role_rule *r = &rules[i];

		if (r->comm && strncmp(t->name, r->comm, strlen(r->comm)))
			continue;
		if ((!r->frame && !r->module) || (f && (f->role_rules & (1ULL << i))))
			return &r->role;
	}
	return NULL;
}

bool thread_role__parks_per_thread(const struct task_wait *w)
{
	const struct frames_facts *f = facts_of(w);

	return f && f->parks_per_thread;
}
