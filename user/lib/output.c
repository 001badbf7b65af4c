// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/output.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t write_all(void *cookie, const char *buf, size_t size)
{
	struct output *o = cookie;
	size_t done = 0;

	while (done < size) {
		ssize_t n = write(o->fd, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!o->err)
				o->err = n < 0 ? errno : EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)size;
}

static bool is_stdout(const char *path)
{
	return !path || !strcmp(path, "-");
}

int output__check(const char *path)
{
	const char *slash;
	char dir[4096];
	struct stat st;
	int err = 0;

	if (is_stdout(path))
		return 0;
	if (!*path) {
		say("cannot write '': an empty file name");
		return STRAND_EXIT_ERROR;
	}
	if (stat(path, &st) == 0) {
		/* an existing file (or /dev/null, a fifo) must be writable itself */
		if (S_ISDIR(st.st_mode))
			err = EISDIR;
		else if (access(path, W_OK))
			err = errno;
	} else if (errno != ENOENT) {
		err = errno;
	} else {
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ?: 1, path);
		if (access(dir, W_OK | X_OK))
			err = errno;
	}
	if (!err)
		return 0;
	say("cannot write '%s': %s", path, strerror(err));
	return STRAND_EXIT_ERROR;
}

int output__open(struct output *o, const char *path)
{
	cookie_io_functions_t io = {.write = write_all};

	memset(o, 0, sizeof(*o));
	o->name = is_stdout(path) ? "-" : path;
	if (is_stdout(path)) {
		o->fd = STDOUT_FILENO;
		if (fflush(stdout)) {
			say("cannot write the standard output: %s", strerror(errno));
			return STRAND_EXIT_ERROR;
		}
	} else if ((o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
		say("cannot write '%s': %s", path, strerror(errno));
		return STRAND_EXIT_ERROR;
	}
	o->f = fopencookie(o, "w", io);
	if (!o->f) {
		say("cannot write '%s': %s", path ?: "the standard output", strerror(errno));
		if (o->fd != STDOUT_FILENO)
			close(o->fd);
		return STRAND_EXIT_ERROR;
	}
	return 0;
}

int output__close(struct output *o)
{
	int err;

	if (!o->f)
		return 0;
	err = fclose(o->f) ? (o->err ?: errno ?: EIO) : o->err;
	o->f = NULL;
	if (o->fd != STDOUT_FILENO && close(o->fd) && !err)
		err = errno; /* NFS reports a failed write at close */
	if (!err)
		return 0;
	if (is_stdout(o->name))
		say("cannot write the standard output: %s", strerror(err));
	else
		say("cannot write '%s': %s", o->name, strerror(err));
	return STRAND_EXIT_ERROR;
}
