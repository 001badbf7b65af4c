// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/uprobe_multi.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* BPF_LINK_CREATE's attributes for a uprobe_multi link (include/uapi/linux/bpf.h, 6.6+):
 * the four words every link has, then the union's uprobe_multi member. */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid;
	uint32_t pad;
};

bool uprobe_multi__supported(void)
{
	const struct bpf_insn ret0[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = UPROBE_MULTI_ATTACH_TYPE);
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "strand_probe", "GPL", ret0, 2, &opts);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int uprobe_multi__attach(int prog_fd, const char *path, uint64_t offset, pid_t pid)
{
	struct link_create_uprobe_multi attr;
	union bpf_attr check;
	int fd;

	_Static_assert(sizeof(attr) <= sizeof(check), "the kernel's attributes hold ours");
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (uint32_t)prog_fd;
	attr.attach_type = UPROBE_MULTI_ATTACH_TYPE;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)&offset;
	attr.cnt = 1;
	attr.pid = pid > 0 ? (uint32_t)pid : 0;
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}
