// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sym/debugfiles.h"
#include "lib/util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a build no live process asked for stays open. */
#define GRACE_NS (30ULL * NSEC_PER_SEC)

struct debug_file {
	uint64_t modkey;
	Dwfl *dwfl; /* a session holding this one module */
	Dwfl_Module *mod;
	Dwarf_Addr bias;
	pid_t *users;
	size_t nusers, cap;
	uint64_t last_use_ns, orphaned_ns;
};

struct debug_files {
	struct debug_file files[DEBUG_FILES_MAX];
	size_t n;
	struct debug_files_stats stats;
};

static char *debuginfo_path;

/* Separate debug files by build-id (/usr/lib/debug/.build-id) or debuglink; the binary
 * itself is handed over open. */
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct debug_files *debug_files__new(void)
{
	return xcalloc(1, sizeof(struct debug_files));
}

static void df__close(struct debug_files *df, size_t i)
{
	struct debug_file *f = &df->files[i];

	dwfl_end(f->dwfl);
	free(f->users);
	df->files[i] = df->files[--df->n];
	df->stats.dropped++;
}

void debug_files__free(struct debug_files *df)
{
	if (!df)
		return;
	while (df->n)
		df__close(df, df->n - 1);
	free(df);
}

static void df__expire(struct debug_files *df, uint64_t now)
{
	for (size_t i = df->n; i-- > 0;) {
		const struct debug_file *f = &df->files[i];

		if (!f->nusers && now - f->orphaned_ns >= GRACE_NS)
			df__close(df, i);
	}
}

static void df__add_user(struct debug_file *f, pid_t pid)
{
	for (size_t i = 0; i < f->nusers; i++)
		if (f->users[i] == pid)
			return;
	if (f->nusers == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 8;
		f->users = xrealloc(f->users, f->cap * sizeof(*f->users));
	}
	f->users[f->nusers++] = pid;
}

static bool df__open(struct debug_file *f, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	f->dwfl = dwfl_begin(&callbacks);
	if (!f->dwfl) {
		close(fd);
		return false;
	}
	dwfl_report_begin(f->dwfl);
	/* the session owns fd from here, whatever the outcome */
	f->mod = dwfl_report_elf(f->dwfl, path, path, fd, 0, false);
	dwfl_report_end(f->dwfl, NULL, NULL);
	if (!f->mod || !dwfl_module_getelf(f->mod, &f->bias)) {
		dwfl_end(f->dwfl);
		return false;
	}
	return true;
}

Dwfl_Module *debug_files__module(struct debug_files *df, uint64_t modkey, const char *path,
				 pid_t pid, Dwarf_Addr *bias)
{
	uint64_t now = now_mono_ns();
	struct debug_file *f = NULL;

	df__expire(df, now);
	for (size_t i = 0; i < df->n && !f; i++)
		if (df->files[i].modkey == modkey)
			f = &df->files[i];
	if (!f) {
		struct debug_file fresh = {.modkey = modkey};

		if (!path || !df__open(&fresh, path)) {
			df->stats.failed++;
			return NULL;
		}
		if (df->n == DEBUG_FILES_MAX) {
			size_t lru = 0;

			for (size_t i = 1; i < df->n; i++)
				if (df->files[i].last_use_ns < df->files[lru].last_use_ns)
					lru = i;
			df__close(df, lru);
		}
		f = &df->files[df->n++];
		*f = fresh;
		df->stats.opened++;
	}
	df__add_user(f, pid);
	f->last_use_ns = now;
	*bias = f->bias;
	return f->mod;
}

void debug_files__forget(struct debug_files *df, pid_t pid)
{
	uint64_t now = now_mono_ns();

	for (size_t i = 0; i < df->n; i++) {
		struct debug_file *f = &df->files[i];

		for (size_t u = 0; u < f->nusers; u++) {
			if (f->users[u] != pid)
				continue;
			f->users[u] = f->users[--f->nusers];
			if (!f->nusers)
				f->orphaned_ns = now;
			break;
		}
	}
	df__expire(df, now);
}

void debug_files__stats(const struct debug_files *df, struct debug_files_stats *out)
{
	*out = df->stats;
	out->open = df->n;
}
