/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `strand trace`: one-shot tracing of a process, a command, or the whole machine. */
#ifndef STRAND_TRACE_H
#define STRAND_TRACE_H

int cmd_trace(int argc, char **argv);
void trace__usage(FILE *f);

#endif /* STRAND_TRACE_H */
