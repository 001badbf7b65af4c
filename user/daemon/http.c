// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/http.h"
#include "daemon/webconfig.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
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
#define PEM_MAX		     (1 << 20)	 /* a certificate chain, a key, a CA bundle */
#define REALM		     "strand"

struct http_request {
	struct MHD_Connection *conn;
	bool authenticated;
};

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler fn;
	void *ctx;
	const struct web_config *web; /* the caller's; NULL: plain, open */
	char *cert, *key, *ca;	      /* PEM, as libmicrohttpd takes them */
	/* The last credentials a bcrypt check let in: a scrape every 15 s costs one
	 * comparison, not one bcrypt (tens of ms by design). */
	pthread_mutex_t lock;
	char *last_ok;
};

const char *http_request__arg(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool http_request__from_loopback(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

bool http_request__authenticated(struct http_request *req)
{
	return req->authenticated;
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

static enum MHD_Result reply(const struct http_server *s, struct MHD_Connection *conn,
			     struct http_response *res)
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
	/* http_server_config's headers (Strict-Transport-Security ...), as the exporters add */
	for (size_t i = 0; s->web && i < s->web->nheaders; i++)
		MHD_add_response_header(r, s->web->headers[i].name, s->web->headers[i].value);
	ok = MHD_queue_response(conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	return ok;
}

/* The client's certificate as the web configuration's client_auth_type asks: 0, or why
 * the request is refused. GnuTLS has checked it against the CA in the handshake only as far
 * as asking for it: here it is verified (chain, dates) where it must be. */
static const char *client_cert(const struct http_server *s, struct MHD_Connection *conn,
			       bool *verified)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t session;
	unsigned int status = 0, n = 0;
	enum web_client_auth mode = s->web->client_auth;

	*verified = false;
	if (!s->web->tls || mode == WEB_NO_CLIENT_CERT)
		return NULL;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	session = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!session || !gnutls_certificate_get_peers(session, &n) || !n)
		return mode == WEB_REQUIRE_ANY_CLIENT_CERT ||
				       mode == WEB_REQUIRE_AND_VERIFY_CLIENT_CERT
			       ? "a client certificate is required"
			       : NULL;
	if (mode == WEB_REQUEST_CLIENT_CERT || mode == WEB_REQUIRE_ANY_CLIENT_CERT)
		return NULL;
	if (gnutls_certificate_verify_peers2(session, &status) || status)
		return "the client certificate is not one the configured CA signed (or it "
		       "expired)";
	*verified = true;
	return NULL;
}

/* Whether a and b are the same text, in a time that does not say where they part. */
static bool same_text(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	unsigned char diff = na != nb;

	for (size_t i = 0; i < nb; i++)
		diff |= (unsigned char)(a[i < na ? i : 0] ^ b[i]);
	return !diff;
}

/* Basic authentication against the web configuration's users, if it has any. */
static bool password_ok(struct http_server *s, struct MHD_Connection *conn)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass), *both;
	bool ok = false;

	if (!user || !pass)
		goto out;
	if (asprintf(&both, "%s:%s", user, pass) < 0)
		goto out;
	pthread_mutex_lock(&s->lock);
	ok = s->last_ok && same_text(s->last_ok, both);
	pthread_mutex_unlock(&s->lock);
	if (!ok && web_config__check_user(s->web, user, pass)) {
		ok = true;
		pthread_mutex_lock(&s->lock);
		free(s->last_ok);
		s->last_ok = both;
		both = NULL;
		pthread_mutex_unlock(&s->lock);
	}
	free(both);
out:
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result refuse_unauthenticated(struct MHD_Connection *conn)
{
	static const char body[] = "401 unauthorized: a user and password are required\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ok;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ok = MHD_queue_basic_auth_fail_response(conn, REALM, r);
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
	if (s->web) {
		bool verified;
		const char *refused = client_cert(s, conn, &verified);

		if (refused) {
			http_response__text(&res, MHD_HTTP_FORBIDDEN, "403 forbidden: %s\n",
					    refused);
			return reply(s, conn, &res);
		}
		if (s->web->nusers && !password_ok(s, conn))
			return refuse_unauthenticated(conn);
		req.authenticated = s->web->nusers || verified;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		http_response__text(&res, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		return reply(s, conn, &res);
	}
	s->fn(s->ctx, url, &req, &res);
	if (!res.status)
		http_response__text(&res, 500, "no response\n");
	return reply(s, conn, &res);
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

/* A PEM file whole, for libmicrohttpd (which takes them in memory). */
static char *read_pem(const char *path, const char *what, char *why, size_t why_size)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		snprintf(why, why_size, "cannot read the %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(PEM_MAX + 1);
	n = fread(buf, 1, PEM_MAX + 1, f);
	if (ferror(f) || n > PEM_MAX || !n) {
		snprintf(why, why_size, "cannot read the %s %s: %s", what, path,
			 ferror(f) ? strerror(errno)
			 : n	   ? "larger than 1 MiB"
				   : "empty");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* GnuTLS's priorities for the configured versions (the exporters' default: TLS 1.2 up). */
static void tls_priorities(const struct web_config *web, char *buf, size_t size)
{
	int lo = web->min_version ? web->min_version : 12,
	    hi = web->max_version ? web->max_version : 13;
	size_t at = (size_t)snprintf(buf, size, "NORMAL:-VERS-ALL");

	for (int v = lo; v <= hi && at < size; v++)
		at += (size_t)snprintf(buf + at, size - at, ":+VERS-TLS1.%d", v - 10);
}

static void free_server(struct http_server *s)
{
	free(s->cert);
	free(s->key);
	free(s->ca);
	free(s->last_ok);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct http_server *http__start(const char *addr, const struct web_config *web, http_handler fn,
				void *ctx, char *why, size_t why_size)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
	char priorities[128] = "";
	bool loopback;

	pthread_mutex_init(&s->lock, NULL);
	s->web = web;
	if (web && web->tls) {
		if (web->client_auth != WEB_NO_CLIENT_CERT && !web->client_ca_file) {
			snprintf(why, why_size,
				 "client_auth_type other than NoClientCert needs a "
				 "client_ca_file: the CA's names are what asks a "
				 "client for its certificate");
			free_server(s);
			return NULL;
		}
		if (!(s->cert = read_pem(web->cert_file, "certificate", why, why_size)) ||
		    !(s->key = read_pem(web->key_file, "key", why, why_size)) ||
		    (web->client_auth != WEB_NO_CLIENT_CERT &&
		     !(s->ca = read_pem(web->client_ca_file, "client CA", why, why_size)))) {
			free_server(s);
			return NULL;
		}
		flags |= MHD_USE_TLS;
		tls_priorities(web, priorities, sizeof(priorities));
	}

	if (http__parse_addr(addr, &sa, &loopback)) {
		snprintf(why, why_size, "'%s' is not HOST:PORT", addr);
		free(s);
		return NULL;
	}
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->fn = fn;
	s->ctx = ctx;
	/* the TLS options are given only with TLS: libmicrohttpd refuses them otherwise */
	errno = 0;
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_ADDRESS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_PER_CONN,
		MHD_OPTION_EXTERNAL_LOGGER, log_nothing, NULL,
		s->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert,
		MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_HTTPS_PRIORITIES, priorities,
		s->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, s->ca, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(why, why_size, "cannot listen on %s: %s", addr,
			 errno	   ? strerror(errno)
			 : s->cert ? "libmicrohttpd refused (is the key the certificate's, and "
				     "both PEM?)"
				   : "libmicrohttpd refused");
		free_server(s);
		return NULL;
	}
	return s;
}

void http__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	free_server(s);
}
