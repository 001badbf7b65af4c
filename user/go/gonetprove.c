// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pollDesc layout proved against the process: the fd field is where every pollDesc of
 * the runtime's epoll set holds the fd it is registered for (all but one entry: the
 * runtime's wakeup fd); rg and wg hold 0, pdReady, pdWait or a goroutine parked in IO wait,
 * and rg is where goroutines parked on fds that can only be read sit (a listener, a pipe's
 * read end), wg where those on fds that can only be written sit.
 */
#include "go/golayout.h"
#include "go/gonetpoll.h"
#include "go/gonetpoll_priv.h"
#include "go/gosnap.h"
#include "lib/util.h"
#include "sys/fdinfo.h"
#include "sys/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fd, rg and wg lie in a pollDesc's first 48 bytes in every release from Go 1.18 to 1.27
 * (1.18-1.20: 8, 24, 32; 1.21+: 8, 32, 40, after fdseq): the inference searches 128. */
#define PD_WINDOW	128
#define PROVE_ENTRIES	4096 /* pollDescs of a set the proof reads: bounded, and plenty */
#define SAMPLE_ENTRIES	32   /* read first under each decoder, to skip those that read nothing */
#define ATTEMPTS	3    /* a goroutine may park or wake between two reads: try again */
#define MAX_EVIDENCE	64   /* fds described to tell reads from writes */
#define TCP_ESTABLISHED 1    /* include/net/tcp_states.h */
#define TCP_SYN_SENT	2
#define TCP_LISTEN	10
#define PD_FD_OFFSET	8 /* pollDesc.fd, after link: Go 1.18 to 1.27 */

struct epset {
	int epfd;
	struct epoll_entry *e;
	size_t n;
	bool *wakeup; /* per entry: data points at a word holding the fd */
	bool cut;     /* more entries than were read */
	bool *gone;   /* per entry: no longer registered once its pollDesc was read */
	struct pd_rows rows[PD_DECODERS]; /* PD_WINDOW bytes at each decoded address */
};

struct proof {
	struct go_process *gp;
	struct epset *sets;
	size_t nsets;
	/* goroutines in either look, before and after the sets were read (one may park or wake
	 * meanwhile); those in IO wait in either (all, when wait reasons are unknown); those in
	 * IO wait in both, each parked in some pollDesc (NULL when IO wait is not told apart);
	 * all sorted */
	uint64_t *gs, *io, *stable;
	size_t ngs, nio, nstable;
	/* what was found: the set, its decoders and the fd offset */
	size_t set;
	uint32_t decoders;
	int32_t fd_off;
	const struct pd_rows *rows; /* the chosen set's rows under its first decoder */
	char note[128];		    /* what the proof rests on beyond the process, if anything */
};

static int fail(struct go_layout *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct go_layout *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->pd_problem, sizeof(l->pd_problem), fmt, ap);
	va_end(ap);
	return err;
}

static void free_sets(struct proof *p)
{
	for (size_t s = 0; s < p->nsets; s++) {
		for (size_t d = 0; d < PD_DECODERS; d++)
			pd_rows__free(&p->sets[s].rows[d]);
		free(p->sets[s].e);
		free(p->sets[s].wakeup);
		free(p->sets[s].gone);
	}
	free(p->sets);
	p->sets = NULL;
	p->nsets = 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct epoll_entry *x = a, *y = b;

	if (x->tfd != y->tfd)
		return x->tfd < y->tfd ? -1 : 1;
	return x->data < y->data ? -1 : x->data > y->data;
}

/* Entries that are no longer registered once their pollDescs were read (closed meanwhile,
 * the pollDesc perhaps reused for another fd) say nothing of the layout. */
static void note_gone(pid_t pid, struct epset *s)
{
	struct epoll_entry *now = NULL;
	size_t n = 0;

	s->gone = xcalloc(s->n ? s->n : 1, sizeof(*s->gone));
	if (fdinfo__epoll_entries(pid, s->epfd, &now, &n, NULL))
		n = 0; /* the set itself is gone: so is every entry */
	if (n)
		qsort(now, n, sizeof(*now), cmp_entry);
	for (size_t i = 0; i < s->n; i++)
		s->gone[i] = !bsearch(&s->e[i], now, n, sizeof(*now), cmp_entry);
	free(now);
}

/* The set's rows under decoder d. A decoder that is not the process's reads addresses
 * that are mostly unmapped, each failing on its own: when none of the first few can be
 * read, the rest are not tried (nothing read, nothing ok). */
static int read_rows(pid_t pid, struct epset *s, size_t d)
{
	size_t sample = s->n < SAMPLE_ENTRIES ? s->n : SAMPLE_ENTRIES;
	bool readable = false;
	int err;

	err = pd_rows__read(pid, s->e, sample, pd__decoder_bit(d), PD_WINDOW, &s->rows[d]);
	for (size_t i = 0; i < sample; i++)
		readable |= s->rows[d].ok[i] && !s->wakeup[i];
	if (err || sample == s->n || !readable) {
		/* the rows of the entries not read, as never read */
		s->rows[d].ok = xrealloc(s->rows[d].ok, (s->n ? s->n : 1) * sizeof(bool));
		memset(s->rows[d].ok + sample, 0, (s->n - sample) * sizeof(bool));
		s->rows[d].addr = xrealloc(s->rows[d].addr, (s->n ? s->n : 1) * sizeof(uint64_t));
		memset(s->rows[d].addr + sample, 0, (s->n - sample) * sizeof(uint64_t));
		s->rows[d].n = s->n;
		return err;
	}
	pd_rows__free(&s->rows[d]);
	return pd_rows__read(pid, s->e, s->n, pd__decoder_bit(d), PD_WINDOW, &s->rows[d]);
}

static int read_sets(struct proof *p)
{
	pid_t pid = p->gp->pid;
	int *fds = NULL, err;
	size_t nfds = 0;

	err = fdinfo__epoll_fds(pid, &fds, &nfds);
	p->sets = xcalloc(nfds ? nfds : 1, sizeof(*p->sets));
	for (size_t i = 0; i < nfds && !err; i++) {
		struct epset *s = &p->sets[p->nsets];

		if (fdinfo__epoll_entries(pid, fds[i], &s->e, &s->n, NULL))
			continue; /* closed since it was listed */
		p->nsets++;
		s->epfd = fds[i];
		s->cut = s->n > PROVE_ENTRIES;
		if (s->cut)
			s->n = PROVE_ENTRIES;
		s->wakeup = xcalloc(s->n ? s->n : 1, sizeof(*s->wakeup));
		for (size_t k = 0; k < s->n; k++)
			s->wakeup[k] = pd_rows__is_wakeup(pid, &s->e[k]);
		for (size_t d = 0; d < PD_DECODERS && !err; d++)
			err = read_rows(pid, s, d);
		note_gone(pid, s);
	}
	free(fds);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int go_netpoll__io_wait_reason(const struct go_layout *l)
{
	for (int i = 0; l->waitreason >= 0 && i < l->nwait_reasons; i++)
		if (!strcmp(l->wait_reasons[i], "IO wait"))
			return i;
	return -1;
}

static bool in_sorted(const uint64_t *v, size_t n, uint64_t x)
{
	return bsearch(&x, v, n, sizeof(*v), cmp_u64) != NULL;
}

static void sort_u64(uint64_t *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
}

/* Takes a look at the goroutines: the first look fills gs and io, the second adds to them
 * and keeps in stable those in IO wait both times. */
static int look_at_goroutines(struct proof *p, bool second)
{
	struct go_snapshot snap = {0};
	int io = go_netpoll__io_wait_reason(&p->gp->layout);
	int err = go_process__snapshot(p->gp, &snap);
	size_t io_before = p->nio;

	p->gs = xrealloc(p->gs, (p->ngs + snap.n + 1) * sizeof(*p->gs));
	p->io = xrealloc(p->io, (p->nio + snap.n + 1) * sizeof(*p->io));
	if (second && io >= 0)
		p->stable = xrealloc(p->stable, (snap.n + 1) * sizeof(*p->stable));
	for (size_t i = 0; i < snap.n; i++) {
		uint64_t g = snap.g[i].g;

		p->gs[p->ngs++] = g;
		if (io >= 0 && ((snap.g[i].status & ~(uint32_t)GO_SCAN) != GO_WAITING ||
				snap.g[i].waitreason != (uint32_t)io))
			continue;
		if (second && io >= 0 && in_sorted(p->io, io_before, g))
			p->stable[p->nstable++] = g;
		p->io[p->nio++] = g;
	}
	go_snapshot__free(&snap);
	sort_u64(p->gs, p->ngs);
	sort_u64(p->io, p->nio);
	return err;
}

/* Offset off of the set's rows under decoder d holds every entry's fd, but for the one
 * wakeup entry every runtime set has. */
static bool fd_holds(const struct epset *s, size_t d, int32_t off)
{
	size_t hits = 0, wakeups = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->gone[i])
			continue;
		if (s->rows[d].ok[i] && pd_rows__word(&s->rows[d], i, off) == (uint64_t)s->e[i].tfd)
			hits++;
		else if (s->wakeup[i])
			wakeups++;
		else
			return false;
	}
	return hits && wakeups == 1;
}

/* Appends to a note, cutting what does not fit. */
static void note_add(char *note, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_add(char *note, size_t size, const char *fmt, ...)
{
	size_t len = strlen(note);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note + len, size - len, fmt, ap);
	va_end(ap);
}

/* The offset of the set that holds every fd and the decoders it holds it under (none: 0);
 * -1 when several do and none is where every release puts pollDesc.fd. */
static int32_t fd_offset(const struct epset *set, int32_t dwarf_off, uint32_t *decoders, char *note,
			 size_t note_size)
{
	uint32_t masks[PD_WINDOW / 8] = {0};
	int32_t found = 0, nfound = 0;

	note[0] = '\0';
	for (size_t d = 0; d < PD_DECODERS; d++)
		for (int32_t k = 0; k + 8 <= PD_WINDOW; k += 8)
			if ((dwarf_off < 0 || k == dwarf_off) && fd_holds(set, d, k))
				masks[k / 8] |= pd__decoder_bit(d);
	for (int32_t k = 0; k + 8 <= PD_WINDOW; k += 8)
		if (masks[k / 8]) {
			note_add(note, note_size, "%s%d", nfound ? ", " : "fd at ", k);
			found = k;
			nfound++;
		}
	*decoders = nfound ? masks[found / 8] : 0;
	if (nfound <= 1) {
		note[0] = '\0';
		return found;
	}
	note_add(note, note_size, " fits");
	/* Few pollDescs (a lone listener) leave a counter holding the same small number as
	 * the fd. Only then is the place every release gives the field, right after link
	 * (netpoll.go, Go 1.18 to 1.26), taken among those that hold it; a release that
	 * moved it would fail go_netpoll__read's check of every fd as more are polled. */
	if (!masks[PD_FD_OFFSET / 8])
		return -1;
	*decoders = masks[PD_FD_OFFSET / 8];
	note_add(note, note_size, ": %d taken, every release's", PD_FD_OFFSET);
	return PD_FD_OFFSET;
}

/* Finds the set, the decoders and (unless DWARF gave it) the offset of pollDesc.fd. */
static int find_fd(struct proof *p, int32_t dwarf_off)
{
	struct go_layout *l = &p->gp->layout;
	bool only_wakeup = false;
	char note[sizeof(p->note)];

	p->fd_off = -1;
	p->decoders = 0;
	for (size_t s = 0; s < p->nsets; s++) {
		struct epset *set = &p->sets[s];
		uint32_t decoders = 0;
		int32_t off;

		only_wakeup |= set->n == 1 && set->wakeup[0];
		off = fd_offset(set, dwarf_off, &decoders, note, sizeof(note));
		if (off < 0)
			return fail(l, -EAGAIN, "pollDesc.fd ambiguous: %s of epoll set %d", note,
				    set->epfd);
		if (!decoders)
			continue;
		if (p->decoders)
			return fail(l, -EAGAIN, "epoll sets %d and %d both look like the runtime's",
				    p->sets[p->set].epfd, set->epfd);
		p->set = s;
		p->decoders = decoders;
		p->fd_off = off;
		snprintf(p->note, sizeof(p->note), "%s", note);
	}
	if (p->decoders)
		return 0;
	if (!p->nsets || only_wakeup)
		return fail(l, -EAGAIN, "no fd is polled yet");
	if (dwarf_off >= 0)
		return fail(l, -EBADMSG,
			    "pollDesc.fd from DWARF (offset %d) does not hold the fds of any "
			    "epoll set",
			    dwarf_off);
	return fail(l, -EBADMSG, "no epoll set holds pollDescs that hold their fds");
}

/* The rows of the chosen set under its first decoder, once every decoder it fits reads
 * each pollDesc at the same address (they differ only in bits alignment keeps zero). */
static int choose_rows(struct proof *p)
{
	const struct epset *s = &p->sets[p->set];
	size_t first = SIZE_MAX;

	for (size_t d = 0; d < PD_DECODERS; d++) {
		if (!(p->decoders & pd__decoder_bit(d)))
			continue;
		if (first == SIZE_MAX) {
			first = d;
			continue;
		}
		for (size_t i = 0; i < s->n; i++)
			if (!s->wakeup[i] && !s->gone[i] &&
			    s->rows[d].addr[i] != s->rows[first].addr[i])
				return fail(&p->gp->layout, -EAGAIN,
					    "two decodings of epoll data find fd %d's pollDesc",
					    s->e[i].tfd);
	}
	p->rows = &s->rows[first];
	return 0;
}

/* Entry i is a pollDesc holding its fd (the one entry that is not is the wakeup fd). */
static bool is_pd(const struct proof *p, size_t i)
{
	const struct epset *s = &p->sets[p->set];

	return !s->gone[i] && p->rows->ok[i] &&
	       pd_rows__word(p->rows, i, p->fd_off) == (uint64_t)s->e[i].tfd;
}

/* Whether off holds 0, pdReady, pdWait or a parked goroutine in every pollDesc; counts
 * the goroutines. */
static bool g_holds(const struct proof *p, int32_t off, size_t *parked)
{
	const struct epset *s = &p->sets[p->set];

	*parked = 0;
	for (size_t i = 0; i < s->n; i++) {
		uint64_t v = pd_rows__word(p->rows, i, off);

		if (!is_pd(p, i))
			continue;
		if (v > PD_WAIT && !in_sorted(p->gs, p->ngs, v))
			return false;
		*parked += v > PD_WAIT && in_sorted(p->io, p->nio, v);
	}
	return true;
}

enum direction { DIR_UNKNOWN, DIR_READ, DIR_WRITE };

static int cmp_tcp_state(const void *a, const void *b)
{
	const struct tcp_state *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* What a goroutine parked on an fd can be waiting for, from what the fd is; socks are the
 * TCP sockets looked up, sorted by inode. */
static enum direction fd_direction(const struct fd_desc *d, const struct tcp_state *socks,
				   size_t nsocks)
{
	const struct tcp_state *t, key = {.inode = d->inode};

	if (d->kind == FD_PIPE && d->flags >= 0 && (d->flags & O_ACCMODE) != O_RDWR)
		return (d->flags & O_ACCMODE) == O_RDONLY ? DIR_READ : DIR_WRITE;
	if (d->kind != FD_SOCKET ||
	    !(t = bsearch(&key, socks, nsocks, sizeof(*socks), cmp_tcp_state)))
		return DIR_UNKNOWN;
	if (t->state == TCP_LISTEN) /* accept waits to read */
		return DIR_READ;
	if (t->state == TCP_SYN_SENT) /* connect waits to write */
		return DIR_WRITE;
	/* a writer parks only when the send queue is full */
	if (t->state == TCP_ESTABLISHED && !t->tx_queue)
		return DIR_READ;
	return DIR_UNKNOWN;
}

/* Notes at *dir the offset where a goroutine parked for that direction sits. */
static bool note_direction(int32_t *dir, int32_t off)
{
	if (*dir >= 0 && *dir != off)
		return false;
	*dir = off;
	return true;
}

/* Where goroutines parked to read and to write sit (-1: not seen), from a few of the fds
 * they are parked on at each offset holding some; the sockets looked up in one walk of
 * the TCP tables, which a busy server makes long. */
static int directions(struct proof *p, const int32_t *holding, int nholding, int32_t *rd,
		      int32_t *wr)
{
	const struct epset *s = &p->sets[p->set];
	struct fd_desc clue[MAX_EVIDENCE];
	int32_t at[MAX_EVIDENCE];
	struct tcp_state socks[MAX_EVIDENCE];
	size_t nclues = 0, nsocks = 0;

	for (int h = 0; h < nholding; h++)
		for (size_t i = 0, taken = 0; i < s->n && taken < MAX_EVIDENCE / (size_t)nholding;
		     i++) {
			if (!is_pd(p, i) || pd_rows__word(p->rows, i, holding[h]) <= PD_WAIT ||
			    fdinfo__identify(p->gp->pid, s->e[i].tfd, &clue[nclues]))
				continue;
			if (clue[nclues].kind == FD_SOCKET)
				socks[nsocks++].inode = clue[nclues].inode;
			at[nclues++] = holding[h];
			taken++;
		}
	fdinfo__tcp_states(p->gp->pid, socks, nsocks);
	*rd = *wr = -1;
	for (size_t c = 0; c < nclues; c++) {
		enum direction dir = fd_direction(&clue[c], socks, nsocks);

		if ((dir == DIR_READ && !note_direction(rd, at[c])) ||
		    (dir == DIR_WRITE && !note_direction(wr, at[c])))
			return fail(&p->gp->layout, -EBADMSG,
				    "goroutines parked to %s sit at two offsets of pollDesc",
				    dir == DIR_READ ? "read" : "write");
	}
	return 0;
}

/* Every goroutine parked in IO wait throughout is parked in rg or wg of some pollDesc:
 * only netpollblock parks for IO wait. */
static bool covers(const struct proof *p, int32_t rg, int32_t wg)
{
	const struct epset *s = &p->sets[p->set];
	uint64_t *held;
	size_t n = 0, missed = 0;

	if (s->cut || !p->stable)
		return true; /* not every pollDesc was read, or IO wait is not told apart */
	held = xcalloc(2 * s->n + 1, sizeof(*held));
	for (size_t i = 0; i < s->n; i++)
		if (is_pd(p, i)) {
			held[n++] = pd_rows__word(p->rows, i, rg);
			held[n++] = pd_rows__word(p->rows, i, wg);
		}
	sort_u64(held, n);
	for (size_t i = 0; i < p->nstable; i++)
		missed += !in_sorted(held, n, p->stable[i]);
	free(held);
	/* one that woke and parked again while the set was read is missed: a busy server has
	 * a few; a field that is not rg or wg misses most */
	return missed <= p->nstable / 10;
}

/* Checks the rg and wg DWARF gave. */
static int check_g_fields(struct proof *p)
{
	struct go_layout *l = &p->gp->layout;
	size_t parked;

	if (!g_holds(p, l->pd_rg, &parked))
		return fail(l, -EBADMSG,
			    "pollDesc.rg from DWARF holds what no parked goroutine is");
	if (!g_holds(p, l->pd_wg, &parked))
		return fail(l, -EBADMSG,
			    "pollDesc.wg from DWARF holds what no parked goroutine is");
	if (!covers(p, l->pd_rg, l->pd_wg))
		return fail(l, -EBADMSG,
			    "a goroutine in IO wait is in no pollDesc's rg or wg from DWARF");
	return 0;
}

/* Infers rg and wg: the offsets that hold parked goroutines, told apart by the fds they
 * are parked on. */
static int infer_g_fields(struct proof *p, int32_t *rg, int32_t *wg)
{
	struct go_layout *l = &p->gp->layout;
	int32_t holding[PD_WINDOW / 8], nholding = 0, rd = -1, wr = -1;
	int err;

	for (int32_t off = 0; off + 8 <= PD_WINDOW; off += 8) {
		size_t parked;

		if (off != p->fd_off && g_holds(p, off, &parked) && parked)
			holding[nholding++] = off;
	}
	if (!nholding)
		return fail(l, -EAGAIN, "no goroutine is parked in the poller yet");
	err = directions(p, holding, nholding, &rd, &wr);
	if (err)
		return err;
	if (rd < 0 && wr < 0)
		return fail(l, -EAGAIN,
			    "no goroutine is parked on an fd that can only be read or written yet");
	/* rg and wg are declared one after the other in every release, Go 1.18 to 1.26 */
	*rg = rd >= 0 ? rd : wr - 8;
	*wg = wr >= 0 ? wr : rd + 8;
	if (rd < 0 || wr < 0)
		note_add(p->note, sizeof(p->note), "%s%s next to %s (no %s seen)",
			 p->note[0] ? "; " : "", rd < 0 ? "rg" : "wg", rd < 0 ? "wg" : "rg",
			 rd < 0 ? "reader" : "writer");
	if (*rg == *wg || *rg < 0 || *wg + 8 > PD_WINDOW || *rg == p->fd_off || *wg == p->fd_off)
		return fail(l, -EBADMSG, "goroutines parked to read and to write sit together");
	for (int32_t h = 0; h < nholding; h++)
		if (holding[h] != *rg && holding[h] != *wg)
			return fail(l, -EBADMSG,
				    "parked goroutines sit at a third offset of pollDesc");
	size_t parked;

	if (!g_holds(p, *rg, &parked) || !g_holds(p, *wg, &parked))
		return fail(l, -EBADMSG, "pollDesc.%s holds what no parked goroutine is",
			    g_holds(p, *rg, &parked) ? "wg" : "rg");
	if (!covers(p, *rg, *wg))
		return fail(l, -EBADMSG, "a goroutine in IO wait is in no pollDesc's rg or wg");
	return 0;
}

/* One look at the process: its epoll sets between two snapshots of its goroutines. */
static int attempt(struct proof *p, bool from_dwarf, int32_t *rg, int32_t *wg)
{
	struct go_layout *l = &p->gp->layout;
	int err;

	if (from_dwarf &&
	    (l->pd_fd + 8 > PD_WINDOW || l->pd_rg + 8 > PD_WINDOW || l->pd_wg + 8 > PD_WINDOW))
		return fail(l, -EBADMSG, "pollDesc offsets from DWARF lie past the %d bytes read",
			    PD_WINDOW);
	free_sets(p);
	p->ngs = p->nio = p->nstable = 0;
	err = look_at_goroutines(p, false);
	if (!err)
		err = read_sets(p);
	if (!err)
		err = look_at_goroutines(p, true);
	if (err)
		return err == -ESRCH || !procfs__exists(p->gp->pid)
			       ? fail(l, -ESRCH, "the process is gone")
			       : fail(l, err, "reading the process: %s", strerror(-err));
	err = find_fd(p, from_dwarf ? l->pd_fd : -1);
	if (!err)
		err = choose_rows(p);
	if (err)
		return err;
	if (from_dwarf) {
		*rg = l->pd_rg;
		*wg = l->pd_wg;
		return check_g_fields(p);
	}
	return infer_g_fields(p, rg, wg);
}

static int prove(struct proof *p, bool from_dwarf)
{
	struct go_layout *l = &p->gp->layout;
	int32_t rg = -1, wg = -1;
	int err = -EAGAIN;

	for (int i = 0; i < ATTEMPTS; i++) {
		err = attempt(p, from_dwarf, &rg, &wg);
		if (err != -EBADMSG) /* what a race can cause; waiting is for the caller */
			break;
	}
	if (err)
		return err;
	l->pd_fd = p->fd_off;
	l->pd_rg = rg;
	l->pd_wg = wg;
	l->pd_epfd = p->sets[p->set].epfd;
	l->pd_decoders = p->decoders;
	l->pd_source = from_dwarf ? "DWARF" : "inferred";
	/* what the proof rests on beyond the process, for people to judge */
	snprintf(l->pd_problem, sizeof(l->pd_problem), "%s", p->note);
	return 0;
}

int go_netpoll__prove(struct go_process *gp)
{
	struct go_layout *l = &gp->layout;
	struct proof p = {.gp = gp};
	char dwarf_problem[sizeof(l->pd_problem)] = "";
	int err = -ENODATA;

	l->pd_source = NULL;
	if (l->pd_dwarf) {
		err = prove(&p, true);
		if (err && err != -EAGAIN && err != -ESRCH)
			snprintf(dwarf_problem, sizeof(dwarf_problem), "%s", l->pd_problem);
	}
	if (err && err != -EAGAIN && err != -ESRCH) {
		err = prove(&p, false);
		if (dwarf_problem[0] && err) /* why DWARF was not trusted matters more */
			snprintf(l->pd_problem, sizeof(l->pd_problem), "%s", dwarf_problem);
		else if (dwarf_problem[0])
			snprintf(l->pd_problem, sizeof(l->pd_problem), "DWARF not trusted: %.100s",
				 dwarf_problem);
	}
	free_sets(&p);
	free(p.gs);
	free(p.io);
	free(p.stable);
	return err;
}
