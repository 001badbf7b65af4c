// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "probes/load_error.h"
#include "lib/util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* include/uapi/linux/capability.h */
#define CAP_SYS_ADMIN 21
#define CAP_PERFMON   38
#define CAP_BPF	      39

static bool has_cap(unsigned long long eff, int cap)
{
	return eff >> cap & 1;
}

/* CapEff of /proc/self/status: no libcap for one word. */
static bool privileged(void)
{
	char buf[4096], *line;
	unsigned long long eff;

	if (read_small_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return geteuid() == 0;
	line = strstr(buf, "\nCapEff:");
	if (!line || sscanf(line + 8, "%llx", &eff) != 1)
		return geteuid() == 0;
	return (has_cap(eff, CAP_BPF) || has_cap(eff, CAP_SYS_ADMIN)) &&
	       (has_cap(eff, CAP_PERFMON) || has_cap(eff, CAP_SYS_ADMIN));
}

void bpf_features__probe(struct bpf_features *f)
{
	f->privileged = privileged();
	f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	f->ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->task_storage = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1;
	f->raw_tracepoints = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1;
	f->uprobes = access("/sys/bus/event_source/devices/uprobe/type", R_OK) == 0;
}

const char *bpf_features__missing(const struct bpf_features *f)
{
	if (!f->btf)
		return "kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)";
	if (!f->ringbuf)
		return "BPF ring buffers (Linux 5.8)";
	if (!f->task_storage)
		return "BPF task storage (Linux 5.11)";
	if (!f->raw_tracepoints)
		return "BPF raw tracepoints";
	if (!f->uprobes)
		return "uprobes (CONFIG_UPROBE_EVENTS)";
	return NULL;
}

int load_error__explain(int err, const char *what, const struct bpf_features *f,
			const char *libbpf_log)
{
	const char *missing;

	err = err < 0 ? -err : err;
	/* the verifier answers EACCES too: it is a permission only when strand has none */
	if ((err == EPERM || err == EACCES) && !f->privileged) {
		say("cannot %s: operation not permitted (run as root, or grant CAP_BPF, "
		    "CAP_PERFMON and CAP_SYS_PTRACE)",
		    what);
		return STRAND_EXIT_PERM;
	}
	if (err == ENOMEM || err == E2BIG) {
		say("cannot %s: %s (BPF maps are charged to strand's memory cgroup; a smaller "
		    "--ringbuf or --go-states needs less)",
		    what, strerror(err));
		return STRAND_EXIT_ERROR;
	}
	if ((missing = bpf_features__missing(f))) {
		say("cannot %s: %s (this kernel lacks %s, which strand needs)", what, strerror(err),
		    missing);
		return STRAND_EXIT_NO_BPF;
	}
	bool log = libbpf_log && *libbpf_log;

	say("cannot %s: %s; the kernel has every BPF feature strand needs, so this is "
	    "strand's own failure: please report it with %s",
	    what, strerror(err), log ? "libbpf's words below" : "the output of -v");
	if (log)
		fprintf(stderr, "%s%s", libbpf_log,
			libbpf_log[strlen(libbpf_log) - 1] == '\n' ? "" : "\n");
	return STRAND_EXIT_ERROR;
}
