// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer: the exporters' web configuration file as `strand daemon --web-config` reads
 * it (libyaml's loader under strand's checks). What is accepted must be whole: TLS only
 * with both files, paths absolute (the directory given is), versions in range, every
 * user's hash 60 characters of bcrypt; what is refused must say why. bcrypt itself is not
 * run: parsing never does, and the fuzzer stays fast.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/webconfig.h"

/* relative ones joined to the absolute directory given, absolute ones kept */
static void check_path(const char *p)
{
	if (p && p[0] != '/')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct web_config c;
	char why[160];
	int err = web_config__parse((const char *)data, size, "/etc/strand", &c, why, sizeof(why));

	if (strnlen(why, sizeof(why)) == sizeof(why))
		abort();
	if (err) {
		if (err != -EINVAL || !why[0] || c.tls || c.cert_file || c.users || c.headers)
			abort();
		web_config__free(&c);
		return 0;
	}
	if (c.tls != (c.cert_file && c.key_file))
		abort();
	check_path(c.cert_file);
	check_path(c.key_file);
	check_path(c.client_ca_file);
	if (c.min_version < 10 || c.min_version > 13 || (c.max_version && c.max_version < 10) ||
	    c.max_version > 13 || (c.max_version && c.min_version > c.max_version))
		abort();
	if (c.client_auth < WEB_NO_CLIENT_CERT ||
	    c.client_auth > WEB_REQUIRE_AND_VERIFY_CLIENT_CERT)
		abort();
	if (c.tls && c.client_auth >= WEB_VERIFY_CLIENT_CERT_IF_GIVEN && !c.client_ca_file)
		abort();
	for (size_t i = 0; i < c.nusers; i++)
		if (!c.users[i].name || strlen(c.users[i].hash) != 60 ||
		    strncmp(c.users[i].hash, "$2", 2))
			abort();
	for (size_t i = 0; i < c.nheaders; i++)
		if (!c.headers[i].name || !c.headers[i].value || !c.headers[i].value[0])
			abort();
	web_config__free(&c);
	return 0;
}
