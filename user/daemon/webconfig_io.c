// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the web configuration meets outside its text (webconfig.c parses that): the file
 * itself and the certificate files it names, read and checked at start; its users'
 * passwords, checked with the C library's bcrypt at each request.
 */
#include "daemon/webconfig.h"
#include "daemon/webconfig_priv.h"
#include "lib/util.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A web configuration is a few lines: more is a wrong path, not a config. */
#define WEB_CONFIG_MAX (1u << 20)
/* Opened and one byte read: what a wrong path, a directory or a file root alone may read
 * fails by. */
static int check_readable(const char *field, const char *path, char *why, size_t why_size)
{
	char byte;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), err;

	if (fd < 0) {
		err = -errno;
		snprintf(why, why_size, "failed to read %s (%s): %s", field, path, strerror(-err));
		return err;
	}
	do
		n = read(fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (n <= 0) {
		snprintf(why, why_size, "failed to read %s (%s): %s", field, path,
			 n ? strerror(-err) : "empty");
		return n ? err : -EINVAL;
	}
	return 0;
}

/* The directory relative paths are resolved against, absolute whatever the cwd later. */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *cwd, *dir, *out;
	size_t len;

	if (slash == path)
		return xstrdup("/");
	if (path[0] == '/') {
		dir = xstrdup(path);
		dir[slash - path] = '\0';
		return dir;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	len = strlen(cwd) + strlen(path) + 2;
	dir = xmalloc(len);
	snprintf(dir, len, "%s/%.*s", cwd, slash ? (int)(slash - path) : 0, path);
	out = xmalloc(len + 1);
	web_config__clean_path(dir, out);
	free(cwd);
	free(dir);
	return out;
}

int web_config__load(const char *path, struct web_config *out, char *why, size_t why_size)
{
	const char *files[][2] = {
		{"cert_file", NULL}, {"key_file", NULL}, {"client_ca_file", NULL}};
	size_t len = 0;
	char *text = NULL, *dir = NULL;
	struct stat st;
	int fd, err;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		snprintf(why, why_size, "%s: %s", path, strerror(-err));
		goto out;
	}
	if (S_ISDIR(st.st_mode) || st.st_size > (off_t)WEB_CONFIG_MAX) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
		snprintf(why, why_size, "%s: %s", path,
			 err == -EISDIR ? "a directory" : "bigger than 1 MiB");
		goto out;
	}
	text = xmalloc(WEB_CONFIG_MAX + 1);
	/* read to the end whatever fstat said: /proc and pipes say 0 */
	for (;;) {
		ssize_t n = read(fd, text + len, WEB_CONFIG_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			snprintf(why, why_size, "%s: %s", path, strerror(-err));
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
		if (len > WEB_CONFIG_MAX) {
			err = -EFBIG;
			snprintf(why, why_size, "%s: bigger than 1 MiB", path);
			goto out;
		}
	}
	dir = config_dir(path);
	if (!dir) {
		err = -errno;
		snprintf(why, why_size, "%s: the working directory: %s", path, strerror(-err));
		goto out;
	}
	err = web_config__parse(text, len, dir, out, why, why_size);
	if (err) {
		/* the file's name before its line, as a compiler says it */
		char *msg = xstrdup(why);

		snprintf(why, why_size, "%s: %s", path, msg);
		free(msg);
		goto out;
	}
	files[0][1] = out->cert_file;
	files[1][1] = out->key_file;
	files[2][1] = out->client_ca_file;
	for (size_t i = 0; i < ARRAY_SIZE(files) && !err; i++)
		if (files[i][1])
			err = check_readable(files[i][0], files[i][1], why, why_size);
	if (err)
		web_config__free(out);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(dir);
	return err;
}

/* Equal strings, in a time that depends on their lengths alone. */
static bool same_secret(const char *a, const char *b)
{
	size_t len = strlen(a);
	unsigned char d = 0;

	if (len != strlen(b))
		return false;
	for (size_t i = 0; i < len; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d;
}

bool web_config__check_user(const struct web_config *c, const char *user, const char *password)
{
	const struct web_user *u = NULL;
	struct crypt_data *data;
	const char *got;
	bool ok;

	if (!c || !c->nusers || !user || !password)
		return false;
	for (size_t i = 0; i < c->nusers && !u; i++)
		if (!strcmp(c->users[i].name, user))
			u = &c->users[i];
	/* 32 KiB: not on the stack of a libmicrohttpd thread */
	data = xcalloc(1, sizeof(*data));
	/* an unknown user's password is hashed as the first user's would be: the same work */
	got = crypt_rn(password, u ? u->hash : c->users[0].hash, data, (int)sizeof(*data));
	ok = u && got && same_secret(got, u->hash);
	explicit_bzero(data, sizeof(*data));
	free(data);
	return ok;
}
