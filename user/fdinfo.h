/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a file descriptor of another process is, from /proc: a pipe and who holds its write
 * end, a TCP socket and its peer, an epoll set and how many fds it watches. Wait reasons
 * and their evidence are made of this.
 */
#ifndef STRAND_FDINFO_H
#define STRAND_FDINFO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
	/* sockets */
	bool tcp, listening;
	bool inbound; /* an accepted connection: a socket listens on its local port */
	uint64_t rx_queue;
	/* epoll: file descriptors registered in the set */
	int epoll_fds;
};

/* Describes fd of pid; returns 0 or -errno (-ENOENT: no such fd). */
int fdinfo__describe(pid_t pid, int fd, struct fd_desc *out);

/* Parses one line of /proc/net/tcp{,6}; exposed for tests and fuzzing. Addresses are
 * written as text ("127.0.0.1:80", "[::1]:80"). */
int fdinfo__parse_tcp_line(const char *line, uint64_t *inode, char *local, size_t local_size,
			   char *remote, size_t remote_size, int *state, uint64_t *rx_queue);

#endif /* STRAND_FDINFO_H */
