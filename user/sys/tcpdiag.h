/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel knows of a TCP connection's conversation (struct tcp_info, read through
 * NETLINK_SOCK_DIAG): when data last went each way and how much. A call blocked reading an
 * outbound socket is waiting for an answer when we spoke last and the peer has said
 * nothing since; it is a quiet stream or an idle keep-alive when the peer spoke last.
 */
#ifndef STRAND_TCPDIAG_H
#define STRAND_TCPDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Which fields of struct tcp_diag the kernel gave: an older kernel sends a shorter
 * tcp_info. A field without its bit reads 0, which must not be taken for "none". */
enum tcpdiag_have {
	TCPDIAG_HAVE_LAST = 1u << 0,	/* last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms */
	TCPDIAG_HAVE_UNACKED = 1u << 1, /* unacked */
	TCPDIAG_HAVE_BYTES = 1u << 2,	/* bytes_acked, bytes_received (Linux 4.1) */
	TCPDIAG_HAVE_SEGS = 1u << 3,	/* data_segs_in, data_segs_out (Linux 4.6) */
	TCPDIAG_HAVE_BYTES_SENT = 1u << 4, /* bytes_sent (Linux 4.19) */
};

struct tcp_diag {
	uint64_t inode; /* the key, as /proc/PID/fd shows it ("socket:[inode]"); 0 never matches */
	uint64_t at_ns; /* CLOCK_MONOTONIC when it was read: the *_ms fields are ages then */
	bool found;	/* the kernel listed this socket (TCP, in the namespace asked) */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t state;	/* TCP_ESTABLISHED (1), ... TCP_LISTEN (10), include/net/tcp_states.h */
	/* established: bytes received not yet read by the process, and bytes written not yet
	 * acknowledged by the peer (sent or not); listening: accept queue, and its limit */
	uint32_t rqueue, wqueue;
	unsigned int have; /* enum tcpdiag_have: which fields below were sent */
	/* Age in ms of the last data segment sent, the last one received and the last ack
	 * received. Until data flows each way they count from the connection's set-up: the
	 * kernel starts both clocks when the handshake completes. They wrap after 2^32 jiffies
	 * (49.7 days at HZ=1000). */
	uint32_t last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms;
	uint32_t unacked;	 /* segments sent and not yet acknowledged */
	uint64_t bytes_acked;	 /* bytes we sent the peer acknowledged; +1 for a SYN we sent */
	uint64_t bytes_received; /* data bytes received from the peer */
	uint64_t bytes_sent;	 /* data bytes we sent, retransmissions included */
	uint32_t data_segs_in;	 /* data segments received */
	uint32_t data_segs_out;	 /* data segments sent, retransmissions included */
};

/* Who sent data last on a connection, from tcp_info. */
enum tcp_speaker {
	TCP_SPEAKER_UNKNOWN, /* no tcp_info, or too old a kernel to tell "nothing" from "some" */
	TCP_SPEAKER_NONE,    /* no data either way yet */
	TCP_SPEAKER_US,	     /* we sent data after the peer's last (or the peer never sent) */
	TCP_SPEAKER_PEER,    /* the peer sent data after our last (or we never sent) */
	TCP_SPEAKER_TIE,     /* both within the same clock tick: which was last is not known */
};

/*
 * Reads the TCP sockets of the network namespace of process netns_of (0: strand's, that of
 * its main thread), IPv4 and IPv6, in one dump of each, and fills every entry of socks whose inode
 * is among them (found set); the others are left with found false. Sorts socks by inode. A target
 * in another namespace is entered with setns(2) (CAP_SYS_ADMIN) only for the time it takes
 * to open the netlink socket. 0 or -errno: -ESRCH (no such process), -EPERM, -EBADMSG (the
 * kernel's reply made no sense).
 */
int tcpdiag__query(pid_t netns_of, struct tcp_diag *socks, size_t n);

/* A connection's addresses, as /proc/net/tcp{,6} has them: addresses in network order (4
 * bytes of an IPv4 one, 16 of an IPv6 one), ports in host order. */
struct tcp_endpoints {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t local[16], peer[16];
	uint16_t local_port, peer_port;
};

/*
 * One socket found by its addresses (a hash lookup in the kernel, where a dump walks every
 * bucket of the machine's TCP table: milliseconds), in the namespace of netns_of; fills *d
 * only when the socket found is inode d->inode. 0, -ENOENT (no such socket, or another one
 * has its addresses now), or -errno as tcpdiag__query.
 */
int tcpdiag__lookup(pid_t netns_of, const struct tcp_endpoints *ep, struct tcp_diag *d);

/*
 * Parses one buffer of a SOCK_DIAG_BY_FAMILY dump reply, trusting no length in it: fills
 * the entries of socks (sorted by inode, as tcpdiag__sort leaves them) whose inode a
 * message names; at_ns is left alone. *done is set when the buffer holds the dump's end.
 * Returns the number of sockets the buffer described, or -errno: the error the kernel
 * sent, or -EBADMSG for a message that does not fit or is too short.
 */
int tcpdiag__parse(const void *buf, size_t len, struct tcp_diag *socks, size_t n, bool *done);

/* Sorts socks by inode, and clears what tcpdiag__parse fills. */
void tcpdiag__sort(struct tcp_diag *socks, size_t n);

enum tcp_speaker tcpdiag__last_speaker(const struct tcp_diag *d);
const char *tcp_speaker__name(enum tcp_speaker s);

/* The conversation in words, for evidence: "we sent 120 bytes, last 41.0 s ago; the peer
 * has sent nothing". Empty when nothing is known. */
void tcpdiag__format(const struct tcp_diag *d, char *buf, size_t size);

#endif /* STRAND_TCPDIAG_H */
