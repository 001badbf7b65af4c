// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of epoll fdinfo parsing and of reading Go's poll descriptors, on epoll sets
 * this test makes in itself, laid out the way the Go runtime lays them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "go/golayout.h"
#include "go/gonetpoll.h"
#include "lib/util.h"
#include "sys/fdinfo.h"
#include "unit.h"

/* /proc/PID/fdinfo/5 of a Go 1.19 program (plain pointers; fd 6 is the runtime's wakeup
 * pipe) and of esbuild built with Go 1.26 (tagged pointers), with lines that are not
 * entries, and garbage. */
static const char *const fdinfo_lines[] = {
	"pos:\t0\n",
	"flags:\t02000002\n",
	"mnt_id:\t17\n",
	"ino:\t20\n",
	"tfd:        3 events: 8000201d data:     7f9875fb3f48  pos:0 ino:3143 sdev:9\n",
	"tfd:        6 events:       19 data:           8e3bc8  pos:0 ino:3147 sdev:f\n",
	"tfd:        3 events: 8000201d data: 3ff753a184000002  pos:0 ino:3234 sdev:9\n",
	"tfd: 12 events: 1d data: 0\n",		       /* an old kernel: no pos, ino, sdev */
	"tfd: 12 events: 1d data: 7f00",	       /* no newline at the end of the file */
	"tfd:       -1 events: 19 data: 8e3bc8\n",     /* garbage from here on */
	"tfd: 99999999999 events: 19 data: 8e3bc8\n",  /* past any fd */
	"tfd: 3 events: 100000000 data: 8e3bc8\n",     /* past 32 bits */
	"tfd: 3 events: 19 data: 1ffffffffffffffff\n", /* past 64 bits */
	"tfd: 3 events: 19 data: 8e3bc8zz\n",
	"tfd: 3 events: 19\n",
	"tfd: x events: 19 data: 1\n",
	"data: 8e3bc8 tfd: 3 events: 19\n",
	"tfd:\n",
	"",
	"\n",
	"eventfd-count:  0\n",
};

static void test_parse_epoll_lines(void)
{
	struct epoll_entry e;
	int ok = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fdinfo_lines); i++)
		ok += !fdinfo__parse_epoll_line(fdinfo_lines[i], &e);
	ASSERT_EQ(ok, 5);
	ASSERT_EQ(fdinfo__parse_epoll_line(fdinfo_lines[4], &e), 0);
	ASSERT_EQ(e.tfd, 3);
	ASSERT_EQ(e.events, 0x8000201d);
	ASSERT_EQ(e.data, 0x7f9875fb3f48ULL);
	ASSERT_EQ(fdinfo__parse_epoll_line(fdinfo_lines[5], &e), 0);
	ASSERT_EQ(e.tfd, 6);
	ASSERT_EQ(e.events, 0x19);
	ASSERT_EQ(e.data, 0x8e3bc8);
	ASSERT_EQ(fdinfo__parse_epoll_line(fdinfo_lines[6], &e), 0);
	ASSERT_EQ(e.data, 0x3ff753a184000002ULL);
	ASSERT_EQ(fdinfo__parse_epoll_line(fdinfo_lines[7], &e), 0);
	ASSERT_TRUE(e.tfd == 12 && e.data == 0);
	ASSERT_EQ(fdinfo__parse_epoll_line(fdinfo_lines[8], &e), 0);
	ASSERT_EQ(e.data, 0x7f00);
}

static void test_decode(void)
{
	char buf[160];

	/* Go 1.19: the pointer itself */
	ASSERT_EQ(go_pd__decode(0x7f9875fb3f48ULL, GO_PD_PLAIN), 0x7f9875fb3f48ULL);
	/* Go 1.22 (esbuild 0.23.1): address << 16 | fdseq */
	ASSERT_EQ(go_pd__decode(0x7f816148e8780002ULL, GO_PD_TAG16_ALIGN8), 0x7f816148e878ULL);
	/* Go 1.26 (esbuild 0.28.2): address << 15 | fdseq, 512-byte aligned */
	ASSERT_EQ(go_pd__decode(0x3ff753a184000002ULL, GO_PD_TAG15_ALIGN512), 0x7feea7430800ULL);
	ASSERT_EQ(go_pd__decode(0x3ff753a184000002ULL, GO_PD_TAG15_ALIGN8), 0x7feea7430800ULL);
	/* a tag past 18 bits reaches the address bits only the 512-byte alignment clears */
	ASSERT_EQ(go_pd__decode(0x3ff753a184000002ULL | (1ULL << 20), GO_PD_TAG15_ALIGN512),
		  0x7feea7430800ULL);
	ASSERT_TRUE(go_pd__decode(0x3ff753a184000002ULL | (1ULL << 20), GO_PD_TAG15_ALIGN8) !=
		    0x7feea7430800ULL);
	/* what is no user address decodes to nothing */
	ASSERT_EQ(go_pd__decode(0x3ff753a184000002ULL, GO_PD_PLAIN), 0);
	ASSERT_EQ(go_pd__decode(0x800, GO_PD_PLAIN), 0);
	ASSERT_EQ(go_pd__decode(0x8e3bc8, GO_PD_TAG16_ALIGN8), 0); /* below 4096 */
	ASSERT_EQ(go_pd__decode(1, 1u << 30), 0);
	ASSERT_STREQ(go_pd__describe(GO_PD_PLAIN, buf, sizeof(buf)), "plain pointer");
	ASSERT_STREQ(go_pd__describe(0, buf, sizeof(buf)), "none");
	ASSERT_STREQ(go_pd__describe(GO_PD_TAG15_ALIGN8 | GO_PD_TAG15_ALIGN512, buf, sizeof(buf)),
		     "tagged pointer (address << 15) or tagged pointer (address << 15, 512-byte "
		     "aligned)");
}

/* A pollDesc as Go 1.21+ lays it out: link, fd, fdseq, atomicInfo, rg, wg, ... */
struct fake_pd {
	uint64_t link, fd, fdseq, info, rg, wg, rest[58];
} __attribute__((aligned(512)));

struct fake_runtime {
	struct fake_pd pd[3];
	uint64_t wakeup_fd; /* netpollBreakRd, netpollEventFd: holds the wakeup fd */
	int epfd, pipes[2][2], wakeup[2];
};

static int add(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};

	ev.data.u64 = data;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Registers fds the way netpollopen does under decoder (plain or Go 1.25+'s tags). */
static int fake_setup(struct fake_runtime *rt, bool tagged)
{
	int fds[3];

	memset(rt, 0, sizeof(*rt));
	rt->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rt->epfd < 0 || pipe2(rt->pipes[0], O_NONBLOCK) || pipe2(rt->pipes[1], O_NONBLOCK) ||
	    pipe2(rt->wakeup, O_NONBLOCK))
		return -1;
	fds[0] = rt->pipes[0][0];
	fds[1] = rt->pipes[0][1];
	fds[2] = rt->pipes[1][0];
	rt->wakeup_fd = (uint64_t)rt->wakeup[0];
	if (add(rt->epfd, rt->wakeup[0], (uint64_t)(uintptr_t)&rt->wakeup_fd))
		return -1;
	for (int i = 0; i < 3; i++) {
		uint64_t addr = (uint64_t)(uintptr_t)&rt->pd[i];

		rt->pd[i].fd = (uint64_t)fds[i];
		rt->pd[i].fdseq = 3;
		if (add(rt->epfd, fds[i], tagged ? addr << 15 | rt->pd[i].fdseq : addr))
			return -1;
	}
	return 0;
}

static void fake_teardown(struct fake_runtime *rt)
{
	close(rt->epfd);
	for (int i = 0; i < 2; i++) {
		close(rt->pipes[i][0]);
		close(rt->pipes[i][1]);
		close(rt->wakeup[i]);
	}
}

static void fake_layout(struct go_layout *l, const struct fake_runtime *rt, uint32_t decoders)
{
	memset(l, 0, sizeof(*l));
	l->pd_fd = 8;
	l->pd_rg = 32;
	l->pd_wg = 40;
	l->pd_epfd = rt->epfd;
	l->pd_decoders = decoders;
	l->pd_source = "test";
}

static void test_epoll_entries(void)
{
	static struct fake_runtime rt;
	struct epoll_entry *e = NULL;
	size_t n = 0, more = 1, wakeups = 0;
	int *sets = NULL, found = 0;

	if (!ASSERT_EQ(fake_setup(&rt, false), 0))
		return;
	ASSERT_EQ(fdinfo__epoll_entries(getpid(), rt.epfd, &e, &n, &more), 0);
	ASSERT_EQ(n, 4);
	ASSERT_EQ(more, 0);
	for (size_t i = 0; i < n; i++) {
		wakeups += e[i].tfd == rt.wakeup[0] && e[i].data == (uintptr_t)&rt.wakeup_fd;
		found += e[i].tfd == rt.pipes[1][0] && e[i].data == (uintptr_t)&rt.pd[2];
	}
	ASSERT_EQ(wakeups, 1);
	ASSERT_EQ(found, 1);
	free(e);
	ASSERT_EQ(fdinfo__epoll_fds(getpid(), &sets, &n), 0);
	found = 0;
	for (size_t i = 0; i < n; i++)
		found += sets[i] == rt.epfd;
	ASSERT_EQ(found, 1);
	free(sets);
	ASSERT_EQ(fdinfo__epoll_entries(getpid(), 1 << 20, &e, &n, NULL), -ENOENT);
	fake_teardown(&rt);
}

static void test_netpoll_read(bool tagged)
{
	uint32_t decoders = tagged ? GO_PD_TAG15_ALIGN512 | GO_PD_TAG15_ALIGN8 : GO_PD_PLAIN;
	static struct fake_runtime rt;
	struct go_netwait *w;
	struct go_layout l;
	size_t n, unread, reads = 0, writes = 0;

	if (!ASSERT_EQ(fake_setup(&rt, tagged), 0))
		return;
	rt.pd[0].rg = 0xc000007860; /* a goroutine reading the first pipe's read end */
	rt.pd[1].rg = 1;	    /* pdReady */
	rt.pd[1].wg = 0xc0000ce340; /* one writing its write end */
	rt.pd[2].rg = 2;	    /* pdWait: parking, no goroutine yet */
	fake_layout(&l, &rt, decoders);
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), 0);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(unread, 0);
	for (size_t i = 0; i < n; i++) {
		reads += !w[i].write && w[i].g == 0xc000007860 && w[i].fd == rt.pipes[0][0];
		writes += w[i].write && w[i].g == 0xc0000ce340 && w[i].fd == rt.pipes[0][1];
	}
	ASSERT_EQ(reads, 1);
	ASSERT_EQ(writes, 1);
	free(w);

	/* a pollDesc reused for another fd while it was read: counted, not reported */
	rt.pd[0].fd = 99;
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), 0);
	ASSERT_TRUE(n == 1 && w[0].write);
	ASSERT_EQ(unread, 1);
	free(w);
	/* most of them not holding their fd: the layout no longer fits */
	rt.pd[1].fd = 98;
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), -EBADMSG);
	ASSERT_TRUE(!w && !n);
	rt.pd[0].fd = (uint64_t)rt.pipes[0][0];
	rt.pd[1].fd = (uint64_t)rt.pipes[0][1];
	/* what is no goroutine where one would be parked: not reported */
	rt.pd[2].wg = 0xc0000ce341;
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), 0);
	ASSERT_TRUE(n == 2 && unread == 1);
	free(w);
	/* the other encoding reads nothing that fits */
	fake_layout(&l, &rt, tagged ? GO_PD_PLAIN : GO_PD_TAG16_ALIGN8);
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), -EBADMSG);
	/* a layout not proved is not used */
	fake_layout(&l, &rt, decoders);
	l.pd_source = NULL;
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), -ENODATA);
	/* an fd that is no epoll set */
	fake_layout(&l, &rt, decoders);
	l.pd_epfd = rt.pipes[1][1];
	ASSERT_EQ(go_netpoll__read(getpid(), &l, &w, &n, &unread), -EBADMSG);
	fake_teardown(&rt);
}

int main(void)
{
	test_parse_epoll_lines();
	test_decode();
	test_epoll_entries();
	test_netpoll_read(false);
	test_netpoll_read(true);
	return unit_summary();
}
