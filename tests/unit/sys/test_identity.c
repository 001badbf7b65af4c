// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process identity: the cgroup v2 path in /proc/PID/cgroup, and the pod UID and container
 * ID in the cgroup paths kubelet (systemd and cgroupfs drivers), Docker, containerd, CRI-O
 * and Podman make; label escaping and bounding for the metrics. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/promtext.h"
#include "sys/identity.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "0b7e8a46-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

static void expect_ids(const char *path, const char *pod, const char *cid)
{
	char p[40], c[72];

	identity__from_cgroup(path, p, sizeof(p), c, sizeof(c));
	UNIT_CHECK(!strcmp(p, pod), "%s: pod '%s', expected '%s'", path, p, pod);
	UNIT_CHECK(!strcmp(c, cid), "%s: container '%s', expected '%s'", path, c, cid);
}

static void test_cgroup_paths(void)
{
	/* kubelet, systemd driver: the UID's dashes are underscores */
	expect_ids("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b7e8a46_1c2d_"
		   "4e5f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" CID ".scope",
		   UID, CID);
	/* kubelet, cgroupfs driver */
	expect_ids("/kubepods/besteffort/pod" UID "/" CID, UID, CID);
	expect_ids(
		"/kubepods.slice/kubepods-pod0b7e8a46_1c2d_4e5f_8a9b_0c1d2e3f4a5b.slice/crio-" CID
		".scope",
		UID, CID);
	/* plain containers: no pod */
	expect_ids("/system.slice/docker-" CID ".scope", "", CID);
	expect_ids("/machine.slice/libpod-" CID ".scope/container", "", CID);
	/* neither */
	expect_ids("/user.slice/user-0.slice/session-3.scope", "", "");
	expect_ids("/system.slice/strand.service", "", "");
	expect_ids("/", "", "");
	expect_ids("", "", "");
	/* almost: one digit short, not hex, "pod" inside a word */
	expect_ids("/system.slice/docker-" CID "0.scope", "", "");
	expect_ids("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		   "abcdeg.scope",
		   "", "");
	expect_ids("/kubepods/ipod" UID, "", "");
	/* a UID that goes wrong halfway leaves nothing of itself: neither a string left
	 * unended (fuzz_daemon found one) nor a half in place of a good one found later */
	{
		char p[40], c[72];

		memset(p, 'x', sizeof(p));
		identity__from_cgroup("/kubepods/pod0b7e8a46_1c2d_4e5f_8a9b_0c1d2e3f\261a5b", p,
				      sizeof(p), c, sizeof(c));
		ASSERT_TRUE(!strcmp(p, ""));
	}
	expect_ids("/kubepods/pod0b7e8a46_1c2d_4e5f_8a9b_0c1d2e3f\261a5b/kubepods/pod" UID, UID,
		   "");
}

static void test_proc_cgroup(void)
{
	char out[64];
	const char v2[] = "0::/system.slice/foo.service\n";
	const char hybrid[] = "12:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/user.slice\n";
	const char v1[] = "12:cpu,cpuacct:/x\n";

	ASSERT_EQ(identity__cgroup_of(v2, strlen(v2), out, sizeof(out)), 0);
	ASSERT_STREQ(out, "/system.slice/foo.service");
	ASSERT_EQ(identity__cgroup_of(hybrid, strlen(hybrid), out, sizeof(out)), 0);
	ASSERT_STREQ(out, "/user.slice");
	ASSERT_EQ(identity__cgroup_of(v1, strlen(v1), out, sizeof(out)), -2);
	/* cut to the buffer, and not past the text's length */
	ASSERT_EQ(identity__cgroup_of(v2, 10, out, 4), 0);
	ASSERT_STREQ(out, "/sy");
}

static void label(const char *in, int max, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	prom__label(f, in, max);
	fclose(f);
	UNIT_CHECK(!strcmp(buf, want), "label '%s' (max %d): '%s', expected '%s'", in, max, buf,
		   want);
	free(buf);
}

static void test_labels(void)
{
	label("plain", 100, "plain");
	label("a\"b\\c\nd", 100, "a\\\"b\\\\c\\nd");
	label("abcdef", 3, "abc");
	/* never half a UTF-8 sequence: "é" is two bytes */
	label("ab\xc3\xa9", 3, "ab");
	label("ab\xc3\xa9", 4, "ab\xc3\xa9");
	/* the exposition is UTF-8: a stray byte, a cut sequence, an overlong one each U+FFFD */
	label("a\xff"
	      "b",
	      100,
	      "a\xef\xbf\xbd"
	      "b");
	label("a\xc3", 100, "a\xef\xbf\xbd");
	label("\xc0\xaf", 100, "\xef\xbf\xbd\xef\xbf\xbd");
	label("ab\xff", 4, "ab");
}

int main(void)
{
	test_cgroup_paths();
	test_proc_cgroup();
	test_labels();
	return unit_summary();
}
