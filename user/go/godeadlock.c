// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Go program's global deadlock, proved from outside while it runs: the runtime's own
 * criterion ("all goroutines are asleep", checkdead in proc.go), which the runtime itself
 * cannot apply once a timer is pending (a test binary's -test.timeout alarm is one), and
 * which this applies knowing what each timer will do.
 *
 * Proved when, at two scans in a row, every goroutine of the program (the runtime's own
 * aside) is parked on a channel, a select or a sync primitive, the same goroutines at the
 * same places, none running, runnable, in a system call, in IO wait or asleep; no timer of
 * any P calls anything but the testing package's alarm (it panics, waking nobody) or a
 * network deadline (it wakes IO waits, and there are none); and the program has no cgo
 * (C threads may call into Go). Whatever could wake one of them would have to run, and
 * nothing can. Anything unread or unknown (no DWARF, a goroutine not read) proves nothing.
 *
 * The same timer heaps say which selects end by themselves: those with a pending timer's
 * channel (time.After, a Ticker) among their cases.
 */
#include "go/gotrack.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <stdio.h>
#include <string.h>

#define MAX_PS	   1024
#define MAX_TIMERS 4096

/* Waits only another goroutine can end. */
static bool sleeps_for_others(const char *state)
{
	static const char *const chan_waits[] = {
		"chan receive",
		"chan send",
		"select",
		"select (no cases)",
		"chan receive (nil chan)",
		"chan send (nil chan)",
	};

	for (size_t i = 0; i < ARRAY_SIZE(chan_waits); i++)
		if (!strcmp(state, chan_waits[i]))
			return true;
	return go_state_is_sync_wait(state);
}

static const char *function_at(struct go_proc_state *st, uint64_t funcval)
{
	const char *fn = NULL, *file;
	uint64_t pc;
	int line;

	if (!funcval || procfs__read_mem(st->pid, funcval, &pc, sizeof(pc)) || pc <= st->gp.bias ||
	    gopclntab__resolve(st->pcln, pc - st->gp.bias, &fn, &file, &line))
		return NULL;
	return fn;
}

/* What a pending timer will do when it fires: the function it calls, and for a timer's
 * channel (time.sendTime) the channel it sends on. */
struct timer_act {
	const char *fn;
	uint64_t chan;
	uint64_t funcval; /* time.goFunc: the func() it starts */
};

static bool timer_act(struct go_proc_state *st, uint64_t timer, struct timer_act *a)
{
	const struct go_layout *l = &st->gp.layout;
	uint64_t f, arg[2];

	if (procfs__read_mem(st->pid, timer + (uint64_t)l->timer_f, &f, sizeof(f)) ||
	    procfs__read_mem(st->pid, timer + (uint64_t)l->timer_arg, arg, sizeof(arg)) ||
	    !(a->fn = function_at(st, f)))
		return false;
	/* the argument is an interface: a channel or a func value is its data word */
	a->chan = !strcmp(a->fn, "time.sendTime") ? arg[1] : 0;
	a->funcval = !strcmp(a->fn, "time.goFunc") ? arg[1] : 0;
	return true;
}

/* Calls fn on every pending timer of every P; stops at the first it returns false for.
 * 0, -1 when the timers could not be read (or fn stopped). */
static int each_timer(struct go_proc_state *st,
		      bool (*fn)(struct go_proc_state *st, const struct timer_act *a, void *ctx),
		      void *ctx)
{
	const struct go_layout *l = &st->gp.layout;
	uint64_t allp[2], ps[MAX_PS];

	if (!l->allp || !st->pcln ||
	    procfs__read_mem(st->pid, l->allp + st->gp.bias, allp, sizeof(allp)) ||
	    allp[1] > MAX_PS || procfs__read_mem(st->pid, allp[0], ps, allp[1] * sizeof(*ps)))
		return -1;
	for (uint64_t i = 0; i < allp[1]; i++) {
		uint64_t heap[2];

		if (!ps[i])
			continue;
		if (procfs__read_mem(st->pid, ps[i] + (uint64_t)l->p_timers, heap, sizeof(heap)) ||
		    heap[1] > MAX_TIMERS)
			return -1;
		for (uint64_t k = 0; k < heap[1]; k++) {
			struct timer_act a;
			uint64_t timer;

			if (procfs__read_mem(st->pid, heap[0] + k * (uint64_t)l->timer_stride,
					     &timer, sizeof(timer)) ||
			    !timer_act(st, timer, &a) || !fn(st, &a, ctx))
				return -1;
		}
	}
	return 0;
}

/* A timer that wakes no goroutine of the program: the test alarm panics the process; a
 * network deadline readies IO waits only. */
static bool wakes_nobody(struct go_proc_state *st, const struct timer_act *a, void *ctx)
{
	const char *fn;

	(void)ctx;
	if (!strncmp(a->fn, "runtime.netpoll", 15) && strstr(a->fn, "Deadline"))
		return true;
	return a->funcval && (fn = function_at(st, a->funcval)) &&
	       !strncmp(fn, "testing.(*M).startAlarm", 23);
}

/* 0 when no timer can wake a goroutine, else -1 with why. */
static int timers_quiet(struct go_proc_state *st, char *why, size_t len)
{
	if (each_timer(st, wakes_nobody, NULL)) {
		snprintf(why, len, "a timer is pending that may wake one, or timers unread");
		return -1;
	}
	return 0;
}

static bool add_timer_chan(struct go_proc_state *st, const struct timer_act *a, void *ctx)
{
	(void)st;
	if (a->chan)
		hashmap__set(ctx, a->chan, (void *)1);
	return true;
}

int go_timer_channels(struct go_proc_state *st, struct hashmap *chans)
{
	return each_timer(st, add_timer_chan, chans);
}

/* A hash of where every goroutine of the program sleeps, 0 if one does not sleep for good
 * (why says which); *n counts them. */
static uint64_t asleep_signature(struct go_tracker *t, struct go_proc_state *st, uint64_t *n,
				 char *why, size_t len)
{
	uint64_t sig = 0x5bd1e995;

	*n = 0;
	if (st->snap.invalid || st->snap.untracked) {
		snprintf(why, len, "not every goroutine was read");
		return 0;
	}
	for (size_t i = 0; i < st->snap.n; i++) {
		const struct go_g *g = &st->snap.g[i];
		const char *state = go_state_name(st, g);

		if (t->sites[go_row(st, i)->site].runtime)
			continue;
		if (!sleeps_for_others(state)) {
			snprintf(why, len, "goroutine %llu is %s", (unsigned long long)g->goid,
				 state);
			return 0;
		}
		sig = hash_combine(sig, g->goid);
		sig = hash_combine(sig, (uint64_t)g->status << 32 | g->waitreason);
		sig = hash_combine(sig, g->sched_pc ^ g->sched_sp);
		(*n)++;
	}
	return *n ? sig : 0;
}

void go_check_deadlock(struct go_tracker *t, struct go_proc_state *st)
{
	const struct go_layout *l = &st->gp.layout;
	uint64_t sig, n;
	uint8_t cgo = 1;

	st->deadlocked = false;
	if (!l->allp || !st->pcln) {
		snprintf(st->asleep_why, sizeof(st->asleep_why),
			 "its timers cannot be read (no DWARF)");
		st->asleep_sig = 0;
		return;
	}
	sig = asleep_signature(t, st, &n, st->asleep_why, sizeof(st->asleep_why));
	if (sig && (procfs__read_mem(st->pid, l->iscgo + st->gp.bias, &cgo, 1) || cgo)) {
		snprintf(st->asleep_why, sizeof(st->asleep_why),
			 "it uses cgo: a C thread may call into Go");
		sig = 0;
	}
	if (sig && timers_quiet(st, st->asleep_why, sizeof(st->asleep_why)))
		sig = 0;
	if (!sig || sig != st->asleep_sig) {
		st->asleep_sig = sig;
		st->asleep_since_ns = t->now_ns;
		st->asleep_scans = sig ? 1 : 0;
		return;
	}
	st->asleep_scans++;
	st->asleep_n = n;
	st->deadlocked = true;
}
