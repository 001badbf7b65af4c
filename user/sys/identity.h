/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Who a process is across restarts, for the daemon's metrics: its name, executable and
 * cgroup, and the Kubernetes pod UID and container ID its cgroup path carries. A restarted
 * process has a new pid but the same identity, so its series go on.
 */
#ifndef STRAND_IDENTITY_H
#define STRAND_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_identity {
	char comm[16];
	char exe[256];
	char cgroup[256];      /* the cgroup v2 path ("/system.slice/foo.service"), "" unknown */
	char pod_uid[40];      /* "0b7e8a46-…", "" when not a pod's */
	char container_id[72]; /* 64 hex digits, "" when not a container's */
};

/* Reads pid's identity from /proc; fields it cannot read stay "". 0 or -errno (gone). */
int identity__read(pid_t pid, const char *comm, struct proc_identity *id);

/* The cgroup v2 path in the text of /proc/PID/cgroup (its "0::" line), into out. 0, or
 * -ENOENT when there is none. */
int identity__cgroup_of(const char *text, size_t len, char *out, size_t size);

/* The pod UID and container ID a cgroup path carries (kubelet's systemd and cgroupfs
 * layouts, Docker, containerd, CRI-O, Podman); "" for those it does not. */
void identity__from_cgroup(const char *path, char *pod_uid, size_t pod_size, char *container_id,
			   size_t cid_size);

uint64_t identity__hash(const struct proc_identity *id);

#endif /* STRAND_IDENTITY_H */
