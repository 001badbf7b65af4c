// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "sys/identity.h"
#include "lib/hashmap.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int identity__cgroup_of(const char *text, size_t len, char *out, size_t size)
{
	const char *end = text + len;

	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl ? nl : end) - line);

		/* cgroup v2: "0::/path"; v1 lines name their controllers between the colons */
		if (n >= 3 && !memcmp(line, "0::", 3) && size) {
			size_t k = n - 3 < size - 1 ? n - 3 : size - 1;

			memcpy(out, line + 3, k);
			out[k] = '\0';
			return 0;
		}
		line = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A 64-hex-digit container ID in the path component c (length n): bare, or between a
 * runtime's prefix ("docker-", "cri-containerd-", "crio-", "libpod-") and ".scope". */
static bool container_in(const char *c, size_t n, char *out, size_t size)
{
	const char *dash = memrchr(c, '-', n);
	const char *id = dash ? dash + 1 : c;
	size_t len = (size_t)(c + n - id);

	if (len > 6 && !memcmp(id + len - 6, ".scope", 6))
		len -= 6;
	if (len != 64 || !all_hex(id, 64) || size < 65)
		return false;
	memcpy(out, id, 64);
	out[64] = '\0';
	return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid with _ for ->.slice" (systemd). */
static bool pod_in(const char *c, size_t n, char *out, size_t size)
{
	const char *p = NULL;
	size_t len, k = 0;

	for (size_t i = 0; i + 3 <= n; i++)
		if (!memcmp(c + i, "pod", 3) && (i == 0 || c[i - 1] == '-'))
			p = c + i + 3;
	if (!p)
		return false;
	len = (size_t)(c + n - p);
	if (len > 6 && !memcmp(p + len - 6, ".slice", 6))
		len -= 6;
	if (len != 36 || size < 37)
		return false;
	/* every character checked before out is touched: a UID that goes wrong halfway leaves
	 * no half of itself behind */
	for (size_t i = 0; i < len; i++)
		if (p[i] != '-' && p[i] != '_' && !isxdigit((unsigned char)p[i]))
			return false;
	for (size_t i = 0; i < len; i++)
		out[k++] = p[i] == '_' ? '-' : (char)tolower((unsigned char)p[i]);
	out[k] = '\0';
	return true;
}

void identity__from_cgroup(const char *path, char *pod_uid, size_t pod_size, char *container_id,
			   size_t cid_size)
{
	if (pod_size)
		*pod_uid = '\0';
	if (cid_size)
		*container_id = '\0';
	for (const char *c = path; *c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (n) {
			/* the innermost container wins: a runtime nested in a pod is the pod's */
			container_in(c, n, container_id, cid_size);
			if (!*pod_uid)
				pod_in(c, n, pod_uid, pod_size);
		}
		c += n + (slash != NULL);
	}
}

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

int identity__read(pid_t pid, const char *comm, struct proc_identity *id)
{
	char path[64], buf[4096];
	ssize_t n;

	memset(id, 0, sizeof(*id));
	snprintf(id->comm, sizeof(id->comm), "%s", comm ? comm : "");
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, id->exe, sizeof(id->exe) - 1);
	if (n < 0 && errno == ENOENT)
		return -ESRCH;
	id->exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n > 0 && !identity__cgroup_of(buf, (size_t)n, id->cgroup, sizeof(id->cgroup)))
		identity__from_cgroup(id->cgroup, id->pod_uid, sizeof(id->pod_uid),
				      id->container_id, sizeof(id->container_id));
	return 0;
}

/* A field's FNV-1a, then a separator: ("ab","c") is not ("a","bc"). */
static uint64_t hash_field(uint64_t h, const char *s)
{
	return (hash_str(h, s) ^ 0xff) * 0x100000001b3ULL;
}

uint64_t identity__hash(const struct proc_identity *id)
{
	uint64_t h = HASH_STR_SEED;

	h = hash_field(h, id->comm);
	h = hash_field(h, id->exe);
	h = hash_field(h, id->cgroup);
	h = hash_field(h, id->pod_uid);
	return hash_u64(hash_field(h, id->container_id));
}
