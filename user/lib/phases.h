/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where an attach's time goes, for whoever makes it faster (bench/scale.py reads it): with
 * STRAND_PHASES=1 in the environment, each phase__done prints to stderr how long the work
 * since the last mark took and strand's resident memory then. Off otherwise.
 */
#ifndef STRAND_PHASES_H
#define STRAND_PHASES_H

/* what: the work done since the last mark, as "goroutine stacks walked" */
void phase__done(const char *what);

#endif /* STRAND_PHASES_H */
