// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of why loading the BPF programs failed, in words and exit codes. */
#include <errno.h>

#include "lib/util.h"
#include "probes/load_error.h"
#include "unit.h"

/* A permission is the user's to grant, a missing feature the kernel's to have; anything else
 * on a kernel that has everything is strand's own failure, never "the kernel lacks ...". */
static void test_load_errors(void)
{
	struct bpf_features all = {true, true, true, true, true, true};
	struct bpf_features f = all;

	f.privileged = false;
	ASSERT_EQ(load_error__explain(-EPERM, "load", &f, NULL), STRAND_EXIT_PERM);
	ASSERT_EQ(load_error__explain(EACCES, "load", &f, NULL), STRAND_EXIT_PERM);
	/* with the capabilities, EACCES is the verifier rejecting a program */
	ASSERT_EQ(load_error__explain(-EACCES, "load", &all, "libbpf: prog 'x': failed\n"),
		  STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-EINVAL, "load", &all, ""), STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-ENOENT, "load", &all, NULL), STRAND_EXIT_ERROR);
	ASSERT_EQ(load_error__explain(-ENOMEM, "load", &all, NULL), STRAND_EXIT_ERROR);
	f = all;
	f.btf = false;
	ASSERT_EQ(load_error__explain(-EINVAL, "load", &f, NULL), STRAND_EXIT_NO_BPF);
	ASSERT_TRUE(strstr(bpf_features__missing(&f), "BTF") != NULL);
	f = all;
	f.task_storage = false;
	ASSERT_EQ(load_error__explain(-ENOENT, "load", &f, NULL), STRAND_EXIT_NO_BPF);
	ASSERT_TRUE(bpf_features__missing(&all) == NULL);
	/* this machine has them all (the BPF tests run here) */
	bpf_features__probe(&f);
	ASSERT_TRUE(bpf_features__missing(&f) == NULL);
}

int main(void)
{
	test_load_errors();
	return unit_summary();
}
