// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gothreads.h"
#include "go/golayout.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "sym/gopclntab.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define START_CACHE 8 /* distinct start functions: sysmon, templateThread, mspinning */

int go_read__process(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return procfs__read_mem(*(const pid_t *)ctx, addr, buf, len);
}

void go_ms__free(struct go_ms *ms)
{
	free(ms->addr);
	free(ms->bytes);
	memset(ms, 0, sizeof(*ms));
}

uint64_t go_ms__word(const struct go_ms *ms, size_t i, int32_t off, size_t width)
{
	uint64_t v = 0;

	if (i < ms->n && off >= 0 && (size_t)off + width <= ms->window && width <= sizeof(v))
		memcpy(&v, ms->bytes + i * ms->window + off, width);
	return v;
}

int go_ms__walk(go_read_fn read, void *ctx, uint64_t head, int32_t alllink, size_t window,
		size_t max, struct go_ms *ms)
{
	struct hashmap seen;
	size_t cap = 0;
	int err = 0;

	memset(ms, 0, sizeof(*ms));
	ms->window = window;
	if (alllink < 0 || (size_t)alllink + 8 > window)
		return -EINVAL;
	hashmap__init(&seen);
	for (uint64_t m = head; m && !err; m = go_ms__word(ms, ms->n - 1, alllink, 8)) {
		if (ms->n == max || ms->n == GO_MAX_MS) {
			err = -E2BIG;
			break;
		}
		/* a list that comes back to an M never ends: the offset is not the link */
		if (hashmap__get(&seen, m)) {
			err = -ELOOP;
			break;
		}
		hashmap__set(&seen, m, ms);
		if (ms->n == cap) {
			cap = cap ? cap * 2 : 16;
			ms->addr = xrealloc(ms->addr, cap * sizeof(*ms->addr));
			ms->bytes = xrealloc(ms->bytes, cap * window);
		}
		err = read(ctx, m, ms->bytes + ms->n * window, window);
		if (err)
			break;
		ms->addr[ms->n++] = m;
	}
	hashmap__free(&seen);
	if (err)
		go_ms__free(ms);
	return err;
}

/* The window that holds every field the layout names. */
static size_t m_window(const struct go_layout *l)
{
	const int32_t offs[] = {l->m_alllink, l->m_procid, l->m_curg, l->m_mstartfn, l->m_spinning};
	size_t w = 8;

	for (size_t i = 0; i < ARRAY_SIZE(offs); i++)
		if (offs[i] >= 0 && (size_t)offs[i] + 8 > w)
			w = (size_t)offs[i] + 8;
	return w;
}

struct start_cache {
	uint64_t funcval[START_CACHE], entry[START_CACHE];
	int n;
};

/* m.mstartfn is a func(): a pointer to a funcval, whose first word is the code. Only an
 * entry of a function in .gopclntab is taken for one. 0 or -EBADMSG. */
static int start_entry(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct start_cache *c,
		       uint64_t funcval, uint64_t *entry)
{
	for (int i = 0; i < c->n; i++)
		if (c->funcval[i] == funcval) {
			*entry = c->entry[i];
			return 0;
		}
	if (procfs__read_mem(pid, funcval, entry, sizeof(*entry)))
		return -EBADMSG;
	if (pcln && (*entry <= bias || !gopclntab__is_entry(pcln, *entry - bias)))
		return -EBADMSG;
	if (c->n < START_CACHE) {
		c->funcval[c->n] = funcval;
		c->entry[c->n++] = *entry;
	}
	return 0;
}

/* The goroutine's id and status, read right after its M: the pair may have moved on since
 * (a snapshot is not atomic). Goroutines are never freed (allgs keeps them), so one that
 * cannot be read means the process is gone or m.curg is not what the layout says. */
static int read_curg(pid_t pid, const struct go_layout *l, struct go_thread *t)
{
	if (procfs__read_mem(pid, t->curg + (uint64_t)l->goid, &t->goid, sizeof(t->goid)) ||
	    procfs__read_mem(pid, t->curg + (uint64_t)l->atomicstatus, &t->status,
			     sizeof(t->status)))
		return -EBADMSG;
	return 0;
}

static int fill(pid_t pid, uint64_t bias, struct gopclntab *pcln, const struct go_layout *l,
		const struct go_ms *ms, struct go_thread *out)
{
	struct start_cache cache = {0};

	for (size_t i = 0; i < ms->n; i++) {
		struct go_thread *t = &out[i];
		uint64_t procid = go_ms__word(ms, i, l->m_procid, 8), fv;
		const char *file;
		int line;

		if (procid >= PID_MAX_LIMIT)
			return -EBADMSG; /* no thread has that id: not m.procid */
		memset(t, 0, sizeof(*t));
		t->tid = (pid_t)procid;
		t->m = ms->addr[i];
		/* Ms are pushed at the head (mcommoninit) and m0, made first by schedinit,
		 * never leaves (mexit wedges it): the last is m0, Go 1.18 to 1.26 */
		t->m0 = i == ms->n - 1;
		t->spinning = -1;
		if (l->m_spinning >= 0) {
			uint64_t s = go_ms__word(ms, i, l->m_spinning, 1);

			if (s > 1)
				return -EBADMSG; /* a bool holds 0 or 1 */
			t->spinning = (int8_t)s;
		}
		if (l->m_park >= 0)
			t->park = t->m + (uint64_t)l->m_park;
		if (l->m_curg >= 0 && (t->curg = go_ms__word(ms, i, l->m_curg, 8)) &&
		    read_curg(pid, l, t))
			return -EBADMSG;
		if (l->m_mstartfn >= 0 && (fv = go_ms__word(ms, i, l->m_mstartfn, 8))) {
			if (start_entry(pid, bias, pcln, &cache, fv, &t->mstartfn))
				return -EBADMSG;
			if (pcln)
				gopclntab__resolve(pcln, t->mstartfn - bias, &t->start, &file,
						   &line);
		}
	}
	return 0;
}

int go_threads__read(pid_t pid, uint64_t bias, struct gopclntab *pcln, const struct go_layout *l,
		     struct go_thread **out, size_t *n)
{
	int err = -EBADMSG;

	*out = NULL;
	*n = 0;
	if (!l->m_source || !l->allm || l->m_alllink < 0 || l->m_procid < 0)
		return -ENODATA;
	/* an M that exits while the list is walked is unlinked but kept (the runtime walks
	 * it unlocked too); one freed meanwhile reads as garbage: try once more */
	for (int attempt = 0; attempt < 2 && (err == -EBADMSG || err == -EFAULT); attempt++) {
		struct go_ms ms;
		uint64_t head;

		err = procfs__read_mem(pid, l->allm + bias, &head, sizeof(head));
		if (err)
			return err == -ESRCH || !procfs__exists(pid) ? -ESRCH : err;
		err = go_ms__walk(go_read__process, &pid, head, l->m_alllink, m_window(l),
				  GO_MAX_MS, &ms);
		if (err == -ELOOP || err == -E2BIG)
			err = -EBADMSG;
		if (err)
			continue;
		free(*out);
		*out = xcalloc(ms.n ? ms.n : 1, sizeof(**out));
		err = fill(pid, bias, pcln, l, &ms, *out);
		*n = err ? 0 : ms.n;
		go_ms__free(&ms);
	}
	if (err) {
		free(*out);
		*out = NULL;
		if (!procfs__exists(pid))
			err = -ESRCH;
	}
	return err;
}

enum go_thread_role go_thread__role(const struct go_thread *t, const struct go_layout *l)
{
	if (t->start && !strcmp(t->start, "runtime.sysmon"))
		return GO_M_SYSMON;
	if (t->start && !strcmp(t->start, "runtime.templateThread"))
		return GO_M_TEMPLATE;
	if (l->m_curg < 0)
		return GO_M_UNKNOWN;
	if (t->curg) {
		switch (t->status & ~(uint32_t)GO_SCAN) {
		case GO_RUNNING:
			return GO_M_RUNNING;
		case GO_SYSCALL: /* cgocall enters a syscall too */
			return GO_M_SYSCALL;
		case GO_DEAD:
		case GO_DEAD_EXTRA:
			/* needm's goroutine, dead until a C thread calls into Go */
			return GO_M_EXTRA;
		default:
			return GO_M_SWITCHING;
		}
	}
	if (t->spinning == 1)
		return GO_M_SPINNING;
	return t->tid ? GO_M_IDLE : GO_M_NO_THREAD;
}

const char *go_thread_role__name(enum go_thread_role role)
{
	switch (role) {
	case GO_M_SYSMON:
		return "sysmon";
	case GO_M_TEMPLATE:
		return "template thread";
	case GO_M_RUNNING:
		return "running";
	case GO_M_SYSCALL:
		return "syscall";
	case GO_M_SWITCHING:
		return "switching";
	case GO_M_SPINNING:
		return "spinning";
	case GO_M_IDLE:
		return "idle";
	case GO_M_NO_THREAD:
		return "no thread";
	case GO_M_EXTRA:
		return "cgo extra M";
	default:
		return "unknown";
	}
}
