/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Why loading strand's BPF programs failed, in words and as an exit code. A missing
 * permission (4) and a kernel without a feature strand needs (5) are the user's to fix; a
 * program the verifier rejects or a map strand sized wrong on a kernel that has everything
 * is strand's own failure (1), said as such with the kernel's words.
 */
#ifndef STRAND_LOAD_ERROR_H
#define STRAND_LOAD_ERROR_H

#include <stdbool.h>

/* What the kernel and strand's process offer, probed once a failure needs explaining. */
struct bpf_features {
	bool privileged; /* CAP_BPF (or CAP_SYS_ADMIN) and CAP_PERFMON in effect */
	bool btf;	 /* /sys/kernel/btf/vmlinux: CO-RE and tp_btf */
	bool ringbuf;
	bool task_storage;
	bool raw_tracepoints;
	bool uprobes; /* the uprobe PMU */
};

void bpf_features__probe(struct bpf_features *f);
/* The first feature strand needs that f lacks, in words; NULL when none. */
const char *bpf_features__missing(const struct bpf_features *f);

/*
 * Says why "what" failed with err (an errno, either sign), given the features and the tail
 * of libbpf's own log (NULL: none; the verifier's words when a program was rejected), and
 * returns the exit code.
 */
int load_error__explain(int err, const char *what, const struct bpf_features *f,
			const char *libbpf_log);

#endif /* STRAND_LOAD_ERROR_H */
