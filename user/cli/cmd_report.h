/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `strand report`: a recording or a JSON report rendered again, or compared. */
#ifndef STRAND_CMD_REPORT_H
#define STRAND_CMD_REPORT_H

#include <stdio.h>

int cmd_report(int argc, char **argv);
void report_cmd__usage(FILE *f);

#endif /* STRAND_CMD_REPORT_H */
