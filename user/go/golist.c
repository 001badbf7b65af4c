// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/golist.h"
#include "lib/util.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GOROUTINES (16u << 20)

void go_gs__free(struct go_gs *gs)
{
	free(gs->ptrs);
	free(gs->bytes);
	memset(gs, 0, sizeof(*gs));
}

int go_gs__open_list(pid_t pid, uint64_t allgs, uint64_t allglen, size_t window, struct go_gs *gs)
{
	uint64_t hdr[3], len;
	int err;

	memset(gs, 0, sizeof(*gs));
	gs->window = window;
	/* allgs is a []*g: pointer, length, capacity */
	err = procfs__read_mem(pid, allgs, hdr, sizeof(hdr));
	if (!err)
		err = procfs__read_mem(pid, allglen, &len, sizeof(len));
	if (err)
		return err == -ESRCH || !procfs__exists(pid) ? -ESRCH : err;
	gs->listed = hdr[1] < len ? hdr[1] : len;
	if (gs->listed > MAX_GOROUTINES || hdr[1] > hdr[2])
		return -EBADMSG; /* not a slice header: the layout does not fit this process */
	gs->list_at = hdr[0];
	gs->n = gs->listed;
	return 0;
}

uint64_t go_gs__ptr(const struct go_gs *gs, size_t i)
{
	return i >= gs->base && i - gs->base < gs->rows ? gs->ptrs[i - gs->base] : 0;
}

void go_gs__read_rows(pid_t pid, struct go_gs *gs, size_t from, size_t count)
{
	if (from > gs->n)
		from = gs->n;
	if (count > gs->n - from)
		count = gs->n - from;
	if (count > gs->rows || !gs->bytes) {
		free(gs->bytes);
		gs->bytes = xcalloc(count ? count : 1, gs->window);
		free(gs->ptrs);
		gs->ptrs = xcalloc(count ? count : 1, sizeof(*gs->ptrs));
	}
	gs->base = from;
	gs->rows = count;
	/* pointers that cannot be read (the process left mid-way) are zeroes, as rows that
	 * cannot be read are (read_blocks zeroes them): both fail validation */
	if (count && procfs__read_mem(pid, gs->list_at + from * sizeof(*gs->ptrs), gs->ptrs,
				      count * sizeof(*gs->ptrs)))
		memset(gs->ptrs, 0, count * sizeof(*gs->ptrs));
	procfs__read_blocks(pid, gs->ptrs, count, gs->window, READ_GAP_OBJECTS, gs->bytes);
}

uint64_t go_gs__word(const struct go_gs *gs, size_t i, int32_t off, size_t width)
{
	uint64_t v = 0;

	if (off >= 0 && (size_t)off + width <= gs->window && i >= gs->base &&
	    i - gs->base < gs->rows)
		memcpy(&v, gs->bytes + (i - gs->base) * gs->window + off, width);
	return v;
}
