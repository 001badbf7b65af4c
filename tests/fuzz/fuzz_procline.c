// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer: a line of /proc/net/tcp{,6}, of an epoll fd's fdinfo, of /proc/PID/maps or of
 * a JIT's perf map (/tmp/perf-PID.map) through their parsers (each line a C string, as
 * fgets leaves it; the perf map's its bytes as read). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sym/perfmap.h"
#include "sym/procmaps.h"
#include "sys/fdinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), local[80], remote[80];
	uint64_t inode, rx, tx;
	struct epoll_entry e;
	struct map_line ml;
	uint64_t start, len;
	const char *name;
	size_t name_len;
	int state;

	memcpy(line, data, size);
	line[size] = '\0';
	if (!fdinfo__parse_tcp_line(line, &inode, local, sizeof(local), remote, sizeof(remote),
				    &state, &rx, &tx) &&
	    (strlen(local) >= sizeof(local) || strlen(remote) >= sizeof(remote)))
		abort();
	/* a short buffer cuts the text, never overruns it */
	fdinfo__parse_tcp_line(line, &inode, local, 4, remote, 1, &state, &rx, &tx);
	fdinfo__parse_epoll_line(line, &e);
	if (!map_line__parse(line, &ml) &&
	    (ml.start > ml.end || strnlen(ml.perms, sizeof(ml.perms)) == sizeof(ml.perms) ||
	     (ml.path && (ml.path < line || ml.path > line + size))))
		abort();
	/* the name is the rest of the line: inside it, the code's range does not wrap */
	if (perfmap__parse_line((const char *)data, size, &start, &len, &name, &name_len) &&
	    (name < (const char *)data || name + name_len != (const char *)data + size || !len ||
	     start + len < start))
		abort();
	free(line);
	return 0;
}
