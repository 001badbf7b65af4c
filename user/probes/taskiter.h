/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the kernel's task iterators write (waits.bpf.c): a scan's records, each with the
 * user stack it carries, and the brief listing of the threads running at attach. Read a
 * buffer at a time and checked, not trusted.
 */
#ifndef STRAND_TASKITER_H
#define STRAND_TASKITER_H

#include <stdint.h>
#include "strand.h"

/* One record of a task scan; stack is NULL unless rec->flags has STRAND_REC_HAS_STACK. */
typedef void (*task_record_fn)(void *ctx, const struct strand_task_record *rec,
			       const uint8_t *stack);
typedef void (*task_brief_fn)(void *ctx, const struct strand_task_brief *b);

/* Runs the iterator link link_fd to its end, each record handed to fn; *buf is the room to
 * read into (made at the first call, the caller frees it). Returns the number of records
 * or a negative errno (-EBADMSG: a record that does not hold together). */
int task_iter__records(int link_fd, uint8_t **buf, task_record_fn fn, void *ctx);
/* The same for a scan split in two halves (dump_tasks_even, dump_tasks_odd), read side by
 * side: the second half's on a thread of its own, every record handed to fn on this one. */
int task_iter__records_halves(const int link_fds[2], uint8_t **buf, task_record_fn fn, void *ctx);
int task_iter__briefs(int link_fd, uint8_t **buf, task_brief_fn fn, void *ctx);

#endif /* STRAND_TASKITER_H */
