/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a file descriptor of another process is, from /proc: a pipe and who holds its write
 * end, a TCP socket, its peer and who spoke last on it (tcpdiag), an epoll set and how many
 * fds it watches. Wait reasons and their evidence are made of this.
 */
#ifndef STRAND_FDINFO_H
#define STRAND_FDINFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sys/tcpdiag.h"

enum fd_kind {
	FD_UNKNOWN,
	FD_FILE,
	FD_PIPE,
	FD_SOCKET,
	FD_TTY,
	FD_EPOLL,
	FD_EVENTFD,
	FD_OTHER, /* another anonymous inode, a device */
};

struct fd_desc {
	enum fd_kind kind;
	char text[160]; /* what it is, for people: "pipe:[1234]", "TCP 127.0.0.1:80 <- ..." */
	uint64_t inode;
	/* pipes: another fd of the same process open on the write end (-1: none found) */
	int write_end_fd;
	/* the open flags (O_ACCMODE, O_NONBLOCK, ...) from fdinfo, -1 when unreadable */
	long flags;
	/* sockets */
	bool tcp, listening;
	bool inbound;  /* an accepted connection: a socket listens on its local port */
	int tcp_state; /* TCP_ESTABLISHED (1), TCP_LISTEN (10), ... as /proc/net/tcp says */
	uint64_t rx_queue, tx_queue; /* bytes not yet read by the process, not yet acked */
	/* TCP connections: what the kernel's tcp_info says (tcp_diag.found false: not read;
	 * describe reads none for a listener), and who sent data last: we did for a call
	 * waiting for its answer, the peer did for a quiet stream or an idle keep-alive */
	struct tcp_diag tcp_diag;
	enum tcp_speaker spoke_last;
	/* epoll: file descriptors registered in the set */
	int epoll_fds;
};

/* Describes fd of pid; returns 0 or -errno (-ENOENT: no such fd). */
int fdinfo__describe(pid_t pid, int fd, struct fd_desc *out);

/* The cheap part of describing: kind, inode, open flags and the link's text; no walk of
 * /proc/net/tcp, no search for a pipe's write end. 0 or -errno. */
int fdinfo__identify(pid_t pid, int fd, struct fd_desc *out);

/* The tcp_info of the TCP sockets among fds (as fdinfo__identify or fdinfo__describe left
 * them), in one dump of pid's network namespace however many there are: fills tcp_diag and
 * spoke_last, and tcp, listening, tcp_state and the queues; not text, nor inbound. An fd
 * that is no TCP socket of that namespace is left as it was. 0 or -errno as
 * tcpdiag__query; fds are not reordered. */
int fdinfo__tcp_diags(pid_t pid, struct fd_desc *fds, size_t n);

/* Many sockets looked up in one walk of /proc/PID/net/tcp{,6} (each describe walks it):
 * fills the state and queues of each inode asked for (state 0: no TCP socket of pid's
 * network namespace); sorts socks by inode. 0 or -errno. */
struct tcp_state {
	uint64_t inode;
	int state;
	uint64_t rx_queue, tx_queue;
};
int fdinfo__tcp_states(pid_t pid, struct tcp_state *socks, size_t n);

/* Parses one line of /proc/net/tcp{,6}; exposed for tests and fuzzing. Addresses are
 * written as text ("127.0.0.1:80", "[::1]:80"). */
int fdinfo__parse_tcp_line(const char *line, uint64_t *inode, char *local, size_t local_size,
			   char *remote, size_t remote_size, int *state, uint64_t *rx_queue,
			   uint64_t *tx_queue);

/* One fd registered in an epoll set, as /proc/PID/fdinfo/EPFD lists it. */
struct epoll_entry {
	int tfd;	 /* the fd registered (in the process that registered it) */
	uint32_t events; /* EPOLLIN, EPOLLOUT, EPOLLET, ... asked for */
	uint64_t data;	 /* epoll_event.data as given to epoll_ctl: what the process reads back */
};

/* Parses one line of an epoll fd's fdinfo ("tfd: 5 events: 19 data: 7f00  pos:0 ..."):
 * 0, or -EINVAL for any other line. Exposed for tests and fuzzing. */
int fdinfo__parse_epoll_line(const char *line, struct epoll_entry *e);

/* The entries of pid's epoll set epfd (free() them); at most FDINFO_MAX_EPOLL, the rest
 * counted in *left_out when it is not NULL. 0 or -errno (-ENOENT: no such fd). */
#define FDINFO_MAX_EPOLL (1u << 20)
int fdinfo__epoll_entries(pid_t pid, int epfd, struct epoll_entry **out, size_t *n,
			  size_t *left_out);

/* The epoll sets pid holds (free() them): 0 or -errno (-ESRCH: the process is gone). */
int fdinfo__epoll_fds(pid_t pid, int **out, size_t *n);

#endif /* STRAND_FDINFO_H */
