// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/http.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_CONNECTIONS     64
#define HTTP_PER_ADDRESS     16
#define HTTP_TIMEOUT_S	     10
#define HTTP_MEMORY_PER_CONN (32 * 1024) /* request line and headers must fit */

struct http_request {
	struct MHD_Connection *conn;
};

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler fn;
	void *ctx;
};

const char *http_request__arg(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_response__text(struct http_response *res, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&res->body, fmt, ap);
	va_end(ap);
	if (n < 0) {
		res->body = NULL;
		n = 0;
	}
	res->status = status;
	res->type = "text/plain; charset=utf-8";
	res->len = (size_t)n;
}

static enum MHD_Result reply(struct MHD_Connection *conn, struct http_response *res)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(res->len, res->body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (!r) {
		free(res->body);
		return MHD_NO;
	}
	if (res->type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ok = MHD_queue_response(conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **state)
{
	static int first_call;
	struct http_server *s = cls;
	struct http_request req = {.conn = conn};
	struct http_response res = {0};

	/* the first call has the headers only: a body (none is wanted) would come after */
	if (!*state) {
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		http_response__text(&res, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		return reply(conn, &res);
	}
	s->fn(s->ctx, url, &req, &res);
	if (!res.status)
		http_response__text(&res, 500, "no response\n");
	return reply(conn, &res);
}

int http__parse_addr(const char *addr, struct sockaddr_storage *out, bool *loopback)
{
	const char *colon = strrchr(addr, ':');
	char host[128];
	char *end;
	long port;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!colon)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port <= 0 || port > 65535)
		return -EINVAL;
	n = (size_t)(colon - addr);
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = '\0';
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;

		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
		return 0;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;

	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	if (!*host) {
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (!strcmp(host, "localhost")) {
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
		return -EINVAL;
	}
	*loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
	return 0;
}

static void log_nothing(void *cls, const char *fmt, va_list ap)
{
}

struct http_server *http__start(const char *addr, http_handler fn, void *ctx, char *why,
				size_t why_size)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	bool loopback;

	if (http__parse_addr(addr, &sa, &loopback)) {
		snprintf(why, why_size, "'%s' is not HOST:PORT", addr);
		free(s);
		return NULL;
	}
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->fn = fn;
	s->ctx = ctx;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)HTTP_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned)HTTP_PER_ADDRESS, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				  (size_t)HTTP_MEMORY_PER_CONN, MHD_OPTION_EXTERNAL_LOGGER,
				  log_nothing, NULL, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(why, why_size, "cannot listen on %s: %s", addr,
			 errno ? strerror(errno) : "libmicrohttpd refused");
		free(s);
		return NULL;
	}
	return s;
}

void http__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free(s);
}
