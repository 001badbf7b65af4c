/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF links destroyed off the caller's thread. Removing a uprobe waits for the kernel's RCU
 * grace periods (about 0.1 s each here: the kernel syncs on every uprobe it unregisters), and
 * strand drops a Go process's five probes when it exits: done inline, the event loop would
 * sleep half a second per exiting process while other processes wait, held on their way out.
 * Several reapers run at once so their grace periods overlap.
 */
#ifndef STRAND_LINK_REAPER_H
#define STRAND_LINK_REAPER_H

struct bpf_link;
struct link_reaper;

/* NULL if no thread could be started: link_reaper__destroy then destroys inline. */
struct link_reaper *link_reaper__start(void);

/* link (NULL is a no-op) is destroyed soon; the caller must not use it again. */
void link_reaper__destroy(struct link_reaper *r, struct bpf_link *link);

/* fd, a link made without libbpf (-1 is a no-op), is closed soon. */
void link_reaper__close(struct link_reaper *r, int fd);

/* Destroys every link still queued, then stops the reapers. */
void link_reaper__stop(struct link_reaper *r);

#endif
