// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unwinds this very process: capture() takes its own registers and a copy of its stack, as
 * the BPF program does at a spawn, then the chain main -> level_one -> level_two -> capture
 * must come out of the unwinder, also through glibc's qsort (no frame pointers in Debian's
 * libc: only CFI gets across it) and on a pthread's stack; and a path unwound once is known
 * again only in a copy that holds it.
 */
#include "sym/procmaps.h"
#include "sym/stackmemo.h"
#include "sym/symbolize.h"
#include "sym/unwind.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define noinline __attribute__((noinline, noclone))

struct capture {
	uint64_t regs[STRAND_NREGS];
	uint8_t stack[STRAND_STACK_BYTES];
	uint32_t len;
};

static struct capture cap;
static int level_one_line, sort_caller_line;

/* End of the mapping holding addr: a stack copy must not run past the stack's top. */
static uint64_t mapping_end(uint64_t addr)
{
	char line[512];
	uint64_t end = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct map_line ml;

		if (map_line__parse(line, &ml) == 0 && ml.start <= addr && addr < ml.end) {
			end = ml.end;
			break;
		}
	}
	fclose(f);
	return end;
}

/* Through /proc/self/mem rather than memcpy: the stack has ASan redzones that the
 * sanitizer would (rightly) refuse to let a plain copy read. */
static noinline void copy_stack(void)
{
	uint64_t sp = cap.regs[7], end = mapping_end(sp), len = end > sp ? end - sp : 0;
	int fd = open("/proc/self/mem", O_RDONLY);

	if (len > sizeof(cap.stack))
		len = sizeof(cap.stack);
	cap.len = fd >= 0 && pread(fd, cap.stack, len, (off_t)sp) == (ssize_t)len ? len : 0;
	if (fd >= 0)
		close(fd);
}

static noinline void capture(void)
{
	uint64_t *r = cap.regs;

	__asm__ volatile("movq %%rax, 0(%0)\n\t"
			 "movq %%rdx, 8(%0)\n\t"
			 "movq %%rcx, 16(%0)\n\t"
			 "movq %%rbx, 24(%0)\n\t"
			 "movq %%rsi, 32(%0)\n\t"
			 "movq %%rdi, 40(%0)\n\t"
			 "movq %%rbp, 48(%0)\n\t"
			 "movq %%rsp, 56(%0)\n\t"
			 "movq %%r8, 64(%0)\n\t"
			 "movq %%r9, 72(%0)\n\t"
			 "movq %%r10, 80(%0)\n\t"
			 "movq %%r11, 88(%0)\n\t"
			 "movq %%r12, 96(%0)\n\t"
			 "movq %%r13, 104(%0)\n\t"
			 "movq %%r14, 112(%0)\n\t"
			 "movq %%r15, 120(%0)\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, 128(%0)\n\t"
			 "1:\n\t"
			 :
			 : "r"(r)
			 : "rax", "memory");
	copy_stack();
}

static noinline int level_two(int x)
{
	capture();
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static noinline int level_one(int x)
{
	int r;

	level_one_line = __LINE__, r = level_two(x + 1);
	__asm__ volatile("" ::: "memory");
	return r * 2;
}

static int cmp_int(const void *a, const void *b)
{
	static int calls;

	/* ASan's qsort first calls the comparator on each adjacent pair itself (7 calls here),
	 * then glibc's; a merge sort of 8 makes more than 8 calls, so this one is glibc's. */
	if (calls++ == 7)
		capture();
	return *(const int *)a - *(const int *)b;
}

static noinline int sort_caller(void)
{
	int v[8] = {5, 3, 7, 1, 0, 6, 2, 4};

	sort_caller_line = __LINE__, qsort(v, 8, sizeof(v[0]), cmp_int);
	__asm__ volatile("" ::: "memory");
	return v[0];
}

struct resolved {
	int depth;
	const char *fn[UNWIND_MAX_FRAMES];
	const char *file[UNWIND_MAX_FRAMES];
	const char *module[UNWIND_MAX_FRAMES];
	int line[UNWIND_MAX_FRAMES];
};

/* The real (outermost) function of each frame. */
static void resolve(struct symbolizer *sym, const struct unwound_stack *st, struct resolved *r)
{
	r->depth = st->depth;
	for (int i = 0; i < st->depth; i++) {
		struct sym_frame f[SYM_MAX_INLINE];
		int n = symbolizer__resolve(sym, getpid(), st->pc[i], i > 0, f, SYM_MAX_INLINE);

		r->fn[i] = f[n - 1].function;
		r->file[i] = f[n - 1].file;
		r->line[i] = f[n - 1].line;
		r->module[i] = f[n - 1].module;
	}
}

static int find_fn(const struct resolved *r, const char *name, int from)
{
	for (int i = from; i < r->depth; i++)
		if (r->fn[i] && !strcmp(r->fn[i], name))
			return i;
	return -1;
}

static void dump(const struct unwound_stack *st, const struct resolved *r)
{
	for (int i = 0; i < r->depth; i++)
		fprintf(stderr, "  #%d %#" PRIx64 " slot %d %s %s:%d\n", i, st->pc[i], st->slot[i],
			r->fn[i] ? r->fn[i] : "?", r->file[i] ? r->file[i] : "?", r->line[i]);
}

static void check_slots(const struct unwound_stack *st, int upto)
{
	for (int i = 1; i <= upto && i < st->depth; i++) {
		uint64_t v = 0;

		if (!ASSERT_TRUE(st->slot[i] >= 0 && (uint32_t)st->slot[i] + 8 <= cap.len))
			continue;
		memcpy(&v, cap.stack + st->slot[i], sizeof(v));
		ASSERT_EQ(v, st->pc[i]);
	}
}

static void unwind_capture(struct unwinder *uw, pid_t pid, struct unwound_stack *st)
{
	struct stack_sample s = {
		.pid = pid, .regs = cap.regs, .stack = cap.stack, .stack_len = cap.len};

	ASSERT_EQ(unwinder__unwind(uw, &s, st), 0);
}

static void test_chain(struct unwinder *uw, struct symbolizer *sym, bool in_main)
{
	struct unwound_stack st;
	struct resolved r;
	int two, one, top;

	level_one(1);
	ASSERT_TRUE(cap.len > 0);
	unwind_capture(uw, getpid(), &st);
	resolve(sym, &st, &r);
	two = find_fn(&r, "level_two", 0);
	one = find_fn(&r, "level_one", two + 1);
	top = find_fn(&r, in_main ? "main" : "thread_main", one + 1);
	if (!ASSERT_TRUE(two >= 1 && one > two && top > one)) {
		dump(&st, &r);
		return;
	}
	ASSERT_STREQ(r.fn[0], "capture");
	ASSERT_EQ(r.line[one], level_one_line);
	ASSERT_TRUE(r.file[one] && strstr(r.file[one], "test_unwind.c"));
	check_slots(&st, top);
	if (in_main) /* past main: __libc_start_call_main, inside libc's CFI */
		ASSERT_TRUE(find_fn(&r, "__libc_start_call_main", top + 1) > top);
	else
		ASSERT_TRUE(find_fn(&r, "start_thread", top + 1) > top);
}

/* A path unwound once is known again in a copy with the same return addresses at the same
 * places, and only then: one word changed, another length, another process, or the process
 * forgotten, and it is unwound afresh. */
static void test_memo(struct unwinder *uw)
{
	struct sym_frame frames[3] = {{.pc = 1, .line = 10}, {.pc = 2, .line = 20}, {.pc = 3}};
	struct stack_memo *m = stack_memo__new();
	static uint8_t copy[STRAND_STACK_BYTES];
	struct stack_sample s;
	struct sym_frame *got;
	struct unwound_stack st;
	uint64_t hash = 0;
	int slot, other = -1;

	level_one(1);
	unwind_capture(uw, getpid(), &st);
	memcpy(copy, cap.stack, cap.len);
	s = (struct stack_sample){
		.pid = getpid(), .regs = cap.regs, .stack = copy, .stack_len = cap.len};
	if (!ASSERT_TRUE(st.depth >= 3 && st.slot[1] >= 0 && st.slot[st.depth - 1] >= 0))
		goto out;
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
	stack_memo__add(m, &s, &st, frames, 3, 42);
	if (ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), 3)) {
		ASSERT_TRUE(got[1].pc == 2 && got[1].line == 20 && hash == 42);
		free(got);
	}
	/* a word elsewhere (not a return address's place) changes nothing */
	for (int at = 0; at + 8 <= (int)cap.len && other < 0; at += 8) {
		other = at;
		for (int i = 1; i < st.depth; i++)
			if (st.slot[i] == at)
				other = -1;
	}
	if (ASSERT_TRUE(other >= 0)) {
		copy[other] ^= 0xff;
		if (ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), 3))
			free(got);
	}
	slot = st.slot[st.depth - 1];
	copy[slot] ^= 0xff; /* the outermost return address: another path */
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
	copy[slot] ^= 0xff;
	s.stack_len -= 8;
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
	s.stack_len += 8;
	s.pid = getpid() + 1;
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
	s.pid = getpid();
	stack_memo__forget(m, getpid());
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
	/* a path with a return address not read from the copy is not remembered */
	st.slot[1] = -1;
	stack_memo__add(m, &s, &st, frames, 3, 42);
	ASSERT_EQ(stack_memo__find(m, &s, &got, &hash), -1);
out:
	stack_memo__free(m);
}

static void test_through_qsort(struct unwinder *uw, struct symbolizer *sym)
{
	struct unwound_stack st;
	struct resolved r;
	int cmp, caller, libc = -1;

	sort_caller();
	unwind_capture(uw, getpid(), &st);
	resolve(sym, &st, &r);
	cmp = find_fn(&r, "cmp_int", 0);
	caller = find_fn(&r, "sort_caller", cmp + 1);
	for (int i = cmp + 1; cmp >= 0 && i < caller; i++)
		if (r.module[i] && strstr(r.module[i], "/libc.so"))
			libc = i;
	if (!ASSERT_TRUE(cmp >= 1 && libc > cmp && caller > libc) || getenv("UNIT_VERBOSE")) {
		dump(&st, &r);
		return;
	}
	ASSERT_EQ(r.line[caller], sort_caller_line);
	ASSERT_TRUE(find_fn(&r, "main", caller + 1) > caller);
	check_slots(&st, caller);
}

/* Without a pid there is no CFI: frame pointers (this file has them) must still work. */
static void test_frame_pointers(struct unwinder *uw, struct symbolizer *sym)
{
	struct unwound_stack st;
	struct resolved r;

	level_one(1);
	unwind_capture(uw, 0, &st);
	resolve(sym, &st, &r);
	ASSERT_TRUE(find_fn(&r, "level_one", find_fn(&r, "level_two", 1) + 1) > 0);
	check_slots(&st, 2);
}

static void test_garbage(struct unwinder *uw)
{
	uint64_t regs[STRAND_NREGS];
	struct unwound_stack st;
	struct stack_sample s = {.pid = getpid(), .regs = regs, .stack = cap.stack};

	for (int i = 0; i < STRAND_NREGS; i++)
		regs[i] = 0x4141414141414141ULL * (i + 1);
	ASSERT_EQ(unwinder__unwind(uw, &s, &st), 0);
	ASSERT_TRUE(st.depth >= 1);
	s.stack_len = sizeof(cap.stack);
	memset(cap.stack, 0xff, sizeof(cap.stack));
	regs[7] = 0x1000;
	regs[16] = (uint64_t)&level_two;
	ASSERT_EQ(unwinder__unwind(uw, &s, &st), 0);
	ASSERT_TRUE(st.depth >= 1 && st.depth <= UNWIND_MAX_FRAMES);
	ASSERT_EQ(unwinder__unwind(uw, NULL, &st), -EINVAL);
}

static void bench(struct unwinder *uw)
{
	struct unwound_stack st;
	struct timespec a, b;
	int n = 2000;

	level_one(1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		unwind_capture(uw, getpid(), &st);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("unwind: %.1f us per sample, %d frames\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n / 1e3, st.depth);
}

struct thread_ctx {
	struct unwinder *uw;
	struct symbolizer *sym;
};

static noinline void *thread_main(void *arg)
{
	struct thread_ctx *c = arg;

	test_chain(c->uw, c->sym, false);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

int main(void)
{
	struct proc_maps *pm = proc_maps__new();
	struct unwinder *uw = unwinder__new(pm);
	struct symbolizer *sym = symbolizer__new(pm);
	struct thread_ctx c = {uw, sym};
	pthread_t t;

	test_chain(uw, sym, true);
	test_through_qsort(uw, sym);
	test_memo(uw);
	test_frame_pointers(uw, sym);
	if (ASSERT_EQ(pthread_create(&t, NULL, thread_main, &c), 0))
		pthread_join(t, NULL);
	test_garbage(uw);
	bench(uw);
	symbolizer__free(sym);
	unwinder__free(uw);
	proc_maps__free(pm);
	return unit_summary();
}
