// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The exporters' web configuration file (daemon/webconfig.h): every field and its default,
 * each refusal with the line and the toolkit's words, paths resolved as the toolkit does,
 * the files checked at load, and bcrypt passwords (hashes made here and one made by Go). */
#include "unit.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/webconfig.h"

/* bcrypt("fakepassword") by Go's golang.org/x/crypto/bcrypt: the toolkit's own */
#define GO_HASH "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
/* a well-formed hash of an unknown password, for the parse tests */
#define HASH "$2b$04$abcdefghijklmnopqrstuu5Z8i1yM1N0t2qT5F8kTq3sQvVb0E7mW"

static int parse(const char *text, struct web_config *c, char *why, size_t size)
{
	return web_config__parse(text, strlen(text), "/etc/strand", c, why, size);
}

/* text is refused, with a message containing want (and the line, when given) */
static void expect_error(const char *text, const char *want)
{
	struct web_config c;
	char why[256];
	int err = parse(text, &c, why, sizeof(why));

	UNIT_CHECK(err == -EINVAL, "%s: got %d, expected -EINVAL", text, err);
	UNIT_CHECK(strstr(why, want), "%s: why '%s', expected '%s' in it", text, why, want);
	/* nothing left behind to free, nothing half-made to use */
	ASSERT_TRUE(!c.tls && !c.cert_file && !c.key_file && !c.client_ca_file && !c.users &&
		    !c.nusers && !c.headers);
	web_config__free(&c);
}

static void expect_ok(const char *text, struct web_config *c)
{
	char why[256] = "";
	int err = parse(text, c, why, sizeof(why));

	UNIT_CHECK(!err, "%s: got %d: %s", text, err, why);
}

static void test_empty_and_defaults(void)
{
	static const char *const empties[] = {
		"",
		"\n",
		"# nothing\n",
		"---\n",
		"~\n",
		"tls_server_config:\n",
		"http_server_config: {}\nbasic_auth_users: {}\n",
		/* TLS fields that do not turn TLS on (the toolkit's IsEnabled) */
		"tls_server_config:\n  min_version: TLS13\n  cipher_suites: "
		"[TLS_AES_128_GCM_SHA256]\n",
		"tls_server_config:\n  cert_file: ''\n  client_auth_type: \"\"\n",
	};

	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		struct web_config c;

		expect_ok(empties[i], &c);
		UNIT_CHECK(!c.tls && !c.cert_file && !c.key_file && !c.client_ca_file &&
				   !c.nusers && !c.users && !c.nheaders,
			   "'%s': nothing configured", empties[i]);
		ASSERT_EQ(c.client_auth, WEB_NO_CLIENT_CERT);
		ASSERT_EQ(c.min_version, i == 7 ? 13 : 12);
		ASSERT_EQ(c.max_version, 0);
		web_config__free(&c);
	}
}

static void test_every_field(void)
{
	struct web_config c;

	expect_ok("# as the toolkit's docs write it\n"
		  "tls_server_config:\n"
		  "  cert_file: tls/server.crt\n"
		  "  key_file: \"../keys/./server.key\"\n"
		  "  client_auth_type: RequireAndVerifyClientCert\n"
		  "  client_ca_file: /etc/pki/ca.pem\n"
		  "  min_version: TLS11\n"
		  "  max_version: TLS13\n"
		  "  cipher_suites:\n"
		  "    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
		  "    - TLS_AES_256_GCM_SHA384\n"
		  "  curve_preferences: [X25519, CurveP256]\n"
		  "  prefer_server_cipher_suites: false\n"
		  "http_server_config:\n"
		  "  http2: false\n"
		  "  headers:\n"
		  "    X-Frame-Options: deny\n"
		  "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
		  "    X-Content-Type-Options: nosniff\n"
		  "    X-XSS-Protection: 1\n"
		  "    Content-Security-Policy: \"default-src 'self'\"\n"
		  "basic_auth_users:\n"
		  "  alice: " HASH "\n"
		  "  'bob smith': &h " GO_HASH "\n"
		  "  carol: *h\n",
		  &c);
	ASSERT_TRUE(c.tls);
	ASSERT_STREQ(c.cert_file, "/etc/strand/tls/server.crt");
	ASSERT_STREQ(c.key_file, "/etc/keys/server.key");
	ASSERT_STREQ(c.client_ca_file, "/etc/pki/ca.pem");
	ASSERT_EQ(c.client_auth, WEB_REQUIRE_AND_VERIFY_CLIENT_CERT);
	ASSERT_EQ(c.min_version, 11);
	ASSERT_EQ(c.max_version, 13);
	if (ASSERT_EQ(c.nusers, 3)) {
		ASSERT_STREQ(c.users[0].name, "alice");
		ASSERT_STREQ(c.users[0].hash, HASH);
		ASSERT_STREQ(c.users[1].name, "bob smith");
		ASSERT_STREQ(c.users[1].hash, GO_HASH);
		ASSERT_STREQ(c.users[2].name, "carol"); /* an alias: the anchored value */
		ASSERT_STREQ(c.users[2].hash, GO_HASH);
	}
	if (ASSERT_EQ(c.nheaders, 5)) {
		ASSERT_STREQ(c.headers[0].name, "X-Frame-Options");
		ASSERT_STREQ(c.headers[0].value, "deny");
		ASSERT_STREQ(c.headers[1].value, "max-age=31536000; includeSubDomains");
		ASSERT_STREQ(c.headers[3].name, "X-XSS-Protection");
		ASSERT_STREQ(c.headers[3].value, "1");
		ASSERT_STREQ(c.headers[4].value, "default-src 'self'");
	}
	web_config__free(&c);
	ASSERT_TRUE(!c.users && !c.cert_file);
	web_config__free(&c); /* twice: harmless */

	/* flow style, YAML 1.1 booleans, a blank header left out */
	expect_ok("{tls_server_config: {cert_file: a.crt, key_file: a.key, "
		  "prefer_server_cipher_suites: yes}, http_server_config: {http2: On, "
		  "headers: {X-XSS-Protection: ''}}}",
		  &c);
	ASSERT_TRUE(c.tls);
	ASSERT_STREQ(c.key_file, "/etc/strand/a.key");
	ASSERT_EQ(c.nheaders, 0);
	web_config__free(&c);
}

static void test_client_auth_types(void)
{
	static const struct {
		const char *name;
		enum web_client_auth mode;
	} modes[] = {
		{"NoClientCert", WEB_NO_CLIENT_CERT},
		{"RequestClientCert", WEB_REQUEST_CLIENT_CERT},
		{"RequireAnyClientCert", WEB_REQUIRE_ANY_CLIENT_CERT},
		{"RequireClientCert", WEB_REQUIRE_ANY_CLIENT_CERT},
		{"VerifyClientCertIfGiven", WEB_VERIFY_CLIENT_CERT_IF_GIVEN},
		{"RequireAndVerifyClientCert", WEB_REQUIRE_AND_VERIFY_CLIENT_CERT},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char text[256];
		struct web_config c;

		snprintf(text, sizeof(text),
			 "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n"
			 "  client_auth_type: %s\n%s",
			 modes[i].name, modes[i].mode ? "  client_ca_file: ca.pem\n" : "");
		expect_ok(text, &c);
		ASSERT_TRUE(c.tls);
		UNIT_CHECK(c.client_auth == modes[i].mode, "%s: %d", modes[i].name, c.client_auth);
		web_config__free(&c);
	}
}

static void test_paths(void)
{
	static const struct {
		const char *dir, *path, *want;
	} cases[] = {
		{"/etc/strand", "s.crt", "/etc/strand/s.crt"},
		{"/etc/strand", "./a//b/../s.crt", "/etc/strand/a/s.crt"},
		{"/etc/strand", "../../../../s.crt", "/s.crt"},
		{"/", "s.crt", "/s.crt"},
		{"/etc/strand/", "tls/", "/etc/strand/tls"},
		{"/etc/strand", "/abs/./kept.crt", "/abs/./kept.crt"}, /* JoinDir keeps it */
		{"rel/dir", "../../../s.crt", "../s.crt"},
		{"rel", "..", "."},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256], why[256];
		struct web_config c;
		int err;

		snprintf(text, sizeof(text),
			 "tls_server_config:\n  cert_file: '%s'\n  key_file: k\n", cases[i].path);
		err = web_config__parse(text, strlen(text), cases[i].dir, &c, why, sizeof(why));
		UNIT_CHECK(!err && c.cert_file && !strcmp(c.cert_file, cases[i].want),
			   "%s + %s: '%s' (%s), expected '%s'", cases[i].dir, cases[i].path,
			   c.cert_file ? c.cert_file : "(null)", err ? why : "ok", cases[i].want);
		web_config__free(&c);
	}
}

static void test_errors(void)
{
	/* strict YAML: fields unknown or given twice, in the toolkit's testdata too */
	expect_error("tls_server_config:\n  cert_filse: \"server.crt\"\n",
		     "line 2: unknown field \"cert_filse\" in tls_server_config");
	expect_error("basic_auth_users: {}\nweb: 1\n",
		     "line 2: unknown field \"web\" in the web configuration");
	expect_error("http_server_config:\n  http3: true\n",
		     "unknown field \"http3\" in http_server_config");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_file: c\n",
		     "line 4: field cert_file already set in tls_server_config");
	expect_error("basic_auth_users: {}\nbasic_auth_users: {}\n",
		     "line 2: field basic_auth_users");
	expect_error("base: &b {cert_file: a}\ntls_server_config:\n  <<: *b\n",
		     "line 1: unknown field \"base\"");
	expect_error("tls_server_config:\n  <<: {cert_file: a}\n",
		     "line 2: tls_server_config: merge keys");
	/* the shape of things */
	expect_error("hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n",
		     "line 1: the web configuration must be a mapping, not a string");
	expect_error("- a\n", "must be a mapping, not a list");
	expect_error("tls_server_config: [a]\n",
		     "line 1: tls_server_config: a mapping is expected");
	expect_error("tls_server_config:\n  cert_file: [a, b]\n",
		     "line 2: cert_file: a string is expected, not a list");
	expect_error("tls_server_config:\n  cert_file: \"a\\0b\"\n  key_file: k\n",
		     "cert_file: a NUL character");
	expect_error("tls_server_config:\n  ? [a]\n  : b\n", "a field name is expected");
	expect_error("tls_server_config:\n  cert_file: a\n key_file: b\n", "line 3: yaml: ");
	expect_error("a: [\n", "yaml: ");
	expect_error("\xff\xfe\xfd", "yaml: ");
	/* TLS, as ConfigToTLSConfig checks it */
	expect_error("tls_server_config:\n  cert_file: a\n",
		     "line 1: tls_server_config: missing key_file");
	expect_error("\ntls_server_config:\n  key_file: a\n",
		     "line 2: tls_server_config: missing cert_file");
	expect_error("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
		     "missing cert_file");
	expect_error("tls_server_config:\n  client_ca_file: ca.pem\n", "missing cert_file");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
		     "client CA's have been configured without a Client Auth Policy");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n"
		     "  client_auth_type: NoClientCert\n",
		     "client_ca_file given but client_auth_type is NoClientCert");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
		     "  client_auth_type: RequireAndVerifyClientCert\n",
		     "client_auth_type RequireAndVerifyClientCert verifies client certificates: "
		     "client_ca_file is required");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
		     "  client_auth_type: VerifyClientCertIfGiven\n",
		     "client_ca_file is required");
	expect_error("tls_server_config:\n  client_auth_type: requireandverifyclientcert\n",
		     "line 2: client_auth_type: invalid ClientAuth: requireandverifyclientcert");
	expect_error("tls_server_config:\n  min_version: TLS14\n",
		     "line 2: min_version: unknown TLS version: TLS14");
	expect_error("tls_server_config:\n  max_version: 1.2\n", "unknown TLS version: 1.2");
	expect_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
		     "  max_version: TLS12\n",
		     "min_version TLS13 is above max_version TLS12");
	expect_error("tls_server_config:\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
		     "line 2: cipher_suites: unknown cipher: TLS_RSA_WITH_RC4_128_SHA");
	expect_error("tls_server_config:\n  cipher_suites: TLS_AES_128_GCM_SHA256\n",
		     "cipher_suites: a list is expected, not a string");
	expect_error("tls_server_config:\n  curve_preferences: [P256]\n", "unknown curve: P256");
	expect_error("tls_server_config:\n  prefer_server_cipher_suites: \"true\"\n",
		     "prefer_server_cipher_suites: true or false is expected");
	expect_error("http_server_config:\n  http2: maybe\n", "http2: true or false is expected");
	/* what strand refuses rather than ignores */
	expect_error("tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n",
		     "line 2: cert (inline PEM) is not supported by strand: use cert_file");
	expect_error("tls_server_config:\n  key: x\n", "key (inline PEM) is not supported");
	expect_error("tls_server_config:\n  client_ca: x\n",
		     "client_ca (inline PEM) is not supported");
	expect_error("tls_server_config:\n  client_allowed_sans: [a.example]\n",
		     "client_allowed_sans is not supported");
	expect_error("rate_limit:\n  interval: 1s\n  burst: 20\n", "rate_limit is not supported");
	/* headers, as validateHeaderConfig checks them */
	expect_error("http_server_config:\n  headers:\n    Content-Type: foo\n",
		     "line 3: HTTP header \"Content-Type\" can not be configured");
	expect_error(
		"http_server_config:\n  headers:\n    X-Frame-Options: foo\n",
		"invalid value for X-Frame-Options. Expected one of: [\"deny\" \"sameorigin\"], "
		"but got: \"foo\"");
	expect_error("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
		     "invalid value for X-Content-Type-Options. Expected one of: [\"nosniff\"]");
	expect_error("http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
		     "    X-Frame-Options: deny\n",
		     "line 4: key \"X-Frame-Options\" already set in headers");
	expect_error("http_server_config:\n  headers: [a]\n", "headers: a mapping is expected");
	/* users: bcrypt hashes only, each name once */
	expect_error("basic_auth_users:\n  john: doe\n",
		     "line 2: basic_auth_users: john: hashedSecret too short to be a bcrypted "
		     "password");
	expect_error("basic_auth_users:\n  john:\n", "john: hashedSecret too short");
	expect_error("basic_auth_users:\n  john: "
		     "$1$abcdefgh$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz0123\n",
		     "john: not a bcrypt hash");
	expect_error("basic_auth_users:\n  john: "
		     "$2x$04$abcdefghijklmnopqrstuu5Z8i1yM1N0t2qT5F8kTq3sQvVb0E7mW\n",
		     "not a bcrypt hash");
	expect_error("basic_auth_users:\n  john: "
		     "$2b$04$abcdefghijklmnopqrstuu5Z8i1yM1N0t2qT5F8kTq3sQvVb0E7m!\n",
		     "not a bcrypt hash");
	expect_error("basic_auth_users:\n  john: " HASH "x\n", "not a bcrypt hash");
	expect_error("basic_auth_users:\n  john: "
		     "$2b$03$abcdefghijklmnopqrstuu5Z8i1yM1N0t2qT5F8kTq3sQvVb0E7mW\n",
		     "john: cost 3 is outside allowed range (4,31)");
	expect_error("basic_auth_users:\n  john: [a]\n", "a bcrypt hash is expected, not a list");
	expect_error("basic_auth_users:\n  alice: " HASH "\n  bob: " HASH "\n  alice: " HASH "\n",
		     "line 4: key \"alice\" already set in basic_auth_users");
	expect_error("basic_auth_users: [alice]\n", "basic_auth_users: a mapping is expected");
	/* a why too small is cut, not overrun */
	{
		struct web_config c;
		char why[8];

		ASSERT_EQ(parse("x: 1\n", &c, why, sizeof(why)), -EINVAL);
		ASSERT_STREQ(why, "line 1:");
		ASSERT_EQ(parse("x: 1\n", &c, NULL, 0), -EINVAL);
	}
}

/* A bcrypt hash of password at cost 4, made by libxcrypt. */
static void make_hash(const char *password, const char *prefix, char *out, size_t size)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = calloc(1, sizeof(*data));

	if (!data || !crypt_gensalt_rn(prefix, 4, NULL, 0, salt, sizeof(salt)) ||
	    !crypt_rn(password, salt, data, (int)sizeof(*data))) {
		fprintf(stderr, "bcrypt: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(out, size, "%s", data->output);
	free(data);
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_check_user(void)
{
	char alice[CRYPT_OUTPUT_SIZE], bob[CRYPT_OUTPUT_SIZE], text[1024], why[256];
	struct web_config c;
	double t0, known, unknown;

	make_hash("s3cret", "$2b$", alice, sizeof(alice));
	make_hash("hunter2", "$2y$", bob, sizeof(bob));
	ASSERT_EQ(strlen(alice), 60);
	snprintf(text, sizeof(text),
		 "basic_auth_users:\n  alice: %s\n  bob: '%s'\n  go: " GO_HASH "\n", alice, bob);
	if (!UNIT_CHECK(!parse(text, &c, why, sizeof(why)), "%s", why))
		return;
	ASSERT_TRUE(web_config__check_user(&c, "alice", "s3cret"));
	ASSERT_TRUE(web_config__check_user(&c, "bob", "hunter2"));
	/* a hash made by Go's bcrypt, as htpasswd and the toolkit's users have them */
	ASSERT_TRUE(web_config__check_user(&c, "go", "fakepassword"));
	ASSERT_TRUE(!web_config__check_user(&c, "go", "fakepassworD"));
	ASSERT_TRUE(!web_config__check_user(&c, "alice", "hunter2"));
	ASSERT_TRUE(!web_config__check_user(&c, "alice", "s3cret "));
	ASSERT_TRUE(!web_config__check_user(&c, "alice", ""));
	ASSERT_TRUE(!web_config__check_user(&c, "Alice", "s3cret"));
	ASSERT_TRUE(!web_config__check_user(&c, "mallory", "s3cret"));
	ASSERT_TRUE(!web_config__check_user(&c, "", ""));
	ASSERT_TRUE(!web_config__check_user(&c, NULL, "s3cret"));
	ASSERT_TRUE(!web_config__check_user(NULL, "alice", "s3cret"));

	/* an unknown user costs a bcrypt too: within a factor of the known one's time, not the
	 * thousandth of it a name lookup alone would take */
	t0 = seconds();
	for (int i = 0; i < 5; i++)
		web_config__check_user(&c, "alice", "wrong");
	known = seconds() - t0;
	t0 = seconds();
	for (int i = 0; i < 5; i++)
		web_config__check_user(&c, "mallory", "wrong");
	unknown = seconds() - t0;
	UNIT_CHECK(unknown > known / 4, "unknown user: %.6f s, known: %.6f s", unknown, known);
	web_config__free(&c);

	/* no users: nobody is let in by a password (the caller asks for none) */
	expect_ok("", &c);
	ASSERT_TRUE(!web_config__check_user(&c, "alice", "s3cret"));
	web_config__free(&c);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void test_load(void)
{
	char dir[] = "/tmp/strand-webconfig-XXXXXX", path[256], want[512], why[512], cwd[4096];
	struct web_config c;
	int err;

	if (!mkdtemp(dir) || !getcwd(cwd, sizeof(cwd)))
		exit(1);
	snprintf(path, sizeof(path), "%s/tls", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tls/s.crt", dir);
	write_file(path, "-----BEGIN CERTIFICATE-----\n");
	snprintf(path, sizeof(path), "%s/tls/s.key", dir);
	write_file(path, "-----BEGIN PRIVATE KEY-----\n");
	snprintf(path, sizeof(path), "%s/tls/empty.pem", dir);
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	write_file(path, "tls_server_config:\n  cert_file: tls/s.crt\n  key_file: ./tls/s.key\n");

	err = web_config__load(path, &c, why, sizeof(why));
	UNIT_CHECK(!err, "load %s: %d %s", path, err, why);
	snprintf(want, sizeof(want), "%s/tls/s.crt", dir);
	ASSERT_STREQ(c.cert_file, want);
	ASSERT_TRUE(c.tls);
	web_config__free(&c);

	/* given relative to the working directory: the paths come out absolute all the same */
	if (chdir(dir))
		exit(1);
	err = web_config__load("web.yml", &c, why, sizeof(why));
	UNIT_CHECK(!err, "load web.yml: %d %s", err, why);
	ASSERT_STREQ(c.cert_file, want);
	web_config__free(&c);
	err = web_config__load("./tls/../web.yml", &c, why, sizeof(why));
	ASSERT_STREQ(c.cert_file, want);
	web_config__free(&c);
	if (chdir(cwd))
		exit(1);

	/* a cert, key or CA that cannot be read is said at load */
	write_file(path, "tls_server_config:\n  cert_file: tls/s.crt\n  key_file: tls/nokey\n");
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -ENOENT);
	snprintf(want, sizeof(want), "failed to read key_file (%s/tls/nokey): No such file", dir);
	UNIT_CHECK(strstr(why, want), "why '%s'", why);
	ASSERT_TRUE(!c.cert_file && !c.tls);
	write_file(path, "tls_server_config:\n  cert_file: tls\n  key_file: tls/s.key\n");
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -EISDIR);
	UNIT_CHECK(strstr(why, "failed to read cert_file"), "why '%s'", why);
	write_file(path, "tls_server_config:\n  cert_file: tls/s.crt\n  key_file: tls/s.key\n"
			 "  client_auth_type: RequireAndVerifyClientCert\n"
			 "  client_ca_file: tls/empty.pem\n");
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -EINVAL);
	UNIT_CHECK(strstr(why, "failed to read client_ca_file") && strstr(why, "empty"), "why '%s'",
		   why);

	/* what the file says is said with its name and line */
	write_file(path, "tls_server_config:\n  cert_file: a\n  bogus: 1\n");
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -EINVAL);
	snprintf(want, sizeof(want), "%s: line 3: unknown field \"bogus\"", path);
	UNIT_CHECK(strstr(why, want), "why '%s', expected '%s'", why, want);

	/* not a config at all: missing, a directory, too big */
	snprintf(path, sizeof(path), "%s/none.yml", dir);
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -ENOENT);
	UNIT_CHECK(strstr(why, "No such file"), "why '%s'", why);
	ASSERT_EQ(web_config__load(dir, &c, why, sizeof(why)), -EISDIR);
	UNIT_CHECK(strstr(why, "a directory"), "why '%s'", why);
	snprintf(path, sizeof(path), "%s/big.yml", dir);
	{
		FILE *f = fopen(path, "w");

		for (int i = 0; f && i < (1 << 20) / 16 + 1; i++)
			fputs("# padding......\n", f);
		if (f)
			fclose(f);
	}
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), -EFBIG);
	UNIT_CHECK(strstr(why, "bigger than 1 MiB"), "why '%s'", why);
	/* an empty file: no TLS, no users */
	write_file(path, "");
	ASSERT_EQ(web_config__load(path, &c, why, sizeof(why)), 0);
	ASSERT_TRUE(!c.tls && !c.nusers);
	web_config__free(&c);

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

/* The example shipped in deploy/ (promtool's check of it: tests/daemon): strand reads it
 * too, and the password its comment states is the one its hash is of. */
static void test_deploy_example(void)
{
	const char *src = __FILE__, *tests = strstr(src, "tests/unit/");
	char path[4096], why[512], text[8192];
	struct web_config c;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%.*sdeploy/web-config.yml", (int)(tests - src), src);
	f = fopen(path, "r");
	if (!UNIT_CHECK(f, "%s: %s", path, strerror(errno)))
		return;
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (!UNIT_CHECK(!web_config__parse(text, len, "/etc/strand/web", &c, why, sizeof(why)),
			"%s: %s", path, why))
		return;
	ASSERT_TRUE(c.tls);
	ASSERT_STREQ(c.cert_file, "/etc/strand/web/tls.crt");
	ASSERT_STREQ(c.key_file, "/etc/strand/web/tls.key");
	ASSERT_EQ(c.client_auth, WEB_NO_CLIENT_CERT);
	ASSERT_TRUE(strstr(text, "\"example-only-change-me\""));
	if (ASSERT_EQ(c.nusers, 1))
		ASSERT_TRUE(web_config__check_user(&c, c.users[0].name, "example-only-change-me"));
	web_config__free(&c);
}

int main(void)
{
	test_empty_and_defaults();
	test_every_field();
	test_client_auth_types();
	test_paths();
	test_errors();
	test_check_user();
	test_load();
	test_deploy_example();
	return unit_summary();
}
