/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which file descriptor a goroutine in "IO wait" waits on. The runtime keeps no list of its
 * poll descriptors that could be walked, but it registers every fd it polls in its one epoll
 * set with the fd's runtime.pollDesc in epoll_event.data, and the kernel lists each
 * registered fd with that data in /proc/PID/fdinfo/EPFD. The pollDesc holds the fd and, in
 * rg and wg, the goroutine parked to read it and the one parked to write it.
 */
#ifndef STRAND_GONETPOLL_H
#define STRAND_GONETPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct go_layout;
struct go_process;

/*
 * How epoll_event.data holds a *pollDesc (netpoll_epoll.go, netpollopen). From Go 1.21 it
 * is a taggedPointer (tagptr_64bit.go): the address shifted up, pollDesc.fdseq in the low
 * bits, which also hold the address's low bits, zero by alignment. Which one a process
 * uses is found from the process (the decoded pollDesc must hold the fd it is registered
 * for), so a release that moves the bits again is seen not to fit rather than misread.
 */
enum go_pd_decoder {
	GO_PD_PLAIN = 1u << 0,	      /* Go 1.18-1.20: the pointer itself */
	GO_PD_TAG16_ALIGN8 = 1u << 1, /* Go 1.21-1.23: address << 16 (48 address bits) */
	GO_PD_TAG15_ALIGN8 = 1u << 2, /* address << 15 (49 address bits, golang/go#69255) */
	/* Go 1.25, 1.26: address << 15, pollDescs 512-byte aligned for a 24-bit tag */
	GO_PD_TAG15_ALIGN512 = 1u << 3,
	GO_PD_TAG16_ALIGN512 = 1u << 4, /* address << 16, 512-byte aligned: Go's tip source */
	GO_PD_ALL = (1u << 5) - 1,
};

/* The address a decoder reads out of epoll data; 0 when it is no user address. */
uint64_t go_pd__decode(uint64_t data, unsigned int decoder);

/* "plain pointer", "tagged pointer (address << 15, 512-byte aligned)", ... for a set of
 * decoders, into buf. */
const char *go_pd__describe(uint32_t decoders, char *buf, size_t size);

/* A goroutine parked in the network poller. */
struct go_netwait {
	uint64_t g; /* its runtime.g, as runtime.allgs lists it */
	int fd;
	bool write; /* parked to write (or to connect); otherwise to read (or to accept) */
};

/*
 * Proves the pollDesc layout of gp's process and fills gp->layout.pd_*: checks the offsets
 * DWARF gave (pd_dwarf), or infers them from the process when there are none or they do
 * not hold what they should, and finds the runtime's epoll set and how its data holds a
 * pollDesc. Returns 0; -EAGAIN when there is nothing to prove them on yet (no fd polled, or,
 * to infer rg and wg, no goroutine parked on an fd that can only be read or written): try
 * again later; -EBADMSG when they do not hold what they should; -ESRCH when the process is
 * gone. On failure pd_source stays NULL and pd_problem says why.
 */
int go_netpoll__prove(struct go_process *gp);

/* The wait reason "IO wait" in l's list, -1: not known. */
int go_netpoll__io_wait_reason(const struct go_layout *l);

/*
 * Which goroutines of pid wait on which fds now, by a layout go_netpoll__prove proved:
 * *out (free() it) holds *n of them. *unread, when not NULL, counts fds of the runtime's
 * set whose pollDesc did not hold them (closed and reused while being read). Returns 0,
 * -ENODATA when the layout is not proved, -EBADMSG when the pollDescs do not hold their
 * fds (the layout no longer fits: prove it again), -ESRCH when the process is gone.
 */
int go_netpoll__read(pid_t pid, const struct go_layout *l, struct go_netwait **out, size_t *n,
		     size_t *unread);

#endif /* STRAND_GONETPOLL_H */
