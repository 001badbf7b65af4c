// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sys/fdinfo.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_LISTEN 0x0a /* include/net/tcp_states.h */

static int fd_link(pid_t pid, int fd, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* The open flags of pid's fd (O_ACCMODE bits and more), -1 when unreadable. */
static long fd_flags(pid_t pid, int fd)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if (read_small_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "flags:");
	return p ? strtol(p + 6, NULL, 8) : -1;
}

/* Another fd of pid open for writing on the pipe inode: the pipe cannot report EOF. */
static int find_write_end(pid_t pid, int self_fd, const char *link)
{
	char dir[64], other[128];
	struct dirent *de;
	int found = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)) && found < 0) {
		uint32_t fd;
		long flags;

		if (!parse_u32(de->d_name, &fd) || (int)fd == self_fd)
			continue;
		if (fd_link(pid, (int)fd, other, sizeof(other)) || strcmp(other, link))
			continue;
		flags = fd_flags(pid, (int)fd);
		if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY)
			found = (int)fd;
	}
	closedir(d);
	return found;
}

/* An address as /proc/net/tcp{,6} prints it ("0100007F:1F90", or 32 hex digits for IPv6):
 * the words of the address as they sit in memory, printed as numbers, and the port. */
static bool parse_hex_addr(const char *hex, bool v6, uint8_t addr[16], uint16_t *port)
{
	const char *colon = strchr(hex, ':');
	unsigned int p = 0;

	if (!colon || colon - hex != (v6 ? 32 : 8))
		return false;
	sscanf(colon + 1, "%x", &p);
	if (p > UINT16_MAX)
		return false;
	*port = (uint16_t)p;
	for (int w = 0; w < (v6 ? 4 : 1); w++) {
		char word[9];
		uint32_t v;

		memcpy(word, hex + w * 8, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(&addr[w * 4], &v, 4);
	}
	return true;
}

static void format_addr(bool ok, bool v6, const uint8_t addr[16], uint16_t port, char *out,
			size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (!ok)
		return (void)snprintf(out, size, "?");
	inet_ntop(v6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	snprintf(out, size, v6 ? "[%s]:%u" : "%s:%u", ip, port);
}

struct tcp_entry {
	uint64_t inode, rx_queue, tx_queue;
	char local[80], remote[80];
	int state;
	struct tcp_endpoints ep; /* family 0: the addresses did not parse */
};

static int parse_tcp_entry(const char *line, struct tcp_entry *e)
{
	char l[64], r[64];
	unsigned int st;
	unsigned long long tx, rx, ino;
	bool v6, ok_l, ok_r;
	int n;

	n = sscanf(line, " %*d: %63s %63s %x %llx:%llx %*x:%*x %*x %*u %*u %llu", l, r, &st, &tx,
		   &rx, &ino);
	if (n != 6)
		return -EINVAL;
	e->inode = ino;
	e->state = (int)st;
	e->rx_queue = rx;
	e->tx_queue = tx;
	v6 = strlen(l) > 20;
	memset(&e->ep, 0, sizeof(e->ep));
	ok_l = parse_hex_addr(l, v6, e->ep.local, &e->ep.local_port);
	ok_r = parse_hex_addr(r, strlen(r) > 20, e->ep.peer, &e->ep.peer_port);
	format_addr(ok_l, v6, e->ep.local, e->ep.local_port, e->local, sizeof(e->local));
	format_addr(ok_r, strlen(r) > 20, e->ep.peer, e->ep.peer_port, e->remote,
		    sizeof(e->remote));
	if (ok_l && ok_r && v6 == (strlen(r) > 20))
		e->ep.family = v6 ? AF_INET6 : AF_INET;
	return 0;
}

int fdinfo__parse_tcp_line(const char *line, uint64_t *inode, char *local, size_t local_size,
			   char *remote, size_t remote_size, int *state, uint64_t *rx_queue,
			   uint64_t *tx_queue)
{
	struct tcp_entry e;
	int err = parse_tcp_entry(line, &e);

	if (err)
		return err;
	*inode = e.inode;
	*state = e.state;
	*rx_queue = e.rx_queue;
	*tx_queue = e.tx_queue;
	snprintf(local, local_size, "%s", e.local);
	snprintf(remote, remote_size, "%s", e.remote);
	return 0;
}

static const char *port_of(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	return colon ? colon + 1 : "";
}

struct tcp_state_query {
	struct tcp_state *socks;
	size_t n;
};

/* Calls match on every socket of pid's network namespace (IPv4, then IPv6) until it says
 * stop; returns whether it did. */
static bool find_tcp_entry(pid_t pid, bool (*match)(const struct tcp_entry *, const void *),
			   const void *arg, struct tcp_entry *e)
{
	static const char *const tables[] = {"tcp", "tcp6"};
	bool found = false;

	for (size_t t = 0; t < ARRAY_SIZE(tables) && !found; t++) {
		char path[64], line[512];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, tables[t]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f))
			found = !parse_tcp_entry(line, e) && match(e, arg);
		fclose(f);
	}
	return found;
}

static bool listens_on_port(const struct tcp_entry *e, const void *local)
{
	return e->state == TCP_LISTEN && !strcmp(port_of(e->local), port_of(local));
}

static bool has_inode(const struct tcp_entry *e, const void *inode)
{
	return e->inode == *(const uint64_t *)inode;
}

static void describe_tcp_socket(pid_t pid, uint64_t inode, struct fd_desc *out)
{
	struct tcp_entry e, listener;

	if (!find_tcp_entry(pid, has_inode, &inode, &e))
		return;
	out->tcp = true;
	out->listening = e.state == TCP_LISTEN;
	out->tcp_state = e.state;
	out->rx_queue = e.rx_queue;
	out->tx_queue = e.tx_queue;
	if (out->listening) {
		snprintf(out->text, sizeof(out->text), "TCP listening on %.64s", e.local);
		return;
	}
	snprintf(out->text, sizeof(out->text), "TCP %.64s, peer %.64s", e.local, e.remote);
	/* a socket listening on its local port means it was accepted here */
	out->inbound = find_tcp_entry(pid, listens_on_port, e.local, &listener);
	/* one socket by its addresses; a dump when the lookup cannot name it (an IPv6
	 * link-local peer needs the interface, which /proc/net/tcp6 does not print) */
	out->tcp_diag.inode = inode;
	if (!e.ep.family || tcpdiag__lookup(pid, &e.ep, &out->tcp_diag) == -ENOENT)
		tcpdiag__query(pid, &out->tcp_diag, 1);
	out->spoke_last = tcpdiag__last_speaker(&out->tcp_diag);
}

int fdinfo__identify(pid_t pid, int fd, struct fd_desc *out)
{
	char link[256];
	int err;

	memset(out, 0, sizeof(*out));
	out->write_end_fd = -1;
	out->epoll_fds = -1;
	err = fd_link(pid, fd, link, sizeof(link));
	if (err)
		return err;
	out->flags = fd_flags(pid, fd);
	snprintf(out->text, sizeof(out->text), "%.150s", link);
	if (sscanf(link, "pipe:[%" SCNu64 "]", &out->inode) == 1)
		out->kind = FD_PIPE;
	else if (sscanf(link, "socket:[%" SCNu64 "]", &out->inode) == 1)
		out->kind = FD_SOCKET;
	else if (!strcmp(link, "anon_inode:[eventpoll]"))
		out->kind = FD_EPOLL;
	else if (!strcmp(link, "anon_inode:[eventfd]"))
		out->kind = FD_EVENTFD;
	else if (!strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8))
		out->kind = FD_TTY;
	else if (link[0] == '/')
		out->kind = FD_FILE;
	else
		out->kind = FD_OTHER;
	return 0;
}

int fdinfo__describe(pid_t pid, int fd, struct fd_desc *out)
{
	struct epoll_entry *entries = NULL;
	size_t n = 0, more = 0;
	char link[256];
	int err = fdinfo__identify(pid, fd, out);

	if (err)
		return err;
	switch (out->kind) {
	case FD_PIPE:
		snprintf(link, sizeof(link), "%s", out->text);
		out->write_end_fd = find_write_end(pid, fd, link);
		break;
	case FD_SOCKET:
		describe_tcp_socket(pid, out->inode, out);
		break;
	case FD_EPOLL:
		out->epoll_fds =
			fdinfo__epoll_entries(pid, fd, &entries, &n, &more) ? -1 : (int)(n + more);
		free(entries);
		snprintf(out->text, sizeof(out->text), "epoll set watching %d fd%s", out->epoll_fds,
			 out->epoll_fds == 1 ? "" : "s");
		break;
	default:
		break;
	}
	return 0;
}

static int cmp_tcp_diag(const void *a, const void *b)
{
	const struct tcp_diag *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int cmp_tcp_state(const void *a, const void *b)
{
	const struct tcp_state *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Fills the state of the socket the line is about, when it is one asked for; never stops
 * the walk. */
static bool note_tcp_state(const struct tcp_entry *e, const void *arg)
{
	const struct tcp_state *key = &(struct tcp_state){.inode = e->inode};
	const struct tcp_state_query *q = arg;
	struct tcp_state *found =
		e->inode ? bsearch(key, q->socks, q->n, sizeof(*q->socks), cmp_tcp_state) : NULL;

	if (found) {
		found->state = e->state;
		found->tx_queue = e->tx_queue;
		found->rx_queue = e->rx_queue;
	}
	return false;
}

int fdinfo__tcp_states(pid_t pid, struct tcp_state *socks, size_t n)
{
	struct tcp_state_query q = {socks, n};
	struct tcp_entry e;

	for (size_t i = 0; i < n; i++)
		socks[i].state = 0;
	if (n)
		qsort(socks, n, sizeof(*socks), cmp_tcp_state);
	find_tcp_entry(pid, note_tcp_state, &q, &e);
	return 0;
}

/* Reads "<key> <number>" at *p in the given base; false unless it fits max. */
static bool key_number(const char **p, const char *key, int base, uint64_t max, uint64_t *v)
{
	size_t klen = strlen(key);
	char *end;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (strncmp(*p, key, klen))
		return false;
	*p += klen;
	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (!isxdigit((unsigned char)**p))
		return false;
	errno = 0;
	*v = strtoull(*p, &end, base);
	if (errno || end == *p || *v > max || (*end && *end != ' ' && *end != '\n'))
		return false;
	*p = end;
	return true;
}

int fdinfo__parse_epoll_line(const char *line, struct epoll_entry *e)
{
	uint64_t tfd, events, data;
	const char *p = line;

	/* fs/eventpoll.c: "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x" */
	if (!key_number(&p, "tfd:", 10, INT32_MAX, &tfd) ||
	    !key_number(&p, "events:", 16, UINT32_MAX, &events) ||
	    !key_number(&p, "data:", 16, UINT64_MAX, &data))
		return -EINVAL;
	e->tfd = (int)tfd;
	e->events = (uint32_t)events;
	e->data = data;
	return 0;
}

int fdinfo__epoll_entries(pid_t pid, int epfd, struct epoll_entry **out, size_t *n,
			  size_t *left_out)
{
	char path[64], line[256];
	size_t cap = 0, more = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, epfd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* a set of many fds is a long file: read it line by line, not into a fixed buffer */
	while (fgets(line, sizeof(line), f)) {
		struct epoll_entry e;

		if (!strchr(line, '\n') && !feof(f)) { /* longer than any line the kernel writes */
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (fdinfo__parse_epoll_line(line, &e))
			continue;
		if (*n == FDINFO_MAX_EPOLL) {
			more++;
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = e;
	}
	fclose(f);
	if (left_out)
		*left_out = more;
	return 0;
}

int fdinfo__epoll_fds(pid_t pid, int **out, size_t *n)
{
	char dir[64], link[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		uint32_t fd;

		if (!parse_u32(de->d_name, &fd) || fd > INT32_MAX ||
		    fd_link(pid, (int)fd, link, sizeof(link)) ||
		    strcmp(link, "anon_inode:[eventpoll]"))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = (int)fd;
	}
	closedir(d);
	return 0;
}

int fdinfo__tcp_diags(pid_t pid, struct fd_desc *fds, size_t n)
{
	struct tcp_diag *socks = xcalloc(n, sizeof(*socks)), key, *d;
	size_t nsocks = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		if (fds[i].kind == FD_SOCKET && fds[i].inode)
			socks[nsocks++].inode = fds[i].inode;
	err = nsocks ? tcpdiag__query(pid, socks, nsocks) : 0;
	for (size_t i = 0; i < n && !err; i++) {
		if (fds[i].kind != FD_SOCKET)
			continue;
		key.inode = fds[i].inode;
		d = bsearch(&key, socks, nsocks, sizeof(*socks), cmp_tcp_diag);
		if (!d || !d->found)
			continue;
		fds[i].tcp_diag = *d;
		fds[i].spoke_last = tcpdiag__last_speaker(d);
		fds[i].tcp = true;
		fds[i].tcp_state = d->state;
		fds[i].listening = d->state == TCP_LISTEN;
		fds[i].rx_queue = d->rqueue;
		fds[i].tx_queue = d->wqueue;
	}
	free(socks);
	return err;
}
