/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `strand daemon`: the node agent, Prometheus metrics and live reports over HTTP. */
#ifndef STRAND_DAEMON_H
#define STRAND_DAEMON_H

#include <stdio.h>

int cmd_daemon(int argc, char **argv);

#endif /* STRAND_DAEMON_H */
