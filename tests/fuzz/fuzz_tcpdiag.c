// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer: a SOCK_DIAG_BY_FAMILY reply, as the kernel would hand it to recvmsg, through
 * tcpdiag__parse; what it fills then through the speaker and the text made of it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/tcpdiag.h"

/* The fields of a group the kernel did not send read 0. */
static void check(const struct tcp_diag *d)
{
	if ((!(d->have & TCPDIAG_HAVE_LAST) &&
	     (d->last_data_sent_ms || d->last_data_recv_ms || d->last_ack_recv_ms)) ||
	    (!(d->have & TCPDIAG_HAVE_BYTES) && (d->bytes_acked || d->bytes_received)) ||
	    (!(d->have & TCPDIAG_HAVE_SEGS) && (d->data_segs_in || d->data_segs_out)) ||
	    (!(d->have & TCPDIAG_HAVE_BYTES_SENT) && d->bytes_sent) ||
	    (!(d->have & TCPDIAG_HAVE_UNACKED) && d->unacked))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the inodes of the seeds (tests/fuzz/corpus), one of them twice, and 0 */
	struct tcp_diag socks[] = {{.inode = 7770015}, {.inode = 7770016}, {.inode = 7770017},
				   {.inode = 7770016}, {.inode = 7769073}, {.inode = 7769074},
				   {.inode = 7769075}, {.inode = 0}};
	char text[256];
	bool done;
	int got;

	tcpdiag__sort(socks, sizeof(socks) / sizeof(socks[0]));
	got = tcpdiag__parse(data, size, socks, sizeof(socks) / sizeof(socks[0]), &done);
	/* an error the kernel could send, or at most one socket per 16-byte header */
	if (got < -4095 || (got > 0 && (size_t)got > size / 16))
		abort();
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		if (!socks[i].found)
			continue;
		if (!socks[i].inode)
			abort();
		check(&socks[i]);
		tcpdiag__last_speaker(&socks[i]);
		tcpdiag__format(&socks[i], text, sizeof(text));
		if (strlen(text) >= sizeof(text))
			abort();
		tcpdiag__format(&socks[i], text, 8); /* cut short */
	}
	return 0;
}
