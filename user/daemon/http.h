/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's HTTP server (libmicrohttpd): GET and HEAD only, a route table of the
 * caller's, and limits that keep slow clients, huge headers and floods from taking it
 * down: connections in all and per address, a timeout, memory per connection. With a web
 * configuration (daemon/webconfig.h, the Prometheus exporters' format): TLS (GnuTLS,
 * through libmicrohttpd), client certificates verified against a CA, and basic
 * authentication of bcrypt-hashed users, as the exporters do it.
 */
#ifndef STRAND_HTTP_H
#define STRAND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_request;

struct http_response {
	int status;	  /* 200, 400, 404, ... */
	const char *type; /* Content-Type */
	char *body;	  /* malloc'd, taken by the server */
	size_t len;
};

/* A query parameter of the request, NULL when absent. */
const char *http_request__arg(struct http_request *req, const char *name);
/* Whether the request came from a loopback address. */
bool http_request__from_loopback(struct http_request *req);
/* Whether the request was let in by a user's password or a verified client certificate
 * (false where the web configuration asks for neither). */
bool http_request__authenticated(struct http_request *req);

typedef void (*http_handler)(void *ctx, const char *path, struct http_request *req,
			     struct http_response *res);

struct http_server;

struct web_config;

/* Listens on addr ("127.0.0.1:9464", "[::1]:9464", ":9464" for every address), with TLS
 * and authentication as web says (NULL: plain HTTP, anyone; web is the caller's, kept until
 * http__stop); NULL with why said when it cannot (an address, a certificate or key GnuTLS
 * refuses). */
struct http_server *http__start(const char *addr, const struct web_config *web, http_handler fn,
				void *ctx, char *why, size_t why_size);
void http__stop(struct http_server *s);

/* Parses "host:port" into an IPv4 or IPv6 socket address; whether host is a loopback one.
 * 0 or -EINVAL. */
struct sockaddr_storage;
int http__parse_addr(const char *addr, struct sockaddr_storage *out, bool *loopback);

/* A body from printf-style text (for the handlers' messages). */
void http_response__text(struct http_response *res, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* STRAND_HTTP_H */
