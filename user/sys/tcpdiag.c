// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sys/tcpdiag.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* include/net/tcp_states.h: mini-sockets without an inode, which have no tcp_info */
#define TCP_SYN_RECV_STATE     3
#define TCP_TIME_WAIT_STATE    6
#define TCP_NEW_SYN_RECV_STATE 12
#define TCP_LISTEN_STATE       10

/* The kernel fills a dump buffer up to the largest recvmsg length seen, capped near 32 KiB
 * (net/netlink/af_netlink.c); twice that leaves room, and MSG_TRUNC is still checked. */
#define DIAG_BUF_SIZE (64 * 1024)

/* what an errno can be (include/linux/err.h): a status past it is garbage */
#define MAX_ERRNO 4095

#define INFO_END(f) (offsetof(struct tcp_info, f) + sizeof(((struct tcp_info *)0)->f))

/* How far into tcp_info a kernel must have written for each group of fields to be real. */
static const struct {
	size_t end;
	unsigned int bit;
} info_fields[] = {
	{INFO_END(tcpi_last_ack_recv), TCPDIAG_HAVE_LAST},
	{INFO_END(tcpi_unacked), TCPDIAG_HAVE_UNACKED},
	{INFO_END(tcpi_bytes_received), TCPDIAG_HAVE_BYTES},
	{INFO_END(tcpi_data_segs_out), TCPDIAG_HAVE_SEGS},
	{INFO_END(tcpi_bytes_sent), TCPDIAG_HAVE_BYTES_SENT},
};

static int cmp_inode(const void *a, const void *b)
{
	const struct tcp_diag *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

void tcpdiag__sort(struct tcp_diag *socks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		socks[i] = (struct tcp_diag){.inode = socks[i].inode};
	if (n > 1)
		qsort(socks, n, sizeof(*socks), cmp_inode);
}

/* The first entry of socks for inode (several fds may share a socket), or NULL. */
static struct tcp_diag *first_of(struct tcp_diag *socks, size_t n, uint64_t inode)
{
	struct tcp_diag key = {.inode = inode}, *hit;

	if (!inode || !n)
		return NULL;
	hit = bsearch(&key, socks, n, sizeof(*socks), cmp_inode);
	while (hit && hit > socks && hit[-1].inode == inode)
		hit--;
	return hit;
}

static void fill(struct tcp_diag *d, const struct inet_diag_msg *m, const struct tcp_info *ti,
		 size_t info_len)
{
	*d = (struct tcp_diag){.inode = d->inode, .at_ns = d->at_ns};
	d->found = true;
	d->family = m->idiag_family;
	d->state = m->idiag_state;
	d->rqueue = m->idiag_rqueue;
	d->wqueue = m->idiag_wqueue;
	for (size_t i = 0; i < ARRAY_SIZE(info_fields); i++)
		if (info_len >= info_fields[i].end)
			d->have |= info_fields[i].bit;
	/* a group cut short by the end of what was sent reads 0 as a whole, as one not sent */
	if (d->have & TCPDIAG_HAVE_LAST) {
		d->last_data_sent_ms = ti->tcpi_last_data_sent;
		d->last_data_recv_ms = ti->tcpi_last_data_recv;
		d->last_ack_recv_ms = ti->tcpi_last_ack_recv;
	}
	if (d->have & TCPDIAG_HAVE_UNACKED)
		d->unacked = ti->tcpi_unacked;
	if (d->have & TCPDIAG_HAVE_BYTES) {
		d->bytes_acked = ti->tcpi_bytes_acked;
		d->bytes_received = ti->tcpi_bytes_received;
	}
	if (d->have & TCPDIAG_HAVE_SEGS) {
		d->data_segs_in = ti->tcpi_data_segs_in;
		d->data_segs_out = ti->tcpi_data_segs_out;
	}
	if (d->have & TCPDIAG_HAVE_BYTES_SENT)
		d->bytes_sent = ti->tcpi_bytes_sent;
}

/* One inet_diag_msg and its attributes (len: the payload's length, already within the
 * buffer). 0 or -EBADMSG. */
static int parse_socket(const uint8_t *p, size_t len, struct tcp_diag *socks, size_t n)
{
	struct inet_diag_msg m;
	struct tcp_info ti;
	size_t off = NLMSG_ALIGN(sizeof(m)), info_len = 0;
	struct tcp_diag *d;

	if (len < sizeof(m))
		return -EBADMSG;
	memcpy(&m, p, sizeof(m)); /* the buffer may not be aligned for it */
	memset(&ti, 0, sizeof(ti));
	while (off < len) {
		struct rtattr a;

		if (len - off < sizeof(a))
			return -EBADMSG;
		memcpy(&a, p + off, sizeof(a));
		if (a.rta_len < sizeof(a) || a.rta_len > len - off)
			return -EBADMSG;
		if ((a.rta_type & NLA_TYPE_MASK) == INET_DIAG_INFO) {
			/* an older kernel's tcp_info is shorter, a newer one's longer: take what
			 * both know of */
			info_len = a.rta_len - RTA_LENGTH(0);
			if (info_len > sizeof(ti))
				info_len = sizeof(ti);
			memset(&ti, 0, sizeof(ti));
			memcpy(&ti, p + off + RTA_LENGTH(0), info_len);
		}
		/* the last attribute's padding may be left out */
		off += RTA_ALIGN((size_t)a.rta_len) < len - off ? RTA_ALIGN((size_t)a.rta_len)
								: len - off;
	}
	for (d = first_of(socks, n, m.idiag_inode); d && d < socks + n && d->inode == m.idiag_inode;
	     d++)
		fill(d, &m, &ti, info_len);
	return 0;
}

int tcpdiag__parse(const void *buf, size_t len, struct tcp_diag *socks, size_t n, bool *done)
{
	const uint8_t *p = buf;
	size_t off = 0;
	int count = 0, err;

	*done = false;
	while (off < len) {
		struct nlmsghdr h;
		size_t step;

		if (len - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p + off, sizeof(h));
		if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off)
			return -EBADMSG;
		switch (h.nlmsg_type) {
		case NLMSG_DONE:
			/* a dump's end carries its status; a negative one is an error */
			*done = true;
			if (h.nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
				memcpy(&err, p + off + NLMSG_HDRLEN, sizeof(err));
				if (err < 0)
					return err >= -MAX_ERRNO ? err : -EBADMSG;
			}
			return count;
		case NLMSG_ERROR:
			if (h.nlmsg_len < NLMSG_HDRLEN + sizeof(int))
				return -EBADMSG;
			memcpy(&err, p + off + NLMSG_HDRLEN, sizeof(err));
			if (err > 0 || err < -MAX_ERRNO)
				return -EBADMSG;
			if (!err) { /* an acknowledgement: nothing more comes */
				*done = true;
				return count;
			}
			return err;
		case SOCK_DIAG_BY_FAMILY:
			err = parse_socket(p + off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN,
					   socks, n);
			if (err)
				return err;
			count++;
			break;
		default: /* NLMSG_NOOP and what a later kernel may add */
			break;
		}
		step = NLMSG_ALIGN((size_t)h.nlmsg_len);
		off += step < len - off ? step : len - off;
	}
	return count;
}

/* A netlink socket of the network namespace of pid (0: strand's). The socket stays in the
 * namespace it was made in, so the calling thread is in pid's only while making it. */
static int diag_socket(pid_t pid)
{
	struct stat st_target, st_self;
	int target, self, fd = -1, err = 0;
	bool moved = false;
	char path[64];

	/* strand's own is its main thread's, not necessarily the calling thread's: see below */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid > 0 ? pid : getpid());
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* the thread's own namespace, which is what setns changes */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		close(target);
		return err;
	}
	if (fstat(target, &st_target) || fstat(self, &st_self))
		err = -errno;
	else if (st_target.st_dev != st_self.st_dev || st_target.st_ino != st_self.st_ino) {
		err = setns(target, CLONE_NEWNET) ? -errno : 0;
		moved = !err;
	}
	if (!err) {
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		err = fd < 0 ? -errno : 0;
	}
	/* Should this fail, the thread stays in pid's namespace. Later queries still read the
	 * right one: each compares its target's (strand's main thread's for pid 0) with the
	 * calling thread's, and moves when they differ. */
	if (moved && setns(self, CLONE_NEWNET)) {
		say("tcpdiag: cannot return to strand's own network namespace: %s",
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		err = -EIO;
	}
	close(target);
	close(self);
	return err ? err : fd;
}

/* A request for family's sockets: all of them (id NULL, a dump), or the one at id. */
static int send_request(int fd, uint8_t family, uint32_t seq, const struct inet_diag_sockid *id)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh =
			{
				.nlmsg_len = sizeof(req),
				.nlmsg_type = SOCK_DIAG_BY_FAMILY,
				.nlmsg_flags = NLM_F_REQUEST | (id ? 0 : NLM_F_DUMP),
				.nlmsg_seq = seq,
			},
		.r =
			{
				.sdiag_family = family,
				.sdiag_protocol = IPPROTO_TCP,
				.idiag_ext = 1u << (INET_DIAG_INFO - 1),
				/* every state with a full socket behind it */
				.idiag_states =
					~((1u << TCP_SYN_RECV_STATE) | (1u << TCP_TIME_WAIT_STATE) |
					  (1u << TCP_NEW_SYN_RECV_STATE)),
			},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	if (id)
		req.r.id = *id;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* Reads the reply to a request to its end: the dump's end, or a lookup's one message. */
static int read_reply(int fd, bool dump, uint8_t *buf, struct tcp_diag *socks, size_t n)
{
	bool done = false;
	int err = 0;

	while (!err && !done) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, DIAG_BUF_SIZE};
		struct msghdr msg = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t len = recvmsg(fd, &msg, 0);
		int got;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (msg.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue; /* not from the kernel */
		if (len == 0)
			return -EBADMSG;
		got = tcpdiag__parse(buf, (size_t)len, socks, n, &done);
		if (got < 0)
			err = got;
		else if (!dump && got > 0)
			done = true;
	}
	return err;
}

/* The netlink socket for a request, with a bound on how long its reply may take. */
static int open_request(pid_t netns_of)
{
	/* a reply that never comes must not hang strand */
	struct timeval timeout = {.tv_sec = 2};
	int fd = diag_socket(netns_of), err;

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int tcpdiag__query(pid_t netns_of, struct tcp_diag *socks, size_t n)
{
	static const uint8_t families[] = {AF_INET, AF_INET6};
	uint8_t *buf;
	int fd, err = 0;

	tcpdiag__sort(socks, n);
	fd = open_request(netns_of);
	if (fd < 0)
		return fd;
	buf = xcalloc(1, DIAG_BUF_SIZE);
	for (size_t f = 0, left = n; f < ARRAY_SIZE(families) && !err && left; f++) {
		uint64_t at = now_mono_ns();

		err = send_request(fd, families[f], (uint32_t)f + 1, NULL);
		if (!err)
			err = read_reply(fd, true, buf, socks, n);
		/* a kernel without IPv6 has no table to dump: no IPv6 sockets */
		if (err == -ENOENT && families[f] == AF_INET6)
			err = 0;
		else if (err == -ENOENT)
			err = -EOPNOTSUPP; /* no inet_diag in this kernel */
		/* each dump walks every bucket of the machine's table: skip the IPv6 one when
		 * the IPv4 one found every socket asked about */
		for (size_t i = 0; i < n; i++)
			if (socks[i].found && !socks[i].at_ns) {
				socks[i].at_ns = at;
				left--;
			}
	}
	free(buf);
	close(fd);
	return err;
}

int tcpdiag__lookup(pid_t netns_of, const struct tcp_endpoints *ep, struct tcp_diag *d)
{
	struct inet_diag_sockid id = {
		.idiag_sport = htons(ep->local_port),
		.idiag_dport = htons(ep->peer_port),
		.idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE},
	};
	size_t alen = ep->family == AF_INET ? 4 : 16;
	struct tcp_diag got = {.inode = d->inode};
	uint64_t at;
	uint8_t *buf;
	int fd, err;

	if ((ep->family != AF_INET && ep->family != AF_INET6) || !d->inode)
		return -EINVAL;
	memcpy(id.idiag_src, ep->local, alen);
	memcpy(id.idiag_dst, ep->peer, alen);
	fd = open_request(netns_of);
	if (fd < 0)
		return fd;
	buf = xcalloc(1, DIAG_BUF_SIZE);
	at = now_mono_ns();
	err = send_request(fd, ep->family, 1, &id);
	if (!err)
		err = read_reply(fd, false, buf, &got, 1);
	free(buf);
	close(fd);
	if (err)
		return err;
	/* the addresses may belong to a newer socket than the one asked about */
	if (!got.found)
		return -ENOENT;
	got.at_ns = at;
	*d = got;
	return 0;
}

enum tcp_speaker tcpdiag__last_speaker(const struct tcp_diag *d)
{
	bool sent, received;

	/* a listener's queues are connections, not data */
	if (!d->found || d->state == TCP_LISTEN_STATE || !(d->have & TCPDIAG_HAVE_LAST) ||
	    !(d->have & TCPDIAG_HAVE_SEGS))
		return TCP_SPEAKER_UNKNOWN;
	/* data written but never sent (a zero window) is still ours to say */
	if (d->wqueue && !d->data_segs_out)
		return TCP_SPEAKER_US;
	sent = d->data_segs_out > 0;
	received = d->data_segs_in > 0;
	if (!sent && !received)
		return TCP_SPEAKER_NONE;
	if (!received)
		return TCP_SPEAKER_US;
	if (!sent)
		return TCP_SPEAKER_PEER;
	if (d->last_data_sent_ms == d->last_data_recv_ms)
		return TCP_SPEAKER_TIE;
	/* ages: the smaller is the more recent */
	return d->last_data_sent_ms < d->last_data_recv_ms ? TCP_SPEAKER_US : TCP_SPEAKER_PEER;
}

const char *tcp_speaker__name(enum tcp_speaker s)
{
	switch (s) {
	case TCP_SPEAKER_NONE:
		return "none";
	case TCP_SPEAKER_US:
		return "us";
	case TCP_SPEAKER_PEER:
		return "peer";
	case TCP_SPEAKER_TIE:
		return "tie";
	default:
		return "unknown";
	}
}

void tcpdiag__format(const struct tcp_diag *d, char *buf, size_t size)
{
	enum tcp_speaker who = tcpdiag__last_speaker(d);
	uint64_t sent = d->have & TCPDIAG_HAVE_BYTES_SENT ? d->bytes_sent : 0;
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	if (!size || who == TCP_SPEAKER_UNKNOWN)
		return;
	if (!d->data_segs_out)
		len = (size_t)snprintf(buf, size, "we have sent nothing");
	else if (d->have & TCPDIAG_HAVE_BYTES_SENT)
		len = (size_t)snprintf(buf, size, "we sent %llu bytes, the last %.1f s ago",
				       (unsigned long long)sent, d->last_data_sent_ms / 1e3);
	else
		len = (size_t)snprintf(buf, size, "we sent %u segments, the last %.1f s ago",
				       d->data_segs_out, d->last_data_sent_ms / 1e3);
	if (len < size && d->wqueue)
		len += (size_t)snprintf(buf + len, size - len, " (%u not yet acknowledged)",
					d->wqueue);
	if (len < size && !d->data_segs_in)
		len += (size_t)snprintf(buf + len, size - len, "; the peer has sent nothing");
	else if (len < size)
		len += (size_t)snprintf(
			buf + len, size - len, "; the peer sent %llu bytes, the last %.1f s ago",
			(unsigned long long)d->bytes_received, d->last_data_recv_ms / 1e3);
	if (len < size && who == TCP_SPEAKER_TIE)
		snprintf(buf + len, size - len, " (both in the same tick: order unknown)");
}
