// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "report/report_doc.h"
#include "lib/timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int report_doc__parse(struct report_doc *d, const char *text, size_t len, char *why,
		      size_t why_size)
{
	json_error_t err;

	d->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!d->root) {
		snprintf(why, why_size, "not JSON (line %d: %s)", err.line, err.text);
		return -EBADMSG;
	}
	if (!json_is_object(d->root) || doc_int(d->root, "version") != 1) {
		snprintf(why, why_size, "not a strand report of schema version 1");
		json_decref(d->root);
		d->root = NULL;
		return -EBADMSG;
	}
	return 0;
}

void report_doc__free(struct report_doc *d)
{
	json_decref(d->root);
	d->root = NULL;
}

static const json_t *get(const json_t *obj, const char *key)
{
	return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

const char *doc_str(const json_t *obj, const char *key)
{
	return json_string_value(get(obj, key));
}

int64_t doc_int(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);
	double x;

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (!json_is_real(v))
		return 0;
	x = json_real_value(v);
	return isfinite(x) && fabs(x) < 9e18 ? (int64_t)x : 0;
}

double doc_num(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

bool doc_bool(const json_t *obj, const char *key)
{
	return json_is_true(get(obj, key));
}

const json_t *doc_by_id(const json_t *list, const char *id)
{
	const json_t *s;
	size_t i;

	json_array_foreach (list, i, s) {
		const char *sid = doc_str(s, "id");

		if (id && sid && !strcmp(sid, id))
			return s;
	}
	return NULL;
}

bool doc_go_site_is_main(const json_t *site)
{
	const char *fn = doc_str(doc_obj(site, "start"), "function");

	return fn && !strcmp(fn, "runtime.main");
}

bool doc_has(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);

	return v && !json_is_null(v);
}

/* Shared, never modified: what a missing array or object reads as. */
static json_t *empty_array, *empty_object;

const json_t *doc_arr(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);

	if (json_is_array(v))
		return v;
	if (!empty_array)
		empty_array = json_array();
	return empty_array;
}

const json_t *doc_obj(const json_t *obj, const char *key)
{
	const json_t *v = get(obj, key);

	if (json_is_object(v))
		return v;
	if (!empty_object)
		empty_object = json_object();
	return empty_object;
}

static const char *basename_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

void doc_frame__format(const json_t *fr, char *buf, size_t size)
{
	const char *fn = doc_str(fr, "function"), *file = doc_str(fr, "file");
	const char *mod = doc_str(fr, "module"), *addr = doc_str(fr, "address");
	int64_t line = doc_int(fr, "line");

	if (fn && file && line > 0)
		snprintf(buf, size, "%s (%s:%" PRId64 ")%s", fn, basename_of(file), line,
			 doc_bool(fr, "inlined") ? " [inlined]" : "");
	else if (fn)
		snprintf(buf, size, "%s [%s]", fn, mod ? basename_of(mod) : "?");
	else
		snprintf(buf, size, "%s [%s]", addr ? addr : "?", mod ? basename_of(mod) : "?");
}

/* A live count over the trace as a sparkline: the samples of the document's timeline. */
void doc_sparkline(const json_t *timeline, int width, char *buf, size_t size)
{
	struct timeline t = {0};
	const json_t *v;
	size_t i;

	json_array_foreach (doc_arr(timeline, "samples"), i, v) {
		if (t.n == TIMELINE_CAP)
			break;
		t.v[t.n++] = json_is_integer(v) ? (uint32_t)json_integer_value(v) : 0;
	}
	t.per = 1;
	timeline__sparkline(&t, width, buf, size);
}

void doc_print_fanout(FILE *f, const json_t *site)
{
	int64_t parents = doc_int(site, "parents");

	if (parents)
		fprintf(f, "  fan-out max %" PRId64 " (%" PRId64 " parent%s)",
			doc_int(site, "max_children_per_parent"), parents, parents == 1 ? "" : "s");
}

void doc_print_list(FILE *f, const char *head, const json_t *list, const char *indent)
{
	const json_t *v;
	size_t i;

	if (!json_array_size(list))
		return;
	fprintf(f, "%s%s\n", indent, head);
	json_array_foreach (list, i, v)
		fprintf(f, "%s  - %s\n", indent, json_string_value(v) ?: "");
}

/* Drops the elements of the array at key whose "pid" is not pid. */
static json_t *keep_pid(json_t *obj, const char *key, int64_t pid)
{
	json_t *arr = json_object_get(obj, key);

	for (size_t i = json_array_size(arr); i-- > 0;)
		if (doc_int(json_array_get(arr, i), "pid") != pid)
			json_array_remove(arr, i);
	return arr;
}

static int64_t sum_where(const json_t *arr, const char *what, const char *key, const char *is)
{
	const json_t *v;
	int64_t n = 0;
	size_t i;

	json_array_foreach (arr, i, v) {
		const char *s = key ? doc_str(v, key) : NULL;

		if (!key || (s && !strcmp(s, is)))
			n += what ? doc_int(v, what) : 1;
	}
	return n;
}

void report_doc__only_pid(struct report_doc *d, int64_t pid)
{
	json_t *r = d->root, *gr = json_object_get(r, "goroutines");
	json_t *totals = json_object_get(r, "totals"), *verdicts = json_object_get(r, "verdicts");
	json_t *tasks, *sites, *groups;

	keep_pid(r, "targets", pid);
	tasks = keep_pid(r, "tasks", pid);
	sites = keep_pid(r, "sites", pid);
	groups = keep_pid(r, "groups", pid);
	json_object_set_new(r, "all_processes", json_false());
	if (json_is_object(totals)) {
		const json_t *t;
		int64_t before = 0;
		size_t i;

		json_array_foreach (tasks, i, t)
			before += doc_bool(t, "before_attach");
		json_object_set_new(totals, "live",
				    json_integer(sum_where(tasks, NULL, NULL, NULL)));
		json_object_set_new(totals, "spawned",
				    json_integer(sum_where(sites, "spawned", NULL, NULL)));
		json_object_set_new(totals, "exited",
				    json_integer(sum_where(sites, "exited", NULL, NULL)));
		json_object_set_new(totals, "before_attach", json_integer(before));
	}
	if (json_is_object(verdicts)) {
		const char *const v[] = {"deadlock", "stranded", "idle", "candidate"};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
			json_object_set_new(
				verdicts, v[i],
				json_integer(sum_where(groups, "count", "verdict", v[i])));
		json_object_set_new(verdicts, "blocked",
				    json_integer(sum_where(tasks, NULL, "state", "S") +
						 sum_where(tasks, NULL, "state", "D")));
	}
	if (json_is_object(gr)) {
		json_t *runtimes = keep_pid(gr, "runtimes", pid), *gg;

		keep_pid(gr, "sites", pid);
		gg = keep_pid(gr, "groups", pid);
		json_object_set_new(gr, "processes",
				    json_integer((json_int_t)json_array_size(runtimes)));
		json_object_set_new(gr, "live", json_integer(sum_where(gg, "count", NULL, NULL)));
		json_object_set_new(gr, "stranded",
				    json_integer(sum_where(gg, "count", "verdict", "stranded")));
	}
}
