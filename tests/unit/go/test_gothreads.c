// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the M layer (gothreads.c, gominfer.c) on a made-up Go process: its Ms, g0s,
 * goroutines and start functions laid out in fake memory as Go 1.19 and Go 1.26 lay them
 * out, with the traps a real one has: m.tls[0] holding the running goroutine like m.curg
 * does, the idle list (m.schedlink) running through Ms to m0 like m.alllink does.
 */
#include <errno.h>
#include <stdlib.h>

#include "go/golayout.h"
#include "go/gominfer.h"
#include "go/gothreads.h"
#include "lib/util.h"
#include "unit.h"

/* --- fake memory ----------------------------------------------------------------------- */

#define IMAGE	  0x400000ULL /* the executable: m0, its g0, the start functions' funcvals */
#define IMAGE_END 0x600000ULL
#define M0	  0x500000ULL
#define M0_G0	  0x501000ULL
#define SYSMON	  0x410000ULL /* function entries */
#define MSPINNING 0x420000ULL
#define SYSMON_FV 0x480000ULL /* their funcvals */
#define SPIN_FV	  0x480008ULL
#define HEAP	  0xc000000000ULL
#define HEAP_SIZE 0x100000ULL
#define M_ADDR(i) (HEAP + 0x10000 + (uint64_t)(i)*0x800)
#define G0(i)	  (HEAP + 0x40000 + (uint64_t)(i)*0x400)
#define G(i)	  (HEAP + 0x80000 + (uint64_t)(i)*0x400)
#define NM	  6 /* Ms on the heap, plus m0 */
#define PID	  1000

/* g fields as in Go 1.19 (DWARF of a go1.19.8 binary) */
#define G_M	     48
#define G_STATUS     144
#define G_GOID	     152
#define MAX_REGIONS  2
#define NGS	     (NM + 1)
#define SCHEDLINK(l) ((l)->m_alllink + 8)
#define LOCKEDG(l)   ((l)->m_alllink + 16)

struct region {
	uint64_t base, size;
	uint8_t *bytes;
};

struct fake {
	struct region r[MAX_REGIONS];
	struct go_layout l; /* the truth: where the fields are */
	uint64_t head;
	pid_t tids[NM + 1];
	struct gom_g gs[NGS];
	struct gom_gs index; /* gs as the facts hold them, made by facts() */
	struct gom_futex futex[NM + 1];
	size_t nfutex;
	int32_t hint;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *fk = ctx;

	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region *r = &fk->r[i];

		if (addr >= r->base && addr - r->base <= r->size &&
		    r->size - (addr - r->base) >= len) {
			memcpy(buf, r->bytes + (addr - r->base), len);
			return 0;
		}
	}
	return -EFAULT;
}

static bool fake_is_entry(void *ctx, uint64_t pc)
{
	return pc == SYSMON || pc == MSPINNING;
}

static void put(struct fake *fk, uint64_t addr, uint64_t v, size_t width)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (addr >= fk->r[i].base && addr + width <= fk->r[i].base + fk->r[i].size)
			memcpy(fk->r[i].bytes + (addr - fk->r[i].base), &v, width);
}

static uint64_t m_at(int i)
{
	return i == NM ? M0 : M_ADDR(i);
}

/*
 * Ms 0..NM-1 on the heap (0 newest) then m0. M1 runs sysmon; M3, M5 and m0 are in a
 * system call for their goroutines; M0, M2, M4 are idle, parked on m.park, on the idle
 * list (m.schedlink) with m0. m.tls[0] holds each M's current g: the goroutine or the g0.
 */
static void fake_init(struct fake *fk, int go_minor)
{
	struct go_layout *l = &fk->l;

	memset(fk, 0, sizeof(*fk));
	fk->r[0] = (struct region){IMAGE, IMAGE_END - IMAGE, xcalloc(1, IMAGE_END - IMAGE)};
	fk->r[1] = (struct region){HEAP, HEAP_SIZE, xcalloc(1, HEAP_SIZE)};
	golayout__forget_m(l, "");
	l->g_m = G_M;
	l->atomicstatus = G_STATUS;
	l->goid = G_GOID;
	l->allm = 0x5f0000;
	if (go_minor >= 26) { /* runtime.m of Go 1.26 (esbuild's, inferred and checked) */
		l->m_procid = 64;
		l->m_mstartfn = 176;
		l->m_curg = 184;
		l->m_park = 344;
		l->m_alllink = 352;
	} else { /* Go 1.19's, from DWARF */
		l->m_procid = 72;
		l->m_mstartfn = 184;
		l->m_curg = 192;
		l->m_park = 328;
		l->m_alllink = 336;
	}
	l->m_spinning = 276;
	l->m_source = "DWARF";
	fk->hint = l->m_alllink;
	put(fk, SYSMON_FV, SYSMON, 8);
	put(fk, SPIN_FV, MSPINNING, 8);
	fk->head = m_at(0);
	/* sorted as the facts want them: m0's tid (the pid) first */
	fk->tids[0] = PID;
	for (int i = 0; i <= NM; i++) {
		uint64_t m = m_at(i), g0 = i == NM ? M0_G0 : G0(i), g = G(i);
		bool syscall = i == 3 || i == 5 || i == NM, idle = i == 0 || i == 2 || i == 4;
		pid_t tid = i == NM ? PID : PID + 10 + i;

		if (i < NM)
			fk->tids[i + 1] = tid;
		put(fk, m, g0, 8);
		put(fk, g0 + G_M, m, 8);
		put(fk, m + (uint64_t)l->m_alllink, i < NM ? m_at(i + 1) : 0, 8);
		put(fk, m + (uint64_t)l->m_procid, (uint64_t)tid, 8);
		put(fk, m + (uint64_t)l->m_mstartfn, i == 1 ? SYSMON_FV : idle ? SPIN_FV : 0, 8);
		put(fk, m + 128, syscall ? g : g0,
		    8); /* m.tls[0]: at 136 in Go 1.19, 128 in 1.26 */
		put(fk, m + 136, syscall ? g : g0, 8);
		if (syscall)
			put(fk, m + (uint64_t)l->m_curg, g, 8);
		/* goroutines in address order, as the facts want them; m0's is the main one */
		fk->gs[i] = (struct gom_g){g, syscall ? m : 0, syscall ? GO_SYSCALL : GO_WAITING};
		put(fk, g + G_M, fk->gs[i].m, 8);
		put(fk, g + G_STATUS, fk->gs[i].status, 4);
		put(fk, g + G_GOID, i == NM ? 1 : 100 + (uint64_t)i, 8);
		if (idle) { /* the idle list: M0 -> M2 -> M4 -> m0, which ends it */
			put(fk, m + (uint64_t)SCHEDLINK(l), i == 4 ? M0 : m_at(i + 2), 8);
			fk->futex[fk->nfutex++] = (struct gom_futex){tid, m + (uint64_t)l->m_park};
		}
	}
}

static void fake_free(struct fake *fk)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		free(fk->r[i].bytes);
	key_index__free(&fk->index.all);
	free(fk->index.busy);
	memset(&fk->index, 0, sizeof(fk->index));
}

static struct gom_facts facts(struct fake *fk, bool hints)
{
	fk->index.nbusy = 0;
	key_index__reset(&fk->index.all, NGS);
	for (int i = 0; i < NGS; i++)
		gom_gs__add(&fk->index, fk->gs[i].g, fk->gs[i].m, fk->gs[i].status);
	key_index__sort(&fk->index.all);
	return (struct gom_facts){
		.read = fake_read,
		.is_entry = fake_is_entry,
		.ctx = fk,
		.pid = PID,
		.image_lo = IMAGE,
		.image_hi = IMAGE_END,
		.sysmon = SYSMON,
		.head = fk->head,
		.tids = fk->tids,
		.ntids = NM + 1,
		.gs = &fk->index,
		.futex = fk->futex,
		.nfutex = fk->nfutex,
		.hints = hints ? &fk->hint : NULL,
		.nhints = hints ? 1 : 0,
	};
}

/* Infers a layout from the fake and compares it with the truth. */
static void infer_and_compare(struct fake *fk, bool hints, const char *what)
{
	struct gom_facts f = facts(fk, hints);
	struct go_layout l = fk->l;
	char why[128] = "";

	golayout__forget_m(&l, "");
	l.allm = fk->l.allm;
	if (!UNIT_CHECK(gominfer__infer(&f, &l, why, sizeof(why)) == 0, "%s: %s", what, why))
		return;
	ASSERT_EQ(l.m_alllink, fk->l.m_alllink);
	ASSERT_EQ(l.m_procid, fk->l.m_procid);
	ASSERT_EQ(l.m_mstartfn, fk->l.m_mstartfn);
	ASSERT_EQ(l.m_curg, fk->l.m_curg); /* not m.tls[0], which holds the same goroutines */
	ASSERT_EQ(l.m_park, fk->l.m_park);
	ASSERT_EQ(l.m_spinning, -1); /* DWARF only */
	ASSERT_EQ(l.allm, fk->l.allm);
	ASSERT_STREQ(l.m_source, "inferred");
	ASSERT_STREQ(l.m_problem, "");
}

static void test_infer(void)
{
	struct fake fk;

	for (int minor = 19; minor <= 26; minor += 7) {
		fake_init(&fk, minor);
		infer_and_compare(&fk, true, "with the code's hint");
		infer_and_compare(&fk, false, "without hints");
		fake_free(&fk);
	}
}

static void test_check(void)
{
	struct fake fk;
	struct go_layout l;
	char why[128] = "";

	fake_init(&fk, 19);
	struct gom_facts f = facts(&fk, false);

	ASSERT_EQ(gominfer__check(&f, &fk.l, why, sizeof(why)), 0);
	l = fk.l;
	l.m_procid += 8; /* gsignal */
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "m.procid") != NULL);
	l = fk.l;
	l.m_curg = 136; /* m.tls[0]: the goroutine while it runs, the g0 in the scheduler */
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "m.curg") != NULL);
	l = fk.l;
	l.m_alllink = SCHEDLINK(&fk.l); /* the idle list ends at m0 too */
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "running goroutine's M") != NULL);
	l = fk.l;
	l.m_mstartfn = 0; /* m.g0: no function */
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	l = fk.l;
	l.m_spinning = 72; /* the low byte of a thread id is no bool */
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	fake_free(&fk);
}

/* What cannot be proved now is left unknown, with the reason. */
static void test_unknown(void)
{
	struct fake fk;
	struct go_layout l;
	struct gom_facts f;
	char why[128] = "";

	/* nothing runs or is in a system call: m.curg has no evidence */
	fake_init(&fk, 19);
	for (int i = 0; i < NGS; i++)
		fk.gs[i].status = GO_WAITING;
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), 0);
	ASSERT_EQ(l.m_curg, -1);
	ASSERT_EQ(l.m_procid, fk.l.m_procid);
	ASSERT_TRUE(strstr(l.m_problem, "m.curg unknown") != NULL);
	/* and no running goroutine's M tells the list of all Ms from the idle list, which
	 * ends at m0 too: the code's hint does, and without it neither is taken */
	ASSERT_EQ(l.m_alllink, fk.l.m_alllink);
	f = facts(&fk, false);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), -ENODATA);
	ASSERT_TRUE(strstr(why, "2 offsets hold a list") != NULL);
	ASSERT_TRUE(l.m_source == NULL);
	fake_free(&fk);

	/* every busy goroutine is locked to its thread: m.lockedg holds what m.curg does */
	fake_init(&fk, 19);
	for (int i = 0; i < NGS; i++)
		if (fk.gs[i].m)
			put(&fk, fk.gs[i].m + (uint64_t)LOCKEDG(&fk.l), fk.gs[i].g, 8);
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), 0);
	ASSERT_EQ(l.m_curg, -1);
	ASSERT_TRUE(strstr(l.m_problem, "two offsets") != NULL);
	fake_free(&fk);

	/* two sysmons: not the real m.mstartfn */
	fake_init(&fk, 19);
	put(&fk, M_ADDR(2) + (uint64_t)fk.l.m_mstartfn, SYSMON_FV, 8);
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), 0);
	ASSERT_EQ(l.m_mstartfn, -1);
	ASSERT_TRUE(strstr(l.m_problem, "m.mstartfn unknown") != NULL);
	fake_free(&fk);

	/* no M parked on its note */
	fake_init(&fk, 19);
	fk.nfutex = 0;
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), 0);
	ASSERT_EQ(l.m_park, -1);
	fake_free(&fk);

	/* m0 not the main thread: no m.procid */
	fake_init(&fk, 19);
	put(&fk, M0 + (uint64_t)fk.l.m_procid, PID + 99, 8);
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), -ENODATA);
	ASSERT_TRUE(strstr(why, "m.procid") != NULL);
	ASSERT_TRUE(l.m_source == NULL && l.m_alllink == -1 && l.m_procid == -1);
	fake_free(&fk);

	/* the runtime has not started its threads: m0 alone */
	fake_init(&fk, 19);
	fk.head = M0;
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), -ENODATA);
	ASSERT_TRUE(strstr(why, "not started") != NULL);
	ASSERT_EQ(gominfer__check(&f, &fk.l, why, sizeof(why)), -ENODATA);
	fk.head = 0;
	f = facts(&fk, true);
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), -ENODATA);
	fake_free(&fk);
}

/* A list that loops, runs off into unmapped memory or never ends proves nothing. */
static void test_walk(void)
{
	struct fake fk;
	struct go_layout l;
	struct gom_facts f;
	struct go_ms ms;
	char why[128] = "";

	fake_init(&fk, 19);
	ASSERT_EQ(go_ms__walk(fake_read, &fk, fk.head, fk.l.m_alllink, 512, GO_MAX_MS, &ms), 0);
	ASSERT_EQ(ms.n, NM + 1);
	ASSERT_EQ(ms.addr[NM], M0);
	ASSERT_EQ(go_ms__word(&ms, NM, fk.l.m_procid, 8), PID);
	ASSERT_EQ(go_ms__word(&ms, NM, 600, 8), 0); /* outside the window */
	go_ms__free(&ms);
	ASSERT_EQ(go_ms__walk(fake_read, &fk, fk.head, fk.l.m_alllink, 512, 3, &ms), -E2BIG);
	ASSERT_EQ(go_ms__walk(fake_read, &fk, fk.head, 508, 512, GO_MAX_MS, &ms), -EINVAL);

	put(&fk, M0 + (uint64_t)fk.l.m_alllink, M_ADDR(2), 8); /* m0 -> M2: a loop */
	ASSERT_EQ(go_ms__walk(fake_read, &fk, fk.head, fk.l.m_alllink, 512, GO_MAX_MS, &ms),
		  -ELOOP);
	ASSERT_EQ(ms.n, 0);
	f = facts(&fk, true);
	l = fk.l;
	ASSERT_EQ(gominfer__check(&f, &l, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "loops") != NULL);
	ASSERT_EQ(gominfer__infer(&f, &l, why, sizeof(why)), -ENODATA);
	ASSERT_TRUE(strstr(why, "m.alllink") != NULL);

	put(&fk, M0 + (uint64_t)fk.l.m_alllink, HEAP + HEAP_SIZE + 0x1000, 8); /* unmapped */
	ASSERT_EQ(go_ms__walk(fake_read, &fk, fk.head, fk.l.m_alllink, 512, GO_MAX_MS, &ms),
		  -EFAULT);
	fake_free(&fk);
}

static void test_syscall_line(void)
{
	long nr;
	uint64_t a0;

	ASSERT_EQ(gominfer__parse_syscall("202 0xc00003d148 0x80 0x0 0x0 0x0 0x0 0x7ffd 0x46\n",
					  &nr, &a0),
		  0);
	ASSERT_EQ(nr, 202);
	ASSERT_EQ(a0, 0xc00003d148ULL);
	ASSERT_EQ(gominfer__parse_syscall("0 0x5 0xc00003af97 0x1 0x0 0x0 0x0 0xc0 0x4", &nr, &a0),
		  0);
	ASSERT_EQ(nr, 0);
	ASSERT_EQ(a0, 5);
	ASSERT_EQ(gominfer__parse_syscall("running\n", &nr, &a0), -EINVAL);
	ASSERT_EQ(gominfer__parse_syscall("-1 0x7ffd 0x46\n", &nr, &a0), -EINVAL);
	ASSERT_EQ(gominfer__parse_syscall("", &nr, &a0), -EINVAL);
	ASSERT_EQ(gominfer__parse_syscall("202 0xzz", &nr, &a0), -EINVAL);
	ASSERT_EQ(gominfer__parse_syscall("202", &nr, &a0), -EINVAL);
}

static void test_roles(void)
{
	struct go_layout l;
	struct go_thread t = {.tid = 7, .spinning = -1};

	golayout__forget_m(&l, "");
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_UNKNOWN); /* no m.curg: cannot say */
	t.start = "runtime.sysmon";
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_SYSMON); /* its start function says */
	l.m_curg = 192;
	t.start = "runtime.templateThread";
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_TEMPLATE);
	t.start = "runtime.mspinning"; /* how it started, not what it does now */
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_IDLE);
	t.spinning = 1;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_SPINNING);
	t.curg = 0xc000001000;
	t.status = GO_SYSCALL | GO_SCAN;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_SYSCALL);
	t.status = GO_RUNNING;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_RUNNING);
	t.status = GO_WAITING;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_SWITCHING);
	t.status = GO_DEAD;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_EXTRA);
	t.status = GO_DEAD_EXTRA;
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_EXTRA);
	t = (struct go_thread){.spinning = 0};
	ASSERT_EQ(go_thread__role(&t, &l), GO_M_NO_THREAD);
	ASSERT_STREQ(go_thread_role__name(GO_M_SYSCALL), "syscall");
	ASSERT_STREQ(go_thread_role__name(GO_M_EXTRA), "cgo extra M");
	ASSERT_STREQ(go_thread_role__name((enum go_thread_role)99), "unknown");
}

int main(void)
{
	test_infer();
	test_check();
	test_unknown();
	test_walk();
	test_syscall_line();
	test_roles();
	return unit_summary();
}
