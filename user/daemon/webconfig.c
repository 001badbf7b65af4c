// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/webconfig.h"
#include "daemon/webconfig_priv.h"
#include "lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* "$2y$10$" then 22 characters of salt and 31 of hash */
#define BCRYPT_LEN 60

struct parse {
	yaml_document_t doc;
	const char *dir;
	struct web_config *c;
	char *why;
	size_t why_size;
	/* for the checks made once the whole file is read */
	int tls_line;
	bool client_auth_given;
	int user_line_cap;
	int *user_lines;
};

static int fail(struct parse *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, const yaml_node_t *n, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (!p->why_size)
		return -EINVAL;
	if (n)
		off = (size_t)snprintf(p->why, p->why_size, "line %zu: ", n->start_mark.line + 1);
	if (off < p->why_size) {
		va_start(ap, fmt);
		vsnprintf(p->why + off, p->why_size - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A value of the file as it may be said back: printable, bounded. */
static const char *shown(const yaml_node_t *n, char *buf, size_t size)
{
	size_t w = 0, len = n->data.scalar.length;

	for (size_t i = 0; i < len && w + 4 < size; i++) {
		unsigned char ch = n->data.scalar.value[i];

		buf[w++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (w < len)
		w += (size_t)snprintf(buf + w, size - w, "...");
	buf[w] = '\0';
	return buf;
}

static const char *kind_of(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a mapping";
	}
}

static const yaml_node_t *node(struct parse *p, int index)
{
	return yaml_document_get_node(&p->doc, index);
}

/* YAML's null (a key with nothing after it, ~, null): the field's default, as yaml.v2
 * leaves it */
static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL"};
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	if (!n->data.scalar.length)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(v, nulls[i]))
			return true;
	return false;
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n->data.scalar.length == strlen(s) && !memcmp(n->data.scalar.value, s, strlen(s));
}

/* A string field: NULL for null or empty (not given, to the toolkit too). */
static int get_string(struct parse *p, const yaml_node_t *n, const char *what, char **out)
{
	*out = NULL;
	if (n->type != YAML_SCALAR_NODE)
		return fail(p, n, "%s: a string is expected, not %s", what, kind_of(n));
	if (is_null(n) || !n->data.scalar.length)
		return 0;
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return fail(p, n, "%s: a NUL character in the value", what);
	*out = xstrdup((const char *)n->data.scalar.value);
	return 0;
}

/* yaml.v2's booleans (YAML 1.1's) */
static int get_bool(struct parse *p, const yaml_node_t *n, const char *what, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
					  "on",	  "On",	  "ON",	  "y",	 "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
					 "off",	  "Off",   "OFF",   "n",  "N"};
	char buf[48];

	if (n->type != YAML_SCALAR_NODE)
		return fail(p, n, "%s: true or false is expected, not %s", what, kind_of(n));
	if (is_null(n))
		return 0;
	/* quoted, "true" is a string to yaml.v2 */
	for (size_t i = 0; n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && i < ARRAY_SIZE(yes);
	     i++) {
		if (scalar_is(n, yes[i]) || scalar_is(n, no[i])) {
			*out = scalar_is(n, yes[i]);
			return 0;
		}
	}
	return fail(p, n, "%s: true or false is expected, not \"%s\"", what,
		    shown(n, buf, sizeof(buf)));
}

void web_config__clean_path(const char *in, char *out)
{
	bool rooted = in[0] == '/';
	size_t w = 0, floor = 0; /* out[0..floor) is not undone by a ".." */

	if (rooted)
		out[w++] = '/', floor = 1;
	for (const char *s = in; *s;) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchrnul(s, '/');
		n = (size_t)(e - s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (w > floor) {
				while (w > floor && out[w - 1] != '/')
					w--;
				if (w > floor)
					w--;
			} else if (!rooted) {
				if (w)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				floor = w;
			}
		} else if (!(n == 1 && s[0] == '.')) {
			if (w > (rooted ? 1u : 0u))
				out[w++] = '/';
			memcpy(out + w, s, n);
			w += n;
		}
		s = e;
	}
	if (!w)
		out[w++] = '.';
	out[w] = '\0';
}

/* config_util.JoinDir: an absolute path is kept as it is written */
static char *resolve(const char *dir, char *path)
{
	size_t len;
	char *in, *out;

	if (!path || path[0] == '/')
		return path;
	len = strlen(dir) + strlen(path) + 2;
	in = xmalloc(len);
	out = xmalloc(len + 1);
	snprintf(in, len, "%s/%s", dir, path);
	web_config__clean_path(in, out);
	free(in);
	free(path);
	return out;
}

/* Fields of a section: given once each, none else (yaml.v2's UnmarshalStrict). */
static int field_of(struct parse *p, const yaml_node_t *key, const char *section,
		    const char *const *names, size_t n, uint32_t *seen)
{
	char buf[48];

	if (key->type != YAML_SCALAR_NODE)
		return fail(p, key, "%s: a field name is expected, not %s", section, kind_of(key));
	for (size_t i = 0; i < n; i++) {
		if (!scalar_is(key, names[i]))
			continue;
		if (*seen & (1u << i))
			return fail(p, key, "field %s already set in %s", names[i], section);
		*seen |= 1u << i;
		return (int)i;
	}
	if (scalar_is(key, "<<"))
		return fail(p, key, "%s: merge keys (<<) are not supported", section);
	return fail(p, key, "unknown field \"%s\" in %s", shown(key, buf, sizeof(buf)), section);
}

/* A section's value: a mapping, or null for an empty one. */
static int section(struct parse *p, const yaml_node_t *n, const char *name)
{
	if (n->type == YAML_MAPPING_NODE || is_null(n))
		return 0;
	return fail(p, n, "%s: a mapping is expected, not %s", name, kind_of(n));
}

/* The names Go's tls.CipherSuites() has had (its insecure ones are not taken). */
static const char *const ciphers[] = {
	"TLS_RSA_WITH_AES_128_CBC_SHA",
	"TLS_RSA_WITH_AES_256_CBC_SHA",
	"TLS_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
};
static const char *const curves[] = {"CurveP256", "CurveP384", "CurveP521", "X25519"};

/* A list of names from a table: checked only, as the toolkit would refuse what it does not
 * know. */
static int names_list(struct parse *p, const yaml_node_t *n, const char *what,
		      const char *const *names, size_t count, const char *unknown)
{
	char buf[64];

	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, "%s: a list is expected, not %s", what, kind_of(n));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		const yaml_node_t *item = node(p, *it);
		size_t i = 0;

		if (!item || item->type != YAML_SCALAR_NODE)
			return fail(p, item ? item : n, "%s: a list of names is expected", what);
		while (i < count && !scalar_is(item, names[i]))
			i++;
		if (i == count)
			return fail(p, item, "%s: %s: %s", what, unknown,
				    shown(item, buf, sizeof(buf)));
	}
	return 0;
}

static int tls_version(struct parse *p, const yaml_node_t *n, const char *what, int *out)
{
	static const char *const names[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
	char buf[48];

	if (n->type != YAML_SCALAR_NODE)
		return fail(p, n, "%s: a string is expected, not %s", what, kind_of(n));
	if (is_null(n))
		return 0;
	for (int i = 0; i < (int)ARRAY_SIZE(names); i++) {
		if (scalar_is(n, names[i])) {
			*out = 10 + i;
			return 0;
		}
	}
	return fail(p, n, "%s: unknown TLS version: %s", what, shown(n, buf, sizeof(buf)));
}

static int client_auth(struct parse *p, const yaml_node_t *n)
{
	static const struct {
		const char *name;
		enum web_client_auth mode;
	} modes[] = {
		{"NoClientCert", WEB_NO_CLIENT_CERT},
		{"RequestClientCert", WEB_REQUEST_CLIENT_CERT},
		{"RequireAnyClientCert", WEB_REQUIRE_ANY_CLIENT_CERT},
		{"RequireClientCert", WEB_REQUIRE_ANY_CLIENT_CERT}, /* the toolkit's old name */
		{"VerifyClientCertIfGiven", WEB_VERIFY_CLIENT_CERT_IF_GIVEN},
		{"RequireAndVerifyClientCert", WEB_REQUIRE_AND_VERIFY_CLIENT_CERT},
	};
	char buf[48];

	if (n->type != YAML_SCALAR_NODE)
		return fail(p, n, "client_auth_type: a string is expected, not %s", kind_of(n));
	/* "" is NoClientCert to the toolkit, but does not turn TLS on */
	if (is_null(n) || !n->data.scalar.length)
		return 0;
	p->client_auth_given = true;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		if (scalar_is(n, modes[i].name)) {
			p->c->client_auth = modes[i].mode;
			return 0;
		}
	}
	return fail(p, n, "client_auth_type: invalid ClientAuth: %s", shown(n, buf, sizeof(buf)));
}

/* Fields the toolkit has that strand cannot do: refused when given, so that nobody relies
 * on them unknowingly. */
static int not_supported(struct parse *p, const yaml_node_t *n, const char *field,
			 const char *instead)
{
	if (is_null(n) || (n->type == YAML_SCALAR_NODE && !n->data.scalar.length))
		return 0;
	return fail(p, n, "%s is not supported by strand%s%s", field, instead ? ": " : "",
		    instead ? instead : "");
}

enum tls_field {
	T_CERT_FILE,
	T_KEY_FILE,
	T_CLIENT_AUTH_TYPE,
	T_CLIENT_CA_FILE,
	T_MIN_VERSION,
	T_MAX_VERSION,
	T_CIPHER_SUITES,
	T_CURVE_PREFERENCES,
	T_PREFER_SERVER_CIPHER_SUITES,
	T_CERT,
	T_KEY,
	T_CLIENT_CA,
	T_CLIENT_ALLOWED_SANS,
	T_FIELDS,
};

static int tls_server_config(struct parse *p, const yaml_node_t *n)
{
	static const char *const names[T_FIELDS] = {
		[T_CERT_FILE] = "cert_file",
		[T_KEY_FILE] = "key_file",
		[T_CLIENT_AUTH_TYPE] = "client_auth_type",
		[T_CLIENT_CA_FILE] = "client_ca_file",
		[T_MIN_VERSION] = "min_version",
		[T_MAX_VERSION] = "max_version",
		[T_CIPHER_SUITES] = "cipher_suites",
		[T_CURVE_PREFERENCES] = "curve_preferences",
		[T_PREFER_SERVER_CIPHER_SUITES] = "prefer_server_cipher_suites",
		[T_CERT] = "cert",
		[T_KEY] = "key",
		[T_CLIENT_CA] = "client_ca",
		[T_CLIENT_ALLOWED_SANS] = "client_allowed_sans",
	};
	struct web_config *c = p->c;
	uint32_t seen = 0;
	int err = section(p, n, "tls_server_config");
	bool prefer;

	if (err || n->type != YAML_MAPPING_NODE)
		return err;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		const yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		int f = field_of(p, k, "tls_server_config", names, T_FIELDS, &seen);

		if (f < 0)
			return f;
		switch ((enum tls_field)f) {
		case T_CERT_FILE:
			err = get_string(p, v, names[f], &c->cert_file);
			break;
		case T_KEY_FILE:
			err = get_string(p, v, names[f], &c->key_file);
			break;
		case T_CLIENT_AUTH_TYPE:
			err = client_auth(p, v);
			break;
		case T_CLIENT_CA_FILE:
			err = get_string(p, v, names[f], &c->client_ca_file);
			break;
		case T_MIN_VERSION:
			err = tls_version(p, v, names[f], &c->min_version);
			break;
		case T_MAX_VERSION:
			err = tls_version(p, v, names[f], &c->max_version);
			break;
		/* The next three are checked, not applied: libmicrohttpd gives GnuTLS one
		 * priority string, which says versions; GnuTLS's own ciphers, curves and order
		 * stand, those of a current TLS library. */
		case T_CIPHER_SUITES:
			err = names_list(p, v, names[f], ciphers, ARRAY_SIZE(ciphers),
					 "unknown cipher");
			break;
		case T_CURVE_PREFERENCES:
			err = names_list(p, v, names[f], curves, ARRAY_SIZE(curves),
					 "unknown curve");
			break;
		case T_PREFER_SERVER_CIPHER_SUITES:
			err = get_bool(p, v, names[f], &prefer);
			break;
		/* The daemon hands GnuTLS files; PEM kept in this file instead would need a
		 * second way in for a rare use. */
		case T_CERT:
			err = not_supported(p, v, "cert (inline PEM)", "use cert_file");
			break;
		case T_KEY:
			err = not_supported(p, v, "key (inline PEM)", "use key_file");
			break;
		case T_CLIENT_CA:
			err = not_supported(p, v, "client_ca (inline PEM)", "use client_ca_file");
			break;
		case T_CLIENT_ALLOWED_SANS:
			err = not_supported(p, v, "client_allowed_sans",
					    "every certificate client_ca_file verifies is let in");
			break;
		case T_FIELDS:
			break;
		}
		if (err)
			return err;
	}
	return 0;
}

/* validateHeaderConfig: the headers the toolkit lets one set, and the values it takes
 * where they are an enumeration. */
static int header(struct parse *p, const yaml_node_t *k, const yaml_node_t *v)
{
	static const struct {
		const char *name;
		const char *values[2];
	} allowed[] = {
		{"Strict-Transport-Security", {NULL}},
		{"X-Content-Type-Options", {"nosniff"}},
		{"X-Frame-Options", {"deny", "sameorigin"}},
		{"X-XSS-Protection", {NULL}},
		{"Content-Security-Policy", {NULL}},
	};
	struct web_config *c = p->c;
	char buf[64], *value;
	size_t i = 0;
	int err;

	if (k->type != YAML_SCALAR_NODE)
		return fail(p, k, "headers: a header name is expected, not %s", kind_of(k));
	while (i < ARRAY_SIZE(allowed) && !scalar_is(k, allowed[i].name))
		i++;
	if (i == ARRAY_SIZE(allowed))
		return fail(p, k, "HTTP header \"%s\" can not be configured",
			    shown(k, buf, sizeof(buf)));
	for (size_t h = 0; h < c->nheaders; h++)
		if (!strcmp(c->headers[h].name, allowed[i].name))
			return fail(p, k, "key \"%s\" already set in headers", allowed[i].name);
	err = get_string(p, v, allowed[i].name, &value);
	if (err)
		return err;
	if (allowed[i].values[0]) {
		const char *const *ok = allowed[i].values;

		if (!value ||
		    !((ok[0] && !strcmp(value, ok[0])) || (ok[1] && !strcmp(value, ok[1])))) {
			free(value);
			return fail(p, v,
				    "invalid value for %s. Expected one of: [\"%s\"%s%s%s], but "
				    "got: \"%s\"",
				    allowed[i].name, ok[0], ok[1] ? " \"" : "", ok[1] ? ok[1] : "",
				    ok[1] ? "\"" : "",
				    v->type == YAML_SCALAR_NODE && !is_null(v)
					    ? shown(v, buf, sizeof(buf))
					    : "");
		}
	}
	/* the document's "Unset if blank" */
	if (!value)
		return 0;
	c->headers = xrealloc(c->headers, (c->nheaders + 1) * sizeof(*c->headers));
	c->headers[c->nheaders].name = xstrdup(allowed[i].name);
	c->headers[c->nheaders++].value = value;
	return 0;
}

static int http_server_config(struct parse *p, const yaml_node_t *n)
{
	static const char *const names[] = {"http2", "headers"};
	uint32_t seen = 0;
	int err = section(p, n, "http_server_config");
	bool http2;

	if (err || n->type != YAML_MAPPING_NODE)
		return err;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		const yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		int f = field_of(p, k, "http_server_config", names, ARRAY_SIZE(names), &seen);

		if (f < 0)
			return f;
		if (f == 0) {
			/* libmicrohttpd speaks HTTP/1.1 alone: there is nothing to turn off */
			err = get_bool(p, v, "http2", &http2);
		} else if (v->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *h = v->data.mapping.pairs.start;
			     h < v->data.mapping.pairs.top && !err; h++)
				err = header(p, node(p, h->key), node(p, h->value));
		} else if (!is_null(v)) {
			err = fail(p, v, "headers: a mapping is expected, not %s", kind_of(v));
		}
		if (err)
			return err;
	}
	return 0;
}

/* What bcrypt.Cost accepts, narrowed to the versions libxcrypt and htpasswd write. */
static int check_hash(struct parse *p, const yaml_node_t *v, const char *name, const char *hash)
{
	static const char b64[] =
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = hash ? strlen(hash) : 0;
	int cost;

	/* the toolkit's (Go's bcrypt's) words */
	if (len < BCRYPT_LEN - 1)
		return fail(
			p, v,
			"basic_auth_users: %s: hashedSecret too short to be a bcrypted password",
			name);
	if (len != BCRYPT_LEN || hash[0] != '$' || hash[1] != '2' || !hash[2] ||
	    !strchr("aby", hash[2]) || hash[3] != '$' || hash[4] < '0' || hash[4] > '9' ||
	    hash[5] < '0' || hash[5] > '9' || hash[6] != '$' ||
	    strspn(hash + 7, b64) != BCRYPT_LEN - 7)
		return fail(p, v,
			    "basic_auth_users: %s: not a bcrypt hash ($2a$, $2b$ or $2y$, a cost, "
			    "then 53 characters of salt and hash)",
			    name);
	cost = (hash[4] - '0') * 10 + hash[5] - '0';
	if (cost < 4 || cost > 31)
		return fail(p, v, "basic_auth_users: %s: cost %d is outside allowed range (4,31)",
			    name, cost);
	return 0;
}

struct user_ref {
	const char *name;
	size_t index;
};

static int by_name(const void *a, const void *b)
{
	const struct user_ref *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	return d ? d : (x->index > y->index) - (x->index < y->index);
}

/* A name given twice is refused (yaml.v2's strict map), found by sorting: a file of many
 * users must not take a square of them. */
static int unique_users(struct parse *p)
{
	struct web_config *c = p->c;
	struct user_ref *refs;
	int err = 0;

	if (c->nusers < 2)
		return 0;
	refs = xcalloc(c->nusers, sizeof(*refs));
	for (size_t i = 0; i < c->nusers; i++)
		refs[i] = (struct user_ref){c->users[i].name, i};
	qsort(refs, c->nusers, sizeof(*refs), by_name);
	for (size_t i = 1; i < c->nusers && !err; i++) {
		if (!strcmp(refs[i - 1].name, refs[i].name)) {
			char buf[48];
			yaml_node_t at = {.start_mark.line = (size_t)p->user_lines[refs[i].index]};

			snprintf(buf, sizeof(buf), "%.40s%s", refs[i].name,
				 strlen(refs[i].name) > 40 ? "..." : "");
			err = fail(p, &at, "key \"%s\" already set in basic_auth_users", buf);
		}
	}
	free(refs);
	return err;
}

static int basic_auth_users(struct parse *p, const yaml_node_t *n)
{
	struct web_config *c = p->c;
	int err = section(p, n, "basic_auth_users");

	if (err || n->type != YAML_MAPPING_NODE)
		return err;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		const yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		char *name, *hash;

		if (k->type != YAML_SCALAR_NODE)
			return fail(p, k, "basic_auth_users: a user name is expected, not %s",
				    kind_of(k));
		if (strlen((const char *)k->data.scalar.value) != k->data.scalar.length)
			return fail(p, k, "basic_auth_users: a NUL character in a user name");
		if (!(v->type == YAML_SCALAR_NODE || is_null(v)))
			return fail(p, v, "basic_auth_users: a bcrypt hash is expected, not %s",
				    kind_of(v));
		/* yaml.v2 takes null as "": a user named ~ is "" to it too */
		name = xstrdup(is_null(k) ? "" : (const char *)k->data.scalar.value);
		err = get_string(p, v, "basic_auth_users", &hash);
		if (!err)
			err = check_hash(p, v, name, hash);
		if (err) {
			free(name);
			free(hash);
			return err;
		}
		if (c->nusers == (size_t)p->user_line_cap) {
			p->user_line_cap = p->user_line_cap ? 2 * p->user_line_cap : 8;
			p->user_lines = xrealloc(p->user_lines,
						 (size_t)p->user_line_cap * sizeof(*p->user_lines));
			c->users = xrealloc(c->users, (size_t)p->user_line_cap * sizeof(*c->users));
		}
		p->user_lines[c->nusers] = (int)k->start_mark.line;
		c->users[c->nusers++] = (struct web_user){name, hash};
	}
	return unique_users(p);
}

/* What ConfigToTLSConfig refuses, and what strand refuses beyond it. */
static int check_tls(struct parse *p)
{
	static const char *const auth_names[] = {
		"NoClientCert",
		"RequestClientCert",
		"RequireAnyClientCert",
		"VerifyClientCertIfGiven",
		"RequireAndVerifyClientCert",
	};
	struct web_config *c = p->c;
	yaml_node_t at = {.start_mark.line = (size_t)p->tls_line};
	const yaml_node_t *where = p->tls_line >= 0 ? &at : NULL;

	/* the toolkit's TLSConfig.IsEnabled: any of these asks for TLS */
	if (!c->cert_file && !c->key_file && !c->client_ca_file && !p->client_auth_given)
		return 0;
	if (!c->cert_file)
		return fail(p, where, "tls_server_config: missing cert_file");
	if (!c->key_file)
		return fail(p, where, "tls_server_config: missing key_file");
	if (c->client_ca_file && c->client_auth == WEB_NO_CLIENT_CERT)
		return fail(
			p, where,
			"tls_server_config: client CA's have been configured without a Client "
			"Auth Policy (client_ca_file given but client_auth_type is NoClientCert)");
	/* Go would verify against the system's CAs, which would let in anyone a public CA
	 * vouches for: strand wants the CA named */
	if (c->client_auth >= WEB_VERIFY_CLIENT_CERT_IF_GIVEN && !c->client_ca_file)
		return fail(p, where,
			    "tls_server_config: client_auth_type %s verifies client certificates: "
			    "client_ca_file is required",
			    auth_names[c->client_auth]);
	if (c->max_version && c->min_version > c->max_version)
		return fail(p, where,
			    "tls_server_config: min_version TLS%d is above max_version TLS%d",
			    c->min_version, c->max_version);
	c->tls = true;
	return 0;
}

static int parse_root(struct parse *p)
{
	static const char *const names[] = {"tls_server_config", "http_server_config",
					    "basic_auth_users", "rate_limit"};
	const yaml_node_t *root = yaml_document_get_root_node(&p->doc);
	uint32_t seen = 0;
	int err = 0;

	if (!root || is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail(p, root, "the web configuration must be a mapping, not %s",
			    kind_of(root));
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top && !err; pair++) {
		const yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
		int f = field_of(p, k, "the web configuration", names, ARRAY_SIZE(names), &seen);

		switch (f) {
		case 0:
			p->tls_line = (int)k->start_mark.line;
			err = tls_server_config(p, v);
			break;
		case 1:
			err = http_server_config(p, v);
			break;
		case 2:
			err = basic_auth_users(p, v);
			break;
		case 3:
			/* libmicrohttpd's limits per client stand; a token bucket for all
			 * would be a second, different policy */
			err = not_supported(p, v, "rate_limit", NULL);
			break;
		default:
			err = f;
		}
	}
	return err ? err : check_tls(p);
}

int web_config__parse(const char *text, size_t len, const char *dir, struct web_config *out,
		      char *why, size_t why_size)
{
	struct parse p = {
		.dir = dir ? dir : ".", .c = out, .why = why, .why_size = why_size, .tls_line = -1};
	yaml_parser_t parser;
	int err;

	memset(out, 0, sizeof(*out));
	out->min_version = 12;
	if (why_size)
		why[0] = '\0';
	if (!yaml_parser_initialize(&parser))
		return fail(&p, NULL, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	/* the first document alone, as yaml.v2's Unmarshal reads it */
	if (!yaml_parser_load(&parser, &p.doc)) {
		yaml_node_t at = {.start_mark = parser.problem_mark};

		if (parser.error == YAML_READER_ERROR)
			err = fail(&p, NULL, "yaml: %s at byte %zu",
				   parser.problem ? parser.problem : "unreadable",
				   parser.problem_offset);
		else
			err = fail(&p, &at, "yaml: %s%s%s", parser.context ? parser.context : "",
				   parser.context ? ", " : "",
				   parser.problem ? parser.problem : "invalid");
		yaml_parser_delete(&parser);
		return err;
	}
	err = parse_root(&p);
	yaml_document_delete(&p.doc);
	yaml_parser_delete(&parser);
	free(p.user_lines);
	if (err) {
		web_config__free(out);
		return err;
	}
	out->cert_file = resolve(p.dir, out->cert_file);
	out->key_file = resolve(p.dir, out->key_file);
	out->client_ca_file = resolve(p.dir, out->client_ca_file);
	return 0;
}

void web_config__free(struct web_config *c)
{
	if (!c)
		return;
	free(c->cert_file);
	free(c->key_file);
	free(c->client_ca_file);
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		free(c->users[i].hash);
	}
	free(c->users);
	for (size_t i = 0; i < c->nheaders; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
	memset(c, 0, sizeof(*c));
}
