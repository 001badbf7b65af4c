// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two reports compared, the snapshot diff people do by hand with two pprof dumps: which
 * spawn sites grew, which stranded groups are new or grew, which are gone. Sites and groups
 * are matched by what they are (the go statement or spawn path, the wait site and state),
 * not by ids or pids, which a restart changes.
 */
#include "lib/util.h"
#include "report/report_doc.h"
#include "report/report_out.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_MAX_LINES 20

static const char *basename_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static void frame_key(const json_t *fr, char *buf, size_t size)
{
	snprintf(buf, size, "%s@%s:%" PRId64, doc_str(fr, "function") ?: "?",
		 basename_of(doc_str(fr, "file")) ?: "?", doc_int(fr, "line"));
}

/* What a site is: its go statement, or its spawn call and start routine. */
static void site_key(const json_t *s, bool goroutine, char *buf, size_t size)
{
	char a[256], b[256];

	if (goroutine && doc_go_site_is_main(s)) { /* no go statement, in any version */
		snprintf(buf, size, "go (the main goroutine)");
		return;
	}
	if (goroutine) {
		frame_key(doc_obj(s, "created_at"), a, sizeof(a));
		snprintf(buf, size, "go %s", a);
		return;
	}
	frame_key(json_array_get(doc_arr(s, "spawn_stack"),
				 (size_t)(doc_int(s, "spawn_frame_index") > 0
						  ? doc_int(s, "spawn_frame_index")
						  : 0)),
		  a, sizeof(a));
	frame_key(doc_obj(s, "start_routine_frame"), b, sizeof(b));
	snprintf(buf, size, "%s %s %s", doc_bool(s, "before_attach") ? "before" : "thread", a, b);
}

struct entry {
	char key[640];
	const json_t *obj;
	int64_t count;
};

static struct entry *find(struct entry *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].key, key))
			return &list[i];
	return NULL;
}

/* Every site (threads' and goroutines'), with its live count. */
static struct entry *sites_of(const json_t *r, size_t *n)
{
	const json_t *lists[2] = {doc_arr(r, "sites"), doc_arr(doc_obj(r, "goroutines"), "sites")};
	struct entry *out =
		xcalloc(json_array_size(lists[0]) + json_array_size(lists[1]) + 1, sizeof(*out));
	const json_t *s;
	size_t i;

	*n = 0;
	for (int l = 0; l < 2; l++)
		json_array_foreach (lists[l], i, s) {
			struct entry *e;

			if (doc_bool(s, "runtime"))
				continue;
			site_key(s, l == 1, out[*n].key, sizeof(out[0].key));
			e = find(out, *n, out[*n].key);
			if (!e) { /* the same go statement in two processes: one entry */
				e = &out[(*n)++];
				e->obj = s;
			}
			e->count += doc_int(s, "live");
		}
	return out;
}

/* Every stranded or deadlocked group, with its count. */
static struct entry *stranded_of(const json_t *r, size_t *n)
{
	const json_t *gr = doc_obj(r, "goroutines");
	const json_t *lists[2] = {doc_arr(r, "groups"), doc_arr(gr, "groups")};
	const json_t *sites[2] = {doc_arr(r, "sites"), doc_arr(gr, "sites")};
	struct entry *out =
		xcalloc(json_array_size(lists[0]) + json_array_size(lists[1]) + 1, sizeof(*out));
	const json_t *g;
	size_t i;

	*n = 0;
	for (int l = 0; l < 2; l++)
		json_array_foreach (lists[l], i, g) {
			const char *v = doc_str(g, "verdict");
			char sk[640] = "", wk[256];
			const json_t *site = doc_by_id(sites[l], doc_str(g, "site"));
			struct entry *e;

			if (!v || (strcmp(v, "stranded") && strcmp(v, "deadlock")))
				continue;
			if (site)
				site_key(site, l == 1, sk, sizeof(sk));
			frame_key(l == 1 ? doc_obj(g, "wait_site")
					 : json_array_get(doc_arr(g, "wait_stack"), 0),
				  wk, sizeof(wk));
			snprintf(out[*n].key, sizeof(out[0].key), "%.300s | %.80s | %.200s", sk,
				 doc_str(g, l == 1 ? "state" : "wait_reason") ?: "?", wk);
			e = find(out, *n, out[*n].key);
			if (!e) {
				e = &out[(*n)++];
				e->obj = g;
			}
			e->count += doc_int(g, "count");
		}
	return out;
}

static void describe_site(const struct entry *e, char *buf, size_t size)
{
	char fr[256];

	if (doc_has(e->obj, "created_at"))
		doc_frame__format(doc_obj(e->obj, "created_at"), fr, sizeof(fr));
	else
		doc_frame__format(
			json_array_get(doc_arr(e->obj, "spawn_stack"),
				       (size_t)(doc_int(e->obj, "spawn_frame_index") > 0
							? doc_int(e->obj, "spawn_frame_index")
							: 0)),
			fr, sizeof(fr));
	if (doc_go_site_is_main(e->obj))
		snprintf(fr, sizeof(fr), "the main goroutine");
	snprintf(buf, size, "%s %s%s",
		 doc_has(e->obj, "created_at") || doc_go_site_is_main(e->obj) ? "go" : "thread", fr,
		 doc_bool(e->obj, "before_attach") ? " (before attach)" : "");
}

static void describe_group(const struct entry *e, char *buf, size_t size)
{
	const json_t *g = e->obj;
	char fr[256];

	if (doc_has(g, "wait_site"))
		doc_frame__format(doc_obj(g, "wait_site"), fr, sizeof(fr));
	else if (json_array_size(doc_arr(g, "wait_stack")))
		doc_frame__format(json_array_get(doc_arr(g, "wait_stack"), 0), fr, sizeof(fr));
	else
		snprintf(fr, sizeof(fr), "?");
	snprintf(buf, size, "%s %s [%s] at %s", doc_str(g, "verdict") ?: "?",
		 doc_str(g, "kind") ? doc_str(g, "kind") : "thread",
		 doc_str(g, "state") ?: doc_str(g, "wait_reason") ?: "?", fr);
}

typedef void (*describe_fn)(const struct entry *e, char *buf, size_t size);

/* The entries of now that grew from base (new ones too), at most DIFF_MAX_LINES of them. */
static void print_grown(FILE *f, const char *title, struct entry *now, size_t nnow,
			struct entry *base, size_t nbase, describe_fn describe)
{
	size_t shown = 0;
	char buf[640];

	fprintf(f, "\n%s\n", title);
	for (size_t i = 0; i < nnow; i++) {
		const struct entry *b = find(base, nbase, now[i].key);
		int64_t was = b ? b->count : 0;

		if (now[i].count <= was)
			continue;
		if (shown++ == DIFF_MAX_LINES) {
			fprintf(f, "  ...\n");
			break;
		}
		describe(&now[i], buf, sizeof(buf));
		fprintf(f, "  %+6" PRId64 "  %s  (%" PRId64 " -> %" PRId64 "%s)\n",
			now[i].count - was, buf, was, now[i].count, b ? "" : ", new");
	}
	if (!shown)
		fprintf(f, "  none\n");
}

void report_doc__diff(const struct report_doc *base, const struct report_doc *doc, FILE *f)
{
	size_t nb, nn, gb, gn, shown = 0;
	struct entry *sb = sites_of(base->root, &nb), *sn = sites_of(doc->root, &nn);
	struct entry *xb = stranded_of(base->root, &gb), *xn = stranded_of(doc->root, &gn);
	char buf[640];

	fprintf(f, "strand: what changed from the base report (%.1f s) to this one (%.1f s)\n",
		doc_num(base->root, "duration_seconds"), doc_num(doc->root, "duration_seconds"));
	print_grown(f, "Spawn sites that grew (live tasks: base -> now)", sn, nn, sb, nb,
		    describe_site);
	print_grown(f, "Stranded groups that are new or grew (tasks: base -> now)", xn, gn, xb, gb,
		    describe_group);
	fprintf(f, "\nStranded groups of the base that are gone\n");
	for (size_t i = 0; i < gb; i++) {
		if (find(xn, gn, xb[i].key))
			continue;
		shown++;
		describe_group(&xb[i], buf, sizeof(buf));
		fprintf(f, "  %6" PRId64 "  %s\n", xb[i].count, buf);
	}
	if (!shown)
		fprintf(f, "  none\n");
	free(sb);
	free(sn);
	free(xb);
	free(xn);
}
