// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "report/recording.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_FILE_BYTES	   (1ULL << 30) /* a recording, compressed */
#define MAX_EXPANDED_BYTES (4ULL << 30) /* ... and what it holds: a bound on a zip bomb */

struct recorder {
	gzFile gz;
	int snapshots;
};

static int write_line(struct recorder *r, json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	int err = 0;

	if (!text)
		return -ENOMEM;
	if (gzwrite(r->gz, text, (unsigned)len) != (int)len || gzputc(r->gz, '\n') != '\n' ||
	    gzflush(r->gz, Z_SYNC_FLUSH) != Z_OK)
		err = errno ? -errno : -EIO;
	free(text);
	return err;
}

struct recorder *recorder__open(const char *path, int argc, char **argv, double every_s, int *err)
{
	struct recorder *r;
	json_t *hdr, *cmd;

	r = xcalloc(1, sizeof(*r));
	r->gz = gzopen(path, "wb6e");
	if (!r->gz) {
		*err = errno ? -errno : -EIO;
		free(r);
		return NULL;
	}
	/* argv is the subcommand's ("trace", ...); JSON strings must be UTF-8 */
	cmd = json_pack("[s]", "strand");
	for (int i = 0; i < argc; i++) {
		json_t *arg = json_string(argv[i]);

		json_array_append_new(cmd, arg ? arg : json_string("(not UTF-8)"));
	}
	hdr = json_pack("{s:i, s:s, s:f, s:o, s:f}", "strand_recording", RECORDING_VERSION,
			"strand_version", STRAND_VERSION, "created_unix_seconds", now_wall(),
			"command", cmd, "snapshot_every_seconds", every_s);
	*err = hdr ? write_line(r, hdr) : -ENOMEM;
	json_decref(hdr);
	if (*err) {
		gzclose(r->gz);
		free(r);
		return NULL;
	}
	return r;
}

int recorder__write(struct recorder *r, const struct report_doc *doc, double at_s, bool final)
{
	json_t *line = json_pack("{s:i, s:f, s:b, s:O}", "snapshot", ++r->snapshots, "at_seconds",
				 at_s, "final", final, "report", doc->root);
	int err = line ? write_line(r, line) : -ENOMEM;

	json_decref(line);
	return err;
}

int recorder__close(struct recorder *r)
{
	int err;

	if (!r)
		return 0;
	err = gzclose(r->gz) == Z_OK ? 0 : -EIO;
	free(r);
	return err;
}

/* The bytes of a gzip stream, as far as they go: a stream cut short (a recording still
 * being written, or a crash) gives what came before the cut. */
static int inflate_all(const uint8_t *in, size_t len, char **out, size_t *out_len, bool *cut)
{
	z_stream z = {0};
	size_t cap = len * 4 + 4096, n = 0;
	char *buf;
	int ret;

	*cut = false;
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -ENOMEM;
	buf = xcalloc(cap + 1, 1);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (cap - n < 65536) {
			if (cap * 2 > MAX_EXPANDED_BYTES) {
				inflateEnd(&z);
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		z.next_out = (Bytef *)buf + n;
		z.avail_out = (uInt)(cap - n);
		ret = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (ret == Z_STREAM_END) {
			/* concatenated gzip members (an appended recording) go on */
			if (!z.avail_in)
				break;
			inflateReset(&z);
			continue;
		}
		if (ret == Z_BUF_ERROR && !z.avail_in) {
			*cut = true; /* the file ends inside the stream */
			break;
		}
		if (ret != Z_OK) {
			*cut = true; /* damaged: keep what came before */
			break;
		}
	}
	inflateEnd(&z);
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

static int take_snapshot(struct recording *rec, json_t *line)
{
	json_t *report = json_object_get(line, "report");
	char *text;
	char why[128];
	int err;

	if (!json_is_object(report))
		return -EBADMSG;
	text = json_dumps(report, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	report_doc__free(&rec->last);
	err = report_doc__parse(&rec->last, text, strlen(text), why, sizeof(why));
	free(text);
	if (err)
		return err;
	rec->snapshots++;
	rec->final = json_is_true(json_object_get(line, "final"));
	return 0;
}

static int read_lines(char *text, size_t len, int upto, struct recording *rec, char *why,
		      size_t why_size)
{
	char *p = text, *end = text + len;
	int lineno = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		json_error_t jerr;
		json_t *line;

		if (!nl) {
			rec->truncated = true; /* the last line, cut short */
			break;
		}
		lineno++;
		line = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		p = nl + 1;
		if (!line || !json_is_object(line)) {
			json_decref(line);
			if (lineno == 1) {
				snprintf(why, why_size,
					 "not a strand recording (its first line is no "
					 "JSON object)");
				return -EBADMSG;
			}
			rec->truncated = true; /* a damaged line: what came before stands */
			break;
		}
		if (lineno == 1) {
			json_t *v = json_object_get(line, "strand_recording");

			if (!json_is_integer(v)) {
				json_decref(line);
				snprintf(why, why_size, "not a strand recording");
				return -EBADMSG;
			}
			if (json_integer_value(v) != RECORDING_VERSION) {
				snprintf(
					why, why_size,
					"a recording of version %lld: this strand reads version %d",
					(long long)json_integer_value(v), RECORDING_VERSION);
				json_decref(line);
				return -EBADMSG;
			}
			rec->header = line;
			continue;
		}
		if (take_snapshot(rec, line))
			rec->truncated = true; /* a snapshot that does not hold: keep the last */
		json_decref(line);
		if (rec->truncated || rec->snapshots == upto)
			break;
	}
	if (!rec->snapshots) {
		snprintf(why, why_size, "the recording holds no complete snapshot%s",
			 rec->truncated ? " (it ends early, or is damaged)" : "");
		return -EBADMSG;
	}
	if (upto > rec->snapshots) {
		snprintf(why, why_size, "no snapshot %d: the recording holds %d", upto,
			 rec->snapshots);
		return -EBADMSG;
	}
	return 0;
}

/* Whether text starts with a recording's header line (a report's first line is "{"), or
 * with the start of one cut short. */
static bool is_recording(const char *text, size_t n)
{
	static const char head[] = "{\"strand_recording\"";
	const char *nl = memchr(text, '\n', n);
	json_t *first = nl ? json_loadb(text, (size_t)(nl - text), 0, NULL) : NULL;
	bool yes = json_is_object(first) && json_object_get(first, "strand_recording");

	if (!nl && n >= sizeof(head) - 1 && !memcmp(text, head, sizeof(head) - 1))
		yes = true;
	json_decref(first);
	return yes;
}

int recording__read_mem(const void *data, size_t len, int upto, struct recording *rec, char *why,
			size_t why_size)
{
	const uint8_t *in = data;
	char *text = NULL;
	size_t n = 0;
	bool cut = false;
	int err;

	memset(rec, 0, sizeof(*rec));
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		err = inflate_all(in, len, &text, &n, &cut);
		if (err) {
			snprintf(why, why_size, "%s",
				 err == -EFBIG ? "expands to more than 4 GiB" : strerror(-err));
			return err;
		}
		if (!n) {
			free(text);
			snprintf(why, why_size, "compressed, but damaged from its start");
			return -EBADMSG;
		}
	} else {
		text = xcalloc(len + 1, 1);
		memcpy(text, data, len);
		n = len;
	}
	/* a plain JSON report (strand trace --json) reads as one final snapshot */
	if (!is_recording(text, n)) {
		char reason[160];

		err = report_doc__parse(&rec->last, text, n, reason, sizeof(reason));
		if (err)
			snprintf(why, why_size, "not a strand recording or report (%s)", reason);
		rec->snapshots = !err;
		rec->final = !err;
		if (!err && upto > 1) {
			snprintf(why, why_size, "no snapshot %d: a JSON report is one", upto);
			err = -EBADMSG;
		}
	} else {
		err = read_lines(text, n, upto, rec, why, why_size);
	}
	rec->truncated |= cut;
	free(text);
	if (err)
		recording__free(rec);
	return err;
}

int recording__read(const char *path, int upto, struct recording *rec, char *why, size_t why_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	struct stat st;
	uint8_t *buf;
	size_t done = 0;

	memset(rec, 0, sizeof(*rec));
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		snprintf(why, why_size, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE_BYTES) {
		snprintf(why, why_size, "%s",
			 S_ISREG(st.st_mode) ? "larger than 1 GiB" : "not a regular file");
		close(fd);
		return -EINVAL;
	}
	buf = xcalloc((size_t)st.st_size + 1, 1);
	while (done < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + done, (size_t)st.st_size - done);

		if (k <= 0)
			break; /* a file still being written may have grown or shrunk: use what is
				*/
		done += (size_t)k;
	}
	close(fd);
	err = recording__read_mem(buf, done, upto, rec, why, why_size);
	free(buf);
	return err;
}

void recording__free(struct recording *rec)
{
	json_decref(rec->header);
	rec->header = NULL;
	report_doc__free(&rec->last);
}
