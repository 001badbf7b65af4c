// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gominfer.h"
#include "go/gocode.h"
#include "go/golayout.h"
#include "go/golist.h"
#include "lib/util.h"
#include "sym/gopclntab.h"
#include "sys/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields read here lie in runtime.m's first 400 bytes (m.alllink: 336 in Go 1.19, 352
 * in Go 1.26); the struct is far larger (createstack alone is 256 bytes after alllink). */
#define M_WINDOW     768
#define SYS_FUTEX    202	/* x86-64 */
#define MAX_FUTEX    4096	/* threads whose syscall is read: the parked ones suffice */
#define REREADS	     3		/* reads of a goroutine that seems to contradict m.curg */
#define MAX_APPENDED (1u << 16) /* goroutines made while the process is read */
/* m.park (a note: one futex word) sits right before m.alllink, Go 1.18 to 1.26 */
#define PARK_BEFORE_ALLLINK 8

enum { NONE = -1, AMBIGUOUS = -2 };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_tid(const struct gom_facts *f, uint64_t v)
{
	pid_t tid = (pid_t)v;

	return v && v < PID_MAX_LIMIT && bsearch(&tid, f->tids, f->ntids, sizeof(tid), cmp_pid);
}

static bool busy(uint32_t status);

static void gom_gs__add_busy(struct gom_gs *gs, struct gom_g g)
{
	if (gs->nbusy == gs->cap) {
		gs->cap = gs->cap ? 2 * gs->cap : 16;
		gs->busy = xrealloc(gs->busy, gs->cap * sizeof(*gs->busy));
	}
	gs->busy[gs->nbusy++] = g;
}

void gom_gs__add(struct gom_gs *gs, uint64_t g, uint64_t m, uint32_t status)
{
	key_index__add(&gs->all, g, status);
	if (busy(status))
		gom_gs__add_busy(gs, (struct gom_g){g, m, status});
}

void gom_gs__join(struct gom_gs *to, struct gom_gs *half)
{
	key_index__join(&to->all, &half->all);
	half->all = (struct key_index){0}; /* to's room */
	for (size_t i = 0; i < half->nbusy; i++)
		gom_gs__add_busy(to, half->busy[i]);
}

void gom_gs__free(struct gom_gs *gs)
{
	if (!gs)
		return;
	key_index__free(&gs->all);
	free(gs->busy);
	free(gs);
}

static bool find_g(const struct gom_facts *f, uint64_t g)
{
	uint32_t status;

	return f->gs && key_index__get(&f->gs->all, g, &status);
}

/* A goroutine made since allgs was read: allgadd appends it (a reused one was listed). */
static bool appended_g(const struct gom_facts *f, uint64_t g)
{
	uint64_t hdr[2], *tail;
	bool found = false;
	size_t n;

	if (!f->allgs || f->read(f->ctx, f->allgs, hdr, sizeof(hdr)) || hdr[1] <= f->allgs_listed ||
	    hdr[1] - f->allgs_listed > MAX_APPENDED)
		return false;
	n = hdr[1] - f->allgs_listed;
	tail = xcalloc(n, sizeof(*tail));
	if (!f->read(f->ctx, hdr[0] + f->allgs_listed * 8, tail, n * sizeof(*tail)))
		for (size_t i = 0; i < n && !found; i++)
			found = tail[i] == g;
	free(tail);
	return found;
}

static bool is_g(const struct gom_facts *f, uint64_t g)
{
	return find_g(f, g) || appended_g(f, g);
}

static bool in_image(const struct gom_facts *f, uint64_t addr)
{
	return addr >= f->image_lo && addr < f->image_hi;
}

static bool busy(uint32_t status)
{
	status &= ~(uint32_t)GO_SCAN;
	return status == GO_RUNNING || status == GO_SYSCALL;
}

/* The Ms' addresses, sorted with their rows, to look up the M of a goroutine. */
struct m_index {
	struct m_row {
		uint64_t m;
		size_t row;
	} * sorted;
	size_t n;
};

static int cmp_m_row(const void *a, const void *b)
{
	return cmp_u64(&((const struct m_row *)a)->m, &((const struct m_row *)b)->m);
}

static void m_index__init(struct m_index *ix, const struct go_ms *ms)
{
	ix->n = ms->n;
	ix->sorted = xcalloc(ms->n ? ms->n : 1, sizeof(*ix->sorted));
	for (size_t i = 0; i < ms->n; i++)
		ix->sorted[i] = (struct m_row){ms->addr[i], i};
	qsort(ix->sorted, ix->n, sizeof(*ix->sorted), cmp_m_row);
}

/* The row of M m, SIZE_MAX when it is not on the list. */
static size_t m_index__row(const struct m_index *ix, uint64_t m)
{
	struct m_row key = {.m = m}, *hit;

	hit = m ? bsearch(&key, ix->sorted, ix->n, sizeof(key), cmp_m_row) : NULL;
	return hit ? hit->row : SIZE_MAX;
}

static int cmp_futex(const void *a, const void *b)
{
	return cmp_pid(&((const struct gom_futex *)a)->tid, &((const struct gom_futex *)b)->tid);
}

/* A list of Ms longer than this is no list of this process's (each M but the unused cgo
 * extra ones has a thread): a wrong offset ends early instead of reading GO_MAX_MS Ms. */
static size_t max_ms(const struct gom_facts *f)
{
	return 2 * f->ntids + 64;
}

/*
 * The list through off ends, after at least two distinct Ms (m0 and sysmon's once the
 * runtime runs), at m0 in the executable's image, whose g0 lies there too; every M's
 * first word is its g0, whose g.m points back at it (allocm, rt0_go); every goroutine
 * running or in a system call has its M on the list. The idle list (m.schedlink) and the
 * free list (m.freelink) run through Ms too, but never hold them all.
 */
static int chain_holds(const struct gom_facts *f, const struct go_layout *l, int32_t off,
		       struct go_ms *ms, char *why, size_t why_size)
{
	struct m_index ix;
	size_t proven = 0;
	bool ok = true;
	int err = go_ms__walk(f->read, f->ctx, f->head, off, M_WINDOW, max_ms(f), ms);

	if (err) {
		snprintf(why, why_size, "the list of Ms through it %s",
			 err == -ELOOP	 ? "loops"
			 : err == -E2BIG ? "does not end"
					 : "reaches unreadable memory");
		return -EBADMSG;
	}
	if (ms->n < 2) {
		snprintf(why, why_size, "only %zu M: the runtime has not started its threads",
			 ms->n);
		go_ms__free(ms);
		return -ENODATA;
	}
	if (!in_image(f, ms->addr[ms->n - 1]) || !in_image(f, go_ms__word(ms, ms->n - 1, 0, 8))) {
		snprintf(why, why_size, "the list does not end at m0");
		goto fail;
	}
	for (size_t i = 0; i < ms->n && ok; i++) {
		uint64_t g0 = go_ms__word(ms, i, 0, 8), back;

		/* allocm links an M before it makes its g0: none yet is no contradiction */
		if (!g0)
			continue;
		ok = !f->read(f->ctx, g0 + (uint64_t)l->g_m, &back, sizeof(back)) &&
		     back == ms->addr[i];
		proven++;
	}
	if (!ok || proven < 2) {
		snprintf(why, why_size, "an M on the list is not its g0's M");
		goto fail;
	}
	m_index__init(&ix, ms);
	for (size_t i = 0; f->gs && i < f->gs->nbusy && ok; i++)
		ok = !f->gs->busy[i].m || m_index__row(&ix, f->gs->busy[i].m) != SIZE_MAX;
	free(ix.sorted);
	if (ok)
		return 0;
	snprintf(why, why_size, "a running goroutine's M is not on the list");
fail:
	go_ms__free(ms);
	return -EBADMSG;
}

/* m0 runs on the main thread (minit: procid = gettid()); ids are distinct and of threads. */
static bool procid_holds(const struct gom_facts *f, const struct go_ms *ms, int32_t off)
{
	uint64_t *ids = xcalloc(ms->n, sizeof(*ids));
	size_t n = 0, other_live = 0;
	bool ok = go_ms__word(ms, ms->n - 1, off, 8) == (uint64_t)f->pid;

	for (size_t i = 0; i < ms->n && ok; i++) {
		uint64_t v = go_ms__word(ms, i, off, 8);

		/* 0: a thread not started yet, or a cgo extra M not in use (Go >= 1.21 clears
		 * it; older ones keep the id of the C thread that last used it) */
		if (!v)
			continue;
		ok = v < PID_MAX_LIMIT;
		ids[n++] = v;
		other_live += i != ms->n - 1 && is_tid(f, v);
	}
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n && ok; i++)
		ok = ids[i] != ids[i - 1];
	free(ids);
	return ok && other_live > 0;
}

/* A func() value points to a funcval whose first word is the code (Go's closure calling
 * convention, every release); runtime.newm's are static: sysmon, templateThread, mspinning. */
static bool startfn_holds(const struct gom_facts *f, const struct go_ms *ms, int32_t off)
{
	size_t sysmons = 0;

	for (size_t i = 0; i < ms->n; i++) {
		uint64_t fv = go_ms__word(ms, i, off, 8), code;

		if (!fv)
			continue;
		if (f->read(f->ctx, fv, &code, sizeof(code)) || !f->is_entry(f->ctx, code))
			return false;
		sysmons += code == f->sysmon;
	}
	return sysmons == 1; /* runtime.main starts one sysmon, which never exits */
}

/* Whether the goroutine still is busy on m and m.curg still is not it, read afresh: the
 * list and the goroutines were read moments apart. */
static bool curg_contradicted(const struct gom_facts *f, const struct go_layout *l,
			      const struct gom_g *g, uint64_t m, int32_t off)
{
	for (int i = 0; i < REREADS; i++) {
		uint64_t gm, curg;
		uint32_t status;

		if (f->read(f->ctx, g->g + (uint64_t)l->atomicstatus, &status, sizeof(status)) ||
		    f->read(f->ctx, g->g + (uint64_t)l->g_m, &gm, sizeof(gm)) ||
		    f->read(f->ctx, m + (uint64_t)off, &curg, sizeof(curg)))
			return true;
		if (!busy(status) || gm != m || curg == g->g)
			return false;
	}
	return true;
}

/* m.curg is 0 or a goroutine; the goroutine of an M that runs it or is in a system call for
 * it (execute, entersyscall). Returns the goroutines that agree, -1 when one contradicts. */
static long curg_evidence(const struct gom_facts *f, const struct go_layout *l,
			  const struct go_ms *ms, const struct m_index *ix, int32_t off)
{
	long agree = 0;

	for (size_t i = 0; i < ms->n; i++) {
		uint64_t v = go_ms__word(ms, i, off, 8);

		if (v && !is_g(f, v))
			return -1;
	}
	for (size_t i = 0; f->gs && i < f->gs->nbusy; i++) {
		const struct gom_g *g = &f->gs->busy[i];
		size_t row;

		if ((row = m_index__row(ix, g->m)) == SIZE_MAX)
			continue;
		if (go_ms__word(ms, row, off, 8) == g->g)
			agree++;
		else if (curg_contradicted(f, l, g, g->m, off))
			return -1;
	}
	return agree;
}

/* The M's thread sleeps in futex() on a word of its own M, where m.park is. */
static size_t park_evidence(const struct gom_facts *f, const struct go_ms *ms, int32_t procid,
			    int32_t off)
{
	size_t parked = 0;

	for (size_t i = 0; i < ms->n; i++) {
		struct gom_futex key = {.tid = (pid_t)go_ms__word(ms, i, procid, 8)}, *hit;

		hit = key.tid ? bsearch(&key, f->futex, f->nfutex, sizeof(key), cmp_futex) : NULL;
		parked += hit && hit->uaddr == ms->addr[i] + (uint64_t)off;
	}
	return parked;
}

static bool taken(int32_t off, const int32_t *used, size_t nused)
{
	for (size_t i = 0; i < nused; i++)
		if (used[i] == off)
			return true;
	return false;
}

/* The one 8-aligned offset not in used where holds() is true; NONE or AMBIGUOUS. */
static int32_t search(const struct gom_facts *f, const struct go_ms *ms, const int32_t *used,
		      size_t nused,
		      bool (*holds)(const struct gom_facts *, const struct go_ms *, int32_t))
{
	int32_t found = NONE;

	for (int32_t off = 8; off + 8 <= M_WINDOW; off += 8) {
		if (taken(off, used, nused) || !holds(f, ms, off))
			continue;
		if (found != NONE)
			return AMBIGUOUS;
		found = off;
	}
	return found;
}

static void append(char *buf, size_t size, const char *fmt, const char *what)
{
	size_t len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, fmt, len ? "; " : "", what);
}

static bool hinted(const struct gom_facts *f, int32_t off)
{
	for (int i = 0; i < f->nhints; i++)
		if (f->hints[i] == off)
			return true;
	return false;
}

/* m.alllink: the one offset where the list holds, or, when several do, the one the code
 * stores allm's value at (mcommoninit). The list is walked again at the one chosen. */
static int32_t find_alllink(const struct gom_facts *f, const struct go_layout *l, struct go_ms *ms,
			    char *why, size_t why_size)
{
	int32_t pass[4], found = NONE;
	size_t npass = 0, npass_hinted = 0;
	char at_hint[96] = "";

	for (int32_t off = 8; off + 8 <= M_WINDOW; off += 8) {
		char reason[96];
		int e = chain_holds(f, l, off, ms, reason, sizeof(reason));

		if (!e) {
			go_ms__free(ms);
			if (npass < ARRAY_SIZE(pass))
				pass[npass] = off;
			npass++;
			npass_hinted += hinted(f, off);
		} else if (hinted(f, off) && !at_hint[0]) {
			snprintf(at_hint, sizeof(at_hint), "%s", reason);
		}
	}
	if (npass == 1) {
		found = pass[0];
	} else if (npass > 1 && npass <= ARRAY_SIZE(pass) && npass_hinted == 1) {
		for (size_t i = 0; i < npass; i++)
			if (hinted(f, pass[i]))
				found = pass[i];
	}
	if (found != NONE && !chain_holds(f, l, found, ms, at_hint, sizeof(at_hint)))
		return found;
	if (npass > 1)
		snprintf(why, why_size, "m.alllink: %zu offsets hold a list of Ms", npass);
	else
		snprintf(why, why_size, "m.alllink: %s",
			 at_hint[0] ? at_hint : "no offset holds a list of Ms ending at m0");
	return npass > 1 ? AMBIGUOUS : NONE;
}

int gominfer__infer(const struct gom_facts *f, struct go_layout *l, char *why, size_t why_size)
{
	uint64_t allm = l->allm; /* the caller's, from the code */
	char *unknown = l->m_problem;
	struct m_index ix;
	struct go_ms ms;
	int32_t used[3];

	golayout__forget_m(l, "");
	if (!f->head) {
		snprintf(why, why_size, "runtime.allm is empty: the runtime has not started");
		return -ENODATA;
	}
	l->m_alllink = find_alllink(f, l, &ms, why, why_size);
	if (l->m_alllink < 0) {
		l->m_alllink = -1;
		return -ENODATA; /* not started, or not proved: either may change */
	}
	used[0] = l->m_alllink;
	l->m_procid = search(f, &ms, used, 1, procid_holds);
	if (l->m_procid < 0) {
		snprintf(why, why_size, "m.procid: %s",
			 l->m_procid == NONE ? "no offset holds m0's and the threads' ids"
					     : "two offsets hold thread ids");
		go_ms__free(&ms);
		l->m_alllink = l->m_procid = -1;
		return -ENODATA;
	}
	used[1] = l->m_procid;
	l->m_mstartfn = search(f, &ms, used, 2, startfn_holds);
	if (l->m_mstartfn < 0)
		append(unknown, sizeof(l->m_problem), "%sm.mstartfn unknown: %s",
		       l->m_mstartfn == NONE ? "no offset holds one runtime.sysmon"
					     : "two offsets hold start functions");
	used[2] = l->m_mstartfn;
	/* m.curg: the one offset that holds with evidence; none without a busy goroutine */
	m_index__init(&ix, &ms);
	for (int32_t off = 8, found = NONE; off + 8 <= M_WINDOW && found != AMBIGUOUS; off += 8) {
		if (taken(off, used, 3) || curg_evidence(f, l, &ms, &ix, off) <= 0)
			continue;
		found = found == NONE ? off : AMBIGUOUS;
		l->m_curg = found;
	}
	free(ix.sorted);
	if (l->m_curg < 0) {
		append(unknown, sizeof(l->m_problem), "%sm.curg unknown: %s",
		       l->m_curg == AMBIGUOUS ? "two offsets hold the goroutines of Ms"
					      : "no goroutine runs or is in a system call now");
		l->m_curg = -1;
	}
	l->m_mstartfn = l->m_mstartfn < 0 ? -1 : l->m_mstartfn;
	l->m_park = -1;
	if (l->m_alllink >= PARK_BEFORE_ALLLINK &&
	    park_evidence(f, &ms, l->m_procid, l->m_alllink - PARK_BEFORE_ALLLINK))
		l->m_park = l->m_alllink - PARK_BEFORE_ALLLINK;
	else
		append(unknown, sizeof(l->m_problem), "%sm.park unknown: %s",
		       "no thread sleeps on its M's note now");
	go_ms__free(&ms);
	l->allm = allm;
	l->m_source = "inferred";
	return 0;
}

static bool curg_contradicts(const struct gom_facts *f, const struct go_layout *l,
			     const struct go_ms *ms)
{
	struct m_index ix;
	bool bad;

	m_index__init(&ix, ms);
	bad = curg_evidence(f, l, ms, &ix, l->m_curg) < 0;
	free(ix.sorted);
	return bad;
}

int gominfer__check(const struct gom_facts *f, const struct go_layout *l, char *why,
		    size_t why_size)
{
	struct go_ms ms;
	char reason[96];
	int err;

	if (!f->head) {
		snprintf(why, why_size, "runtime.allm is empty: the runtime has not started");
		return -ENODATA;
	}
	err = chain_holds(f, l, l->m_alllink, &ms, reason, sizeof(reason));
	if (err) {
		snprintf(why, why_size, "m.alllink: %s", reason);
		return err;
	}
	err = -EBADMSG;
	if (!procid_holds(f, &ms, l->m_procid))
		snprintf(why, why_size, "m.procid: m0's is not the process id or ids repeat");
	else if (l->m_mstartfn >= 0 && !startfn_holds(f, &ms, l->m_mstartfn))
		snprintf(why, why_size, "m.mstartfn: not one runtime.sysmon among functions");
	else if (l->m_curg >= 0 && curg_contradicts(f, l, &ms))
		snprintf(why, why_size, "m.curg: not the goroutine of its M");
	else
		err = 0;
	for (size_t i = 0; !err && l->m_spinning >= 0 && i < ms.n; i++)
		if (go_ms__word(&ms, i, l->m_spinning, 1) > 1) {
			snprintf(why, why_size, "m.spinning: not a bool");
			err = -EBADMSG;
		}
	go_ms__free(&ms);
	return err;
}

int gominfer__parse_syscall(const char *line, long *nr, uint64_t *arg0)
{
	char *end;

	/* "202 0x7f... 0x80 0x0 ...": number, six arguments, sp, pc; "running" or "-1 ..."
	 * when the thread is not in a syscall */
	*nr = strtol(line, &end, 10);
	if (end == line || *nr < 0 || *end != ' ' || strncmp(end + 1, "0x", 2))
		return -EINVAL;
	*arg0 = strtoull(end + 3, &end, 16);
	return *end == ' ' || *end == '\n' || !*end ? 0 : -EINVAL;
}

/* --- the live process ------------------------------------------------------------------ */

struct live {
	pid_t pid;
	uint64_t bias;
	struct gopclntab *pcln;
	struct gom_facts f;
	pid_t *tids;
	struct gom_gs *gs;
	struct gom_futex *futex;
	size_t cap_tids;
};

static int live_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return procfs__read_mem(((struct live *)ctx)->pid, addr, buf, len);
}

static bool live_is_entry(void *ctx, uint64_t pc)
{
	struct live *lv = ctx;

	return pc > lv->bias && gopclntab__is_entry(lv->pcln, pc - lv->bias);
}

static void add_tids(struct live *lv)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", lv->pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		uint32_t tid;

		if (!parse_u32(de->d_name, &tid))
			continue;
		if (lv->f.ntids == lv->cap_tids) {
			lv->cap_tids = lv->cap_tids ? lv->cap_tids * 2 : 64;
			lv->tids = xrealloc(lv->tids, lv->cap_tids * sizeof(*lv->tids));
		}
		lv->tids[lv->f.ntids++] = (pid_t)tid;
	}
	closedir(dir);
}

static void sort_tids(struct live *lv)
{
	size_t n = 0;

	if (lv->f.ntids)
		qsort(lv->tids, lv->f.ntids, sizeof(*lv->tids), cmp_pid);
	for (size_t i = 0; i < lv->f.ntids; i++)
		if (!n || lv->tids[i] != lv->tids[n - 1])
			lv->tids[n++] = lv->tids[i];
	lv->f.ntids = n;
	lv->f.tids = lv->tids;
}

/* The threads asleep in futex(), from the syscall the kernel shows each blocked thread at. */
static void read_futexes(struct live *lv)
{
	size_t n = 0;

	lv->futex = xcalloc(lv->f.ntids ? lv->f.ntids : 1, sizeof(*lv->futex));
	for (size_t i = 0; i < lv->f.ntids && i < MAX_FUTEX; i++) {
		char path[80], line[256];
		uint64_t uaddr;
		long nr;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", lv->pid, lv->tids[i]);
		if (read_small_file(path, line, sizeof(line)) > 0 &&
		    !gominfer__parse_syscall(line, &nr, &uaddr) && nr == SYS_FUTEX)
			lv->futex[n++] = (struct gom_futex){lv->tids[i], uaddr};
	}
	if (n)
		qsort(lv->futex, n, sizeof(*lv->futex), cmp_futex);
	lv->f.futex = lv->futex;
	lv->f.nfutex = n;
}

/* The executable's image at run time: from its lowest to its highest PT_LOAD (bss too). */
static int image_range(struct live *lv)
{
	char exe[64];
	int fd, err = -ENOEXEC;
	size_t n;
	Elf *elf;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", lv->pid);
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	lv->f.image_lo = UINT64_MAX;
	if (elf && !elf_getphdrnum(elf, &n)) {
		for (size_t i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			if (ph.p_vaddr + lv->bias < lv->f.image_lo)
				lv->f.image_lo = ph.p_vaddr + lv->bias;
			if (ph.p_vaddr + ph.p_memsz + lv->bias > lv->f.image_hi)
				lv->f.image_hi = ph.p_vaddr + ph.p_memsz + lv->bias;
			err = 0;
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

static int gather(struct live *lv, const struct go_layout *l, bool futexes, struct gom_gs *given)
{
	struct go_gs gs;
	uint64_t entry, end;
	int32_t window = (l->g_m > l->atomicstatus ? l->g_m : l->atomicstatus) + 8;
	int err;

	lv->gs = given; /* freed with lv, whatever happens */
	lv->f.read = live_read;
	lv->f.is_entry = live_is_entry;
	lv->f.ctx = lv;
	lv->f.pid = lv->pid;
	if (gopclntab__function(lv->pcln, "runtime.sysmon", &entry, &end))
		return -ENODATA;
	lv->f.sysmon = entry + lv->bias;
	err = image_range(lv);
	if (!err)
		err = procfs__read_mem(lv->pid, l->allm + lv->bias, &lv->f.head,
				       sizeof(lv->f.head));
	if (err)
		return err;
	/* the threads listed before and after the goroutines are read: an M seen on the list
	 * had its thread then (mexit unlinks it first) */
	add_tids(lv);
	if (!given) {
		err = go_gs__open_list(lv->pid, l->allgs + lv->bias, l->allglen + lv->bias,
				       (size_t)window, &gs);
		if (err)
			return err;
		lv->gs = xcalloc(1, sizeof(*lv->gs));
		key_index__reset(&lv->gs->all, gs.n);
		for (size_t i = 0; i < gs.n; i++) {
			if (i % GS_CHUNK == 0) /* a chunk of rows at a time */
				go_gs__read_rows(lv->pid, &gs, i, GS_CHUNK);
			gom_gs__add(lv->gs, go_gs__ptr(&gs, i), go_gs__word(&gs, i, l->g_m, 8),
				    (uint32_t)go_gs__word(&gs, i, l->atomicstatus, 4));
		}
		go_gs__free(&gs);
	}
	key_index__sort(&lv->gs->all);
	lv->f.gs = lv->gs;
	lv->f.allgs = l->allgs + lv->bias;
	lv->f.allgs_listed = lv->gs->all.n;
	add_tids(lv);
	sort_tids(lv);
	if (futexes)
		read_futexes(lv);
	return 0;
}

/* The reasons in fresh's m_problem ("m.X unknown: why; ...") for the fields l still lacks. */
static void keep_reasons(struct go_layout *l, const char *fresh)
{
	const struct {
		const char *name;
		int32_t off;
	} optional[] = {
		{"m.curg ", l->m_curg}, {"m.mstartfn ", l->m_mstartfn}, {"m.park ", l->m_park}};
	char *out = l->m_problem;
	size_t len = 0;

	out[0] = '\0';
	for (const char *seg = fresh; seg && *seg;) {
		const char *end = strstr(seg, "; ");
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		for (size_t i = 0; i < ARRAY_SIZE(optional); i++)
			if (optional[i].off < 0 &&
			    !strncmp(seg, optional[i].name, strlen(optional[i].name)) &&
			    len < sizeof(l->m_problem))
				len += (size_t)snprintf(out + len, sizeof(l->m_problem) - len,
							"%s%.*s", len ? "; " : "", (int)n, seg);
		seg = end ? end + 2 : NULL;
	}
}

/* A layer inferred before keeps what was proved unless the process now contradicts it, and
 * takes what can be proved now of the rest: a retry never loses a field to a quiet moment. */
static int refill(const struct gom_facts *f, struct go_layout *l, char *why, size_t why_size)
{
	struct go_layout fresh = *l;
	int err = gominfer__check(f, l, why, why_size);

	if (err == -EBADMSG)
		return -EBADMSG; /* the caller infers afresh */
	if (err || (l->m_curg >= 0 && l->m_mstartfn >= 0 && l->m_park >= 0))
		return 0;
	if (gominfer__infer(f, &fresh, why, why_size) || fresh.m_alllink != l->m_alllink ||
	    fresh.m_procid != l->m_procid)
		return 0;
	if (l->m_curg < 0)
		l->m_curg = fresh.m_curg;
	if (l->m_mstartfn < 0)
		l->m_mstartfn = fresh.m_mstartfn;
	if (l->m_park < 0)
		l->m_park = fresh.m_park;
	keep_reasons(l, fresh.m_problem);
	return 0;
}

int gominfer__resolve(pid_t pid, uint64_t bias, struct gopclntab *pcln, struct go_layout *l,
		      struct gom_gs *gs)
{
	struct live lv = {.pid = pid, .bias = bias, .pcln = pcln};
	bool dwarf = l->m_source && !strcmp(l->m_source, "DWARF");
	bool inferred = l->m_source && !dwarf;
	int32_t hints[GOCODE_ALLM_HINTS];
	char why[128] = "";
	int err, nhints = 0;
	uint64_t allm;

	if (!pcln || l->g_m < 0 || l->atomicstatus < 0 || !l->allgs) {
		gom_gs__free(gs);
		golayout__forget_m(l, "no .gopclntab or runtime.g layout to prove it with");
		return -ENODATA;
	}
	if (!dwarf) {
		if (gocode__find_allm(pid, bias, pcln, &allm, hints, &nhints)) {
			gom_gs__free(gs);
			golayout__forget_m(l, "runtime.allm not found in runtime.mcommoninit");
			return -ENODATA;
		}
		if (!inferred || allm != l->allm) {
			golayout__forget_m(l, "");
			inferred = false;
		}
		l->allm = allm;
		lv.f.hints = hints;
		lv.f.nhints = nhints;
	}
	err = gather(&lv, l, !dwarf, gs);
	gs = NULL; /* lv's now */
	if (err) {
		snprintf(why, sizeof(why), "the process could not be read (%s)", strerror(-err));
		golayout__forget_m(l, why);
	} else if (!dwarf) {
		err = inferred ? refill(&lv.f, l, why, sizeof(why)) : -EBADMSG;
		if (err && (err = gominfer__infer(&lv.f, l, why, sizeof(why))))
			golayout__forget_m(l, why);
	} else if ((err = gominfer__check(&lv.f, l, why, sizeof(why))) == -ENODATA) {
		/* nothing contradicts DWARF yet: keep it, and say it is unchecked */
		snprintf(l->m_problem, sizeof(l->m_problem), "not checked yet: %s", why);
	} else if (err) {
		char problem[sizeof(l->m_problem)];

		snprintf(problem, sizeof(problem),
			 "runtime.%s (DWARF) does not hold what it should", why);
		golayout__forget_m(l, problem);
	}
	free(lv.tids);
	gom_gs__free(lv.gs);
	free(lv.futex);
	return err;
}
