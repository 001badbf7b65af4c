/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Prometheus exporters' web configuration file (exporter-toolkit's
 * docs/web-configuration.md): TLS and basic authentication, with the toolkit's names,
 * defaults and checks, so one file serves strand and the exporters beside it. What strand
 * cannot honour is refused, not ignored, where ignoring it would let in someone the file
 * keeps out: inline PEM (cert, key, client_ca), client_allowed_sans, rate_limit.
 * cipher_suites, curve_preferences and prefer_server_cipher_suites are checked but not
 * applied (GnuTLS's own choices stand); http2 is checked and has no meaning here.
 */
#ifndef STRAND_WEBCONFIG_H
#define STRAND_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* In the order of how much they ask of a client (callers compare with >=). */
enum web_client_auth {
	WEB_NO_CLIENT_CERT,	     /* NoClientCert (default) */
	WEB_REQUEST_CLIENT_CERT,     /* RequestClientCert */
	WEB_REQUIRE_ANY_CLIENT_CERT, /* RequireAnyClientCert (or its old name RequireClientCert) */
	WEB_VERIFY_CLIENT_CERT_IF_GIVEN,    /* VerifyClientCertIfGiven */
	WEB_REQUIRE_AND_VERIFY_CLIENT_CERT, /* RequireAndVerifyClientCert */
};

struct web_user {
	char *name;
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$ */
};

/* http_server_config's headers, as the toolkit allows them (names it knows, values it
 * accepts); those given blank are left out. */
struct web_header {
	char *name, *value;
};

struct web_config {
	bool tls; /* tls_server_config has a cert_file and a key_file */
	/* absolute: relative ones resolved against the config file's directory, as the
	 * toolkit does; NULL when not given */
	char *cert_file, *key_file, *client_ca_file;
	enum web_client_auth client_auth;
	int min_version; /* 10, 11, 12, 13 (TLS10..TLS13); the toolkit's default is TLS12 */
	int max_version; /* 0: none given (the toolkit's default, TLS13, the highest there is) */
	struct web_user *users; /* basic_auth_users, in the file's order */
	size_t nusers;
	struct web_header *headers;
	size_t nheaders;
};

/*
 * Parses text[0..len) (YAML); relative paths resolved against dir. 0, or -EINVAL with why
 * said ("line 3: unknown field ...", the toolkit's words where it has them); *out is
 * empty after an error (web_config__free is harmless either way).
 */
int web_config__parse(const char *text, size_t len, const char *dir, struct web_config *out,
		      char *why, size_t why_size);
/*
 * Reads and parses path (at most 1 MiB), its relative paths resolved against its own
 * directory made absolute. Then checks that the cert, key and CA files can be opened and
 * read (their contents are GnuTLS's to judge), so that a wrong path is said at start.
 * 0, or -errno (-EINVAL for what the file says) with why said.
 */
int web_config__load(const char *path, struct web_config *out, char *why, size_t why_size);
void web_config__free(struct web_config *c);
/*
 * Whether user and password match a basic_auth_users entry: bcrypt (crypt_rn), the
 * result compared in constant time. An unknown user costs one bcrypt all the same, so
 * that the time taken does not say who exists. False when there are no users.
 */
bool web_config__check_user(const struct web_config *c, const char *user, const char *password);

#endif /* STRAND_WEBCONFIG_H */
