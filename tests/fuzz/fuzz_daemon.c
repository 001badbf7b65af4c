// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: what the daemon reads that others write. The input's first byte picks: a
 * config file (through the same reader `strand daemon -c` uses), a --listen address, a
 * metric label value (what comes out must be UTF-8, escaped and bounded), the text of
 * /proc/PID/cgroup and the cgroup path it names (pod UID, container ID), or a number,
 * size or duration as /report's pid= and the options take them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon_opts.h"
#include "daemon/http.h"
#include "daemon/promtext.h"
#include "lib/util.h"
#include "sys/identity.h"

static void config(const uint8_t *data, size_t size)
{
	struct daemon_opts o;
	char path[64];
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	daemon_opts__defaults(&o);
	if (!daemon_opts__read_config(&o, path))
		daemon_opts__check_listen(&o);
	daemon_opts__free(&o);
	close(fd);
}

/* What prom__label wrote: valid UTF-8, no raw quote or newline, at most max bytes of
 * value (escapes aside). */
static void check_label(const char *out, size_t len, int max)
{
	int value = 0;

	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)out + i;
		int n = *p < 0x80 ? 1 : utf8_seq_len(p);

		if (!n || *p == '"' || *p == '\n')
			abort();
		if (*p == '\\') {
			if (i + 1 >= len || !strchr("\\\"n", p[1]))
				abort();
			n = 2;
			value--;
		}
		value += n;
		i += (size_t)n;
	}
	if (value > max)
		abort();
}

static void label(const char *s)
{
	for (int max = 1; max <= 64; max += 21) {
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);

		if (!f)
			abort();
		prom__label(f, s, max);
		fclose(f);
		check_label(out, len, max);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, cg[256], pod[40], cid[72];
	struct sockaddr_storage sa;
	bool loopback;

	if (!size)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		config(data + 1, size - 1);
		break;
	case 1:
		http__parse_addr(s, &sa, &loopback);
		break;
	case 2:
		label(s);
		break;
	case 4: {
		uint32_t v;
		int64_t d = duration__parse(s);

		if (parse_u32(s, &v) && !*s)
			abort();
		if (parse_size(s, &v) && !*s)
			abort();
		if (d < -1)
			abort();
		break;
	}
	default:
		if (!identity__cgroup_of(s, size - 1, cg, sizeof(cg)) &&
		    strnlen(cg, sizeof(cg)) == sizeof(cg))
			abort();
		identity__from_cgroup(s, pod, sizeof(pod), cid, sizeof(cid));
		if (strnlen(pod, sizeof(pod)) == sizeof(pod) ||
		    strnlen(cid, sizeof(cid)) == sizeof(cid))
			abort();
	}
	free(s);
	return 0;
}
