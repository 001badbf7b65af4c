/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * uprobe_multi links (Linux 6.6+), made with the bpf() system call: the libbpf Debian ships
 * (1.1) predates them. What strand needs of them: on detach the kernel takes the breakpoints
 * out of the process first and waits for its grace periods after, where a perf event's
 * uprobe keeps trapping until the wait is over (~0.2 s here). A probe shed for its cost
 * must stop costing at once.
 */
#ifndef STRAND_UPROBE_MULTI_H
#define STRAND_UPROBE_MULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The attach type of programs meant for them (BPF_TRACE_UPROBE_MULTI). */
#define UPROBE_MULTI_ATTACH_TYPE 48

/* Whether the kernel loads programs of that attach type. */
bool uprobe_multi__supported(void);

/* prog_fd on path at file offset, in process pid only (-1: every process): the link's fd,
 * or -errno. */
int uprobe_multi__attach(int prog_fd, const char *path, uint64_t offset, pid_t pid);

#endif
