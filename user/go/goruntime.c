// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the tracker learns of one Go process's runtime beyond its goroutine list, each
 * proved when the process has shown enough of itself: the runtime probes (attached, their
 * offsets updated), the M layer (each thread's M), the network poller (which fd an IO wait
 * is on, and who spoke last on it), the offsets of channel waits. */
#include "go/gocode.h"
#include "go/goinfer.h"
#include "go/gominfer.h"
#include "go/gonetpoll.h"
#include "go/gotrack.h"
#include "lib/util.h"
#include "probes/loader.h"
#include "sym/elfsym.h"
#include "sys/fdinfo.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_LAYOUT_ATTEMPTS 60 /* scans that look for channel waits to prove offsets with */
#define M_LAYOUT_ATTEMPTS    30 /* scans that look for busy goroutines and parked threads */
#define NETPOLL_ATTEMPTS     20 /* tries at proving the netpoll layout, every NETPOLL_EVERY */
#define PARENT_ATTEMPTS	     20 /* scans that look for goroutines with creators */
#define NETPOLL_EVERY	     3	/* scans: a proof reads every polled fd (0.4 s on a busy server) */

/* Which offsets the probes need: those of the layout, checked or inferred. */
static struct strand_go_config probe_config(const struct go_layout *l)
{
	return (struct strand_go_config){
		.goid = l->goid,
		.gopc = l->gopc,
		.startpc = l->startpc,
		.g_m = l->g_m,
		.m_curg = l->m_curg,
		.sched_bp = l->sched_bp,
		.atomicstatus = l->atomicstatus,
	};
}

void go_attach_probes(struct go_tracker *t, struct go_proc_state *st)
{
	struct strand_go_config cfg = probe_config(&st->gp.layout);
	uint64_t offsets[GO_PROBES] = {0}, vaddr[GO_PROBES];
	struct go_probe_sites sites;
	char exe[64];
	int err;

	if (!t->ld || !st->pcln || gocode__probe_sites(st->pid, st->gp.bias, st->pcln, &sites))
		return;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", st->pid);
	vaddr[GO_PROBE_CREATE] = sites.create;
	vaddr[GO_PROBE_EXIT] = sites.exit;
	vaddr[GO_PROBE_PARK] = sites.park;
	vaddr[GO_PROBE_READY] = sites.ready;
	for (int i = 0; i < GO_PROBES; i++)
		if (vaddr[i] && elfsym__file_offset(exe, vaddr[i], &offsets[i]))
			offsets[i] = 0;
	/* park times are only exact with both ends of a wait probed; and only wanted when asked
	 * for, or when the scans cannot tell one wait from the next */
	if (!offsets[GO_PROBE_PARK] || !offsets[GO_PROBE_READY] ||
	    (!t->exact_waits && st->gp.layout.tracking_seq >= 0))
		offsets[GO_PROBE_PARK] = offsets[GO_PROBE_READY] = 0;
	err = loader__attach_go(t->ld, st->pid, exe, &cfg, offsets);
	/* a process gone meanwhile (go test's compilers come and go) is no news */
	if (err && err != -ENOTSUP && procfs__exists(st->pid))
		note("goroutine probes not attached to pid %d: %s", st->pid, strerror(-err));
	st->probes = !err && offsets[GO_PROBE_PARK];
	st->create_probes = !err;
	st->probes_ns = now_mono_ns();
}

/*
 * A waiting goroutine's wait and creator: exact from the probes. Else from the runtime's
 * own record, g.waitsince: a GC's stack scan sets it on a goroutine it finds blocked (to the
 * time of the previous GC's mark termination: "[chan send, 12 minutes]" in Go's own dumps,
 * which overstates the wait by up to a GC's interval), and the scheduler clears it whenever
 * the goroutine runs (execute, exitsyscall). So it never dates a wait by itself; but seen
 * set and unchanged from one scan to the next, it proves the goroutine did not run between
 * them: with no probes, the waits are timed from the first scan that saw it so.
 */
void go_probe_wait(struct go_tracker *t, struct go_proc_state *st, struct go_g *g, struct row *r)
{
	struct strand_go_state s;
	uint64_t dated;
	int err = -ENOENT;

	r->blocked = -1;
	if (st->create_probes && !(err = loader__go_state(t->ld, st->pid, g->goid, &s))) {
		if (s.flags & STRAND_GO_CREATED)
			g->parent_goid = s.parent_goid;
		if (st->probes && s.flags & STRAND_GO_PARKED && t->now_ns > s.park_ns) {
			r->blocked = (double)(t->now_ns - s.park_ns) / 1e9;
			r->park = s.park_ns;
			return;
		}
	}
	/* never parked nor created while probed: waiting since before the attach */
	if (st->probes && err == -ENOENT && !t->states_lost && t->now_ns >= st->probes_ns) {
		r->before_attach = true;
		r->blocked = (double)(t->now_ns - st->probes_ns) / 1e9;
		r->park = st->probes_ns;
	}
	/* no probe times the waits: the scans do, one wait told from the next by trackingSeq */
	if (!st->probes && st->gp.layout.tracking_seq >= 0) {
		uint64_t first = go_first_seen(st, g);

		if (first && first <= t->now_ns) {
			r->blocked = (double)(t->now_ns - first) / 1e9;
			r->park = first;
			r->scan_dated = true;
			r->before_attach = first == st->first_scan_ns && st->born_before;
		}
	}
	r->runtime_age = -1;
	if (g->waitsince > 0 && (uint64_t)g->waitsince < t->now_ns)
		r->runtime_age = (double)(t->now_ns - (uint64_t)g->waitsince) / 1e9;
	dated = go_first_dated(st, g);
	if (dated && dated <= t->now_ns && (double)(t->now_ns - dated) / 1e9 > r->blocked) {
		r->blocked = (double)(t->now_ns - dated) / 1e9;
		r->runtime_dated = true;
		r->scan_dated = false;
	}
}

/* Removes the "; "-separated clause of text starting with prefix. */
static void drop_clause(char *text, const char *prefix)
{
	char *at = strstr(text, prefix), *end;

	if (!at || (at != text && (at < text + 2 || at[-2] != ';')))
		return;
	end = strstr(at, "; ");
	if (end)
		memmove(at, end + 2, strlen(end + 2) + 1);
	else if (at == text)
		*at = '\0';
	else
		at[-2] = '\0';
}

static void learned_curg(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	int32_t off;

	if (loader__go_learned_curg(t->ld, st->pid, &off) || off < l->m_mstartfn ||
	    (l->m_alllink >= 0 && off == l->m_alllink) || off == l->m_procid)
		return;
	l->m_curg = off;
	drop_clause(l->m_problem, "m.curg unknown");
	if (!strstr(l->m_problem, "m.curg proved at a spawn"))
		snprintf(l->m_problem + strlen(l->m_problem),
			 sizeof(l->m_problem) - strlen(l->m_problem),
			 "%sm.curg proved at a spawn by the create probe",
			 l->m_problem[0] ? "; " : "");
}

bool go_m_layer_due(const struct go_proc_state *st)
{
	const struct go_layout *l = &st->gp.layout;

	/* once at the first scan (DWARF's layer is checked then, or forgotten without a line
	 * table to check it with), later while unproved */
	return st->m_attempts < M_LAYOUT_ATTEMPTS &&
	       (!st->m_attempts || (st->pcln && (!l->m_source || l->m_problem[0])));
}

/* The M layer (threads to goroutines) may need a goroutine in a system call or a parked
 * thread to be proved: tried again at later scans, each on the gs its snapshot read (asked
 * for with go_m_layer_due). A m.curg proved after the probes attached reaches them too: the
 * create probe finds a new goroutine's parent through it. */
void go_find_m_layer(struct go_tracker *t, struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	int32_t curg = l->m_curg;
	struct strand_go_config cfg;
	struct gom_gs *all = st->snap.all;

	st->snap.all = NULL;
	if (!go_m_layer_due(st)) {
		gom_gs__free(all);
		return;
	}
	st->m_attempts++;
	gominfer__resolve(st->pid, st->gp.bias, st->pcln, l, all);
	/* an idle process may have no goroutine running when it is scanned: the create probe
	 * saw one at a spawn (the spawner, pointing back at its M) */
	if (l->m_curg < 0 && st->create_probes)
		learned_curg(t, st);
	cfg = probe_config(l);
	if (curg < 0 && l->m_curg >= 0 && st->create_probes)
		loader__update_go_config(t->ld, st->pid, &cfg);
}

void go_read_threads(struct go_proc_state *st)
{
	free(st->threads);
	st->threads = NULL;
	st->nthreads = 0;
	st->threads_read = st->gp.layout.m_source &&
			   !go_threads__read(st->pid, st->gp.bias, st->pcln, &st->gp.layout,
					     &st->threads, &st->nthreads);
}

/* Who spoke last on the outbound connections already described changes as their peers
 * answer: read again at every scan, all in one dump of the TCP sockets. */
static void refresh_conversations(struct go_proc_state *st, const struct go_netwait *w, size_t n)
{
	struct fd_desc *fds = xcalloc(n ? n : 1, sizeof(*fds));
	struct net_fd **of = xcalloc(n ? n : 1, sizeof(*of));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct net_fd *c = hashmap__get(&st->net_fds, (uint64_t)w[i].fd);

		if (!c || c->kind != NET_OUTBOUND || fdinfo__identify(st->pid, w[i].fd, &fds[k]) ||
		    fds[k].inode != c->inode)
			continue;
		of[k++] = c;
	}
	if (k && !fdinfo__tcp_diags(st->pid, fds, k))
		for (size_t i = 0; i < k; i++) {
			of[i]->speaker = fds[i].spoke_last;
			tcpdiag__format(&fds[i].tcp_diag, of[i]->talk, sizeof(of[i]->talk));
		}
	free(of);
	free(fds);
}

static bool in_io_wait(const struct go_proc_state *st)
{
	int io = go_netpoll__io_wait_reason(&st->gp.layout);

	for (size_t i = 0; io >= 0 && i < st->snap.n; i++)
		if ((st->snap.g[i].status & ~(uint32_t)GO_SCAN) == GO_WAITING &&
		    st->snap.g[i].waitreason == (uint32_t)io)
			return true;
	return io < 0; /* not known: the proof says what it finds */
}

/* Which fd each goroutine in IO wait waits on, from the runtime's epoll set; the layout is
 * proved first, again after a read finds it no longer fits. */
void go_read_netwaits(struct go_proc_state *st)
{
	struct go_netwait *w = NULL;
	size_t n = 0;
	int err;

	hashmap__free(&st->net_of);
	hashmap__init(&st->net_of);
	if (!st->gp.layout.pd_source) {
		/* no attempt spent, nor the proof's two looks at every goroutine, while no
		 * goroutine waits on an fd: there is nothing to tell of yet */
		if (!in_io_wait(st))
			return;
		if (st->np_attempts >= NETPOLL_ATTEMPTS * NETPOLL_EVERY ||
		    st->np_attempts++ % NETPOLL_EVERY)
			return;
		if (go_netpoll__prove(&st->gp))
			return;
	}
	err = go_netpoll__read(st->pid, &st->gp.layout, &w, &n, NULL);
	if (err == -EBADMSG)
		st->gp.layout.pd_source = NULL; /* the layout no longer fits: prove it again */
	for (size_t i = 0; !err && i < n; i++)
		hashmap__set(&st->net_of, w[i].g,
			     (void *)(uintptr_t)((uint64_t)(w[i].fd + 1) |
						 (w[i].write ? 1ULL << 31 : 0)));
	if (!err)
		refresh_conversations(st, w, n);
	free(w);
}

/* The channel-wait offsets: from DWARF, checked once there is something to check them
 * against; inferred otherwise, as soon as goroutines in channel waits show what is what. */
/* g.parentGoid is proved by goroutines with creators: a process caught starting may have
 * too few. Only inferred layouts miss it: DWARF says whether the release has the field. */
void go_find_wait_fields(struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;

	if ((l->waitreason >= 0 && l->sched_pc >= 0) || strcmp(l->source, "inferred") ||
	    !st->pcln || (st->wait_field_attempts >= PARENT_ATTEMPTS && !st->at_exit))
		return;
	st->wait_field_attempts++;
	goinfer__waits(st->pid, st->gp.bias, st->pcln, l);
}

void go_find_parent(struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;

	if (l->parent_goid >= 0 || st->parent_attempts >= PARENT_ATTEMPTS ||
	    strcmp(l->source, "inferred") || !st->pcln)
		return;
	st->parent_attempts++;
	goinfer__parent(st->pid, st->gp.bias, st->pcln, l);
}

void go_find_wait_layout(struct go_proc_state *st)
{
	struct go_layout *l = &st->gp.layout;
	bool all = l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0;
	unsigned attempt;

	if (st->wait_layout_done || (st->wait_attempts >= WAIT_LAYOUT_ATTEMPTS && !st->at_exit))
		return;
	attempt = (unsigned)st->wait_attempts++;
	if (!strcmp(l->source, "DWARF") && all) {
		/* proved once against real waits, DWARF is trusted from then on */
		st->wait_layout_done = go_wait__check(st->pid, st->gp.bias, l, attempt) > 0;
		if (l->g_waiting >= 0 && l->sudog_c >= 0 && l->sudog_waitlink >= 0)
			return;
	}
	st->wait_layout_done = go_wait__infer(st->pid, st->gp.bias, l, attempt) == 3;
}
