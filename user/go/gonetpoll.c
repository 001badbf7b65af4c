// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "go/gonetpoll.h"
#include "go/golayout.h"
#include "go/gonetpoll_priv.h"
#include "lib/util.h"
#include "sys/fdinfo.h"
#include "sys/procfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define READ_BATCH 512 /* iovecs per process_vm_readv (IOV_MAX is 1024) */
/* Above any user address, 5-level paging included. Go sign-extends a tagged pointer when it
 * decodes it; user addresses have nothing to extend. */
#define USER_TOP (1ULL << 56)

static const struct {
	unsigned int bit, shift;
	uint64_t align;
	const char *name;
} decoders[] = {
	{GO_PD_PLAIN, 0, 8, "plain pointer"},
	{GO_PD_TAG16_ALIGN8, 16, 8, "tagged pointer (address << 16)"},
	{GO_PD_TAG15_ALIGN8, 15, 8, "tagged pointer (address << 15)"},
	{GO_PD_TAG15_ALIGN512, 15, 512, "tagged pointer (address << 15, 512-byte aligned)"},
	{GO_PD_TAG16_ALIGN512, 16, 512, "tagged pointer (address << 16, 512-byte aligned)"},
};

uint64_t go_pd__decode(uint64_t data, unsigned int decoder)
{
	for (size_t i = 0; i < ARRAY_SIZE(decoders); i++) {
		uint64_t a;

		if (decoders[i].bit != decoder)
			continue;
		a = (data >> decoders[i].shift) & ~(decoders[i].align - 1);
		return a >= 4096 && a < USER_TOP ? a : 0;
	}
	return 0;
}

const char *go_pd__describe(uint32_t set, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(decoders) && len < size; i++)
		if (set & decoders[i].bit)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " or " : "",
						decoders[i].name);
	if (!buf[0])
		snprintf(buf, size, "none");
	return buf;
}

unsigned int pd__decoder_bit(size_t i)
{
	return i < ARRAY_SIZE(decoders) ? decoders[i].bit : 0;
}

uint64_t pd_rows__word(const struct pd_rows *r, size_t i, int32_t off)
{
	uint64_t v = 0;

	if (i < r->n && off >= 0 && (size_t)off + 8 <= r->size)
		memcpy(&v, r->bytes + i * r->size + off, 8);
	return v;
}

void pd_rows__free(struct pd_rows *r)
{
	free(r->bytes);
	free(r->addr);
	free(r->ok);
	memset(r, 0, sizeof(*r));
}

/* Batches of process_vm_readv; one that fails part-way stops at the failing block, which is
 * skipped (not ok) and the rest read again. */
static int read_batch(pid_t pid, struct pd_rows *r, const size_t *idx, size_t k)
{
	struct iovec local[READ_BATCH], remote[READ_BATCH];
	size_t done = 0;

	for (size_t j = 0; j < k; j++) {
		local[j] = (struct iovec){r->bytes + idx[j] * r->size, r->size};
		remote[j] = (struct iovec){(void *)(uintptr_t)r->addr[idx[j]], r->size};
	}
	while (done < k) {
		ssize_t got =
			process_vm_readv(pid, local + done, k - done, remote + done, k - done, 0);
		size_t whole;

		if (got < 0 && errno != EFAULT)
			return -errno;
		whole = got > 0 ? (size_t)got / r->size : 0;
		for (size_t j = 0; j < whole; j++)
			r->ok[idx[done + j]] = true;
		done += whole + 1;
	}
	return 0;
}

int pd_rows__read(pid_t pid, const struct epoll_entry *e, size_t n, unsigned int decoder,
		  size_t size, struct pd_rows *r)
{
	size_t idx[READ_BATCH];
	int err = 0;

	r->n = n;
	r->size = size;
	r->bytes = xcalloc(n ? n : 1, size);
	r->addr = xcalloc(n ? n : 1, sizeof(*r->addr));
	r->ok = xcalloc(n ? n : 1, sizeof(*r->ok));
	for (size_t i = 0; i < n && !err;) {
		size_t k = 0;

		for (; i < n && k < READ_BATCH; i++) {
			r->addr[i] = go_pd__decode(e[i].data, decoder);
			if (r->addr[i])
				idx[k++] = i;
		}
		err = read_batch(pid, r, idx, k);
	}
	return err;
}

bool pd_rows__is_wakeup(pid_t pid, const struct epoll_entry *e)
{
	uint64_t word, addr = go_pd__decode(e->data, GO_PD_PLAIN);
	struct fd_desc d;

	/* netpollinit registers its wakeup fd with a plain pointer to the variable that holds
	 * the fd, tagged pointers or not: netpollBreakRd (a pipe; Go 1.18 to 1.23 at least),
	 * netpollEventFd (an eventfd; Go 1.25, 1.26) */
	if (e->data)
		return addr && !procfs__read_mem(pid, addr, &word, sizeof(word)) &&
		       word == (uint64_t)e->tfd;
	/* Go 1.27 registers its eventfd with no data: no pollDesc is at 0, and no other fd of
	 * the runtime's is an eventfd or a pipe with nothing to say who it is */
	return !fdinfo__identify(pid, e->tfd, &d) && (d.kind == FD_EVENTFD || d.kind == FD_PIPE);
}

/* Where entry i's pollDesc is under the decoders of set, 0 if none holds its fd or two
 * different ones do. */
static uint64_t matched_pd(const struct pd_rows *rows, uint32_t set, size_t i, int32_t fd_off,
			   int tfd, size_t *which)
{
	uint64_t found = 0;

	for (size_t d = 0; d < ARRAY_SIZE(decoders); d++) {
		if (!(set & decoders[d].bit) || !rows[d].ok[i] ||
		    pd_rows__word(&rows[d], i, fd_off) != (uint64_t)tfd)
			continue;
		if (found && found != rows[d].addr[i])
			return 0;
		found = rows[d].addr[i];
		*which = d;
	}
	return found;
}

static bool g_word(uint64_t v)
{
	return v > PD_WAIT && !(v & 7) && v < USER_TOP;
}

int go_netpoll__read(pid_t pid, const struct go_layout *l, struct go_netwait **out, size_t *n,
		     size_t *unread)
{
	struct pd_rows rows[ARRAY_SIZE(decoders)] = {0};
	struct epoll_entry *e = NULL;
	size_t ne = 0, matched = 0, bad = 0, cap = 0, span;
	int err;

	*out = NULL;
	*n = 0;
	if (unread)
		*unread = 0;
	if (!l->pd_source || l->pd_epfd < 0 || !l->pd_decoders)
		return -ENODATA;
	err = fdinfo__epoll_entries(pid, l->pd_epfd, &e, &ne, NULL);
	if (err)
		return !procfs__exists(pid) ? -ESRCH : err == -ENOENT ? -EBADMSG : err;
	if (!ne) { /* the runtime's set always holds its wakeup fd: this is another file */
		free(e);
		return -EBADMSG;
	}
	span = (size_t)(l->pd_fd > l->pd_rg ? l->pd_fd : l->pd_rg);
	span = ((size_t)l->pd_wg > span ? (size_t)l->pd_wg : span) + 8;
	for (size_t d = 0; d < ARRAY_SIZE(decoders) && !err; d++)
		if (l->pd_decoders & decoders[d].bit)
			err = pd_rows__read(pid, e, ne, decoders[d].bit, span, &rows[d]);
	for (size_t i = 0; i < ne && !err; i++) {
		size_t d = 0;
		uint64_t rg, wg;

		if (!matched_pd(rows, l->pd_decoders, i, l->pd_fd, e[i].tfd, &d)) {
			bad += !pd_rows__is_wakeup(pid, &e[i]);
			continue;
		}
		rg = pd_rows__word(&rows[d], i, l->pd_rg);
		wg = pd_rows__word(&rows[d], i, l->pd_wg);
		if ((rg > PD_WAIT && !g_word(rg)) || (wg > PD_WAIT && !g_word(wg))) {
			bad++;
			continue;
		}
		matched++;
		for (int w = 0; w < 2; w++) {
			uint64_t g = w ? wg : rg;

			if (g <= PD_WAIT)
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				*out = xrealloc(*out, cap * sizeof(**out));
			}
			(*out)[(*n)++] = (struct go_netwait){.g = g, .fd = e[i].tfd, .write = w};
		}
	}
	for (size_t d = 0; d < ARRAY_SIZE(decoders); d++)
		pd_rows__free(&rows[d]);
	free(e);
	if (!err && bad > matched)
		err = -EBADMSG;
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
		return err == -ESRCH || !procfs__exists(pid) ? -ESRCH : err;
	}
	if (unread)
		*unread = bad;
	return 0;
}
