/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event collection: drains the BPF ring buffer in batches and turns records into model
 * updates. Stack samples are unwound and symbolized here, once per spawn site, and what
 * was learned about the site's shape is written back to the kernel.
 */
#ifndef STRAND_COLLECTOR_H
#define STRAND_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct loader;
struct model;

struct collector_stats {
	uint64_t records, spawns, exits, execs, bad_records;
};

/* Called when the last thread of a traced process exits. */
struct strand_go_site_event;
struct strand_go_budget_event;
typedef void (*process_exit_fn)(void *ctx, pid_t pid, int exit_code);
/* A goroutine spawn site's first sighting (the Go probes' record, checked for size). */
typedef void (*go_site_fn)(void *ctx, const struct strand_go_site_event *ev);
typedef void (*go_budget_fn)(void *ctx, const struct strand_go_budget_event *ev);

struct collector;

/* stacks: the engine's unwinder and symbolizer (sym/stacks.h), lent for spawn stacks. */
struct stacks;
struct collector *collector__new(struct loader *ld, struct model *m, struct stacks *stacks);
void collector__free(struct collector *c);
void collector__on_process_exit(struct collector *c, process_exit_fn fn, void *ctx);
void collector__on_go_site(struct collector *c, go_site_fn fn, void *ctx);
/* A process's goroutine probes went over their budget (loader__set_go_budget). */
void collector__on_go_over_budget(struct collector *c, go_budget_fn fn, void *ctx);
/* A process held by the kernel: at its first stack sample in a new image (while its memory
 * map is read: a moment to prepare more of its tracing, before it runs on), or on its way
 * out (code: the status it exits with). The collector sends the SIGCONT of the first when
 * the callback returns; the second's is the callback's to send, at once when there is no
 * callback. */
typedef void (*held_fn)(void *ctx, pid_t pid);
typedef void (*exiting_fn)(void *ctx, pid_t pid, int code);
void collector__on_new_image(struct collector *c, held_fn fn, void *ctx);
void collector__on_exiting(struct collector *c, exiting_fn fn, void *ctx);

/* Called when a new process takes the pid of one still in the model (exited, or whose exit
 * was lost), before the new one is entered: a daemon drops the old one then, so the two
 * never mix. */
typedef void (*pid_reuse_fn)(void *ctx, pid_t pid);
void collector__on_pid_reuse(struct collector *c, pid_reuse_fn fn, void *ctx);

/* Waits up to timeout_ms for records and handles all that are there; -errno on error. */
int collector__poll(struct collector *c, int timeout_ms);
/* Handles what is left in the ring buffer without waiting. */
int collector__drain(struct collector *c);
/* Waits up to timeout_ms for records without handling them (the daemon waits unlocked,
 * then drains under its lock); 0 or -errno. */
int collector__wait(struct collector *c, int timeout_ms);

/* pid's last thread exited (its event, or found gone when the event was lost): the model
 * told, the caches of it dropped, the exit callback called. */
void collector__process_exit(struct collector *c, pid_t pid, int exit_code);
/* Looks whether pid runs CPython (again: even where it was found not to, a libpython.so
 * may have been loaded since) and, when it does, lets the kernel read its spawners' Python
 * frames; returns it (NULL: no Python). */
struct python *collector__watch_python(struct collector *c, pid_t pid, bool again);

void collector__stats(struct collector *c, struct collector_stats *out);

#endif /* STRAND_COLLECTOR_H */
