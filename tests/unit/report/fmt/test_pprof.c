// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The profile writers (pprof, speedscope, folded) on synthetic profiles: threads and
 * goroutines, inlined frames, unknown functions, names with odd bytes, no samples at all.
 * pprof's output is gunzipped and read back with a protobuf reader of this test's own, field
 * numbers taken from profile.proto rather than from the writer, so the two can't agree on a
 * mistake. With STRAND_PROFILE_OUT=DIR the outputs are written there too, for the checks of
 * tests/report/ with the real tools (go tool pprof, speedscope's importer).
 */
#include "report/fmt/pprof_pb.h"
#include "report/fmt/pprof_text.h"
#include "report/fmt/profile.h"
#include "unit.h"

#include <stdlib.h>
#include <zlib.h>

/* --- the profiles ----------------------------------------------------------------------- */

#define APP   "/usr/bin/leaky_service"
#define API   "/usr/bin/leaky_api"
#define LIBC  "/lib/x86_64-linux-gnu/libc.so.6"
#define SRC   "/src/leaky_service.c"
#define GOSRC "/src/api/leaky_api.go"

/* main calls serve, inlined, which calls handle_request, inlined: one address, three frames */
static const struct prof_frame f_main = {"main", SRC, 105, APP, 0x401500, false};
static const struct prof_frame f_serve = {"serve", SRC, 91, APP, 0x401500, true};
static const struct prof_frame f_handle = {"handle_request", SRC, 78, APP, 0x401500, true};
static const struct prof_frame f_spawn = {"spawn_detached", SRC, 67, APP, 0x401320, false};
static const struct prof_frame f_pcreate = {
	"pthread_create@@GLIBC_2.34", NULL, 0, LIBC, 0x7f3a1c08a9f0, false};
#define HTTP_GO "/usr/lib/go-1.19/src/net/http/server.go"
static const struct prof_frame g_http = {
	"net/http.HandlerFunc.ServeHTTP", HTTP_GO, 2109, API, 0x5f0123, false};
static const struct prof_frame g_hook = {
	"main.(*server).handleWebhook", GOSRC, 41, API, 0x6a1234, false};
static const struct prof_frame g_main = {"main.main", GOSRC, 84, API, 0x6a2000, false};
static const struct prof_frame u_lib = {.module = "/usr/lib/libfoo.so.1",
					.address = 0x7f3a1d000120};
static const struct prof_frame u_none = {0};
static const struct prof_frame o_semi = {
	"operator<<;\n\"weird\"\t\\", "/src/we;ird\nfile.cc", 7, NULL, 0, false};
static const struct prof_frame o_bad = {"bad\xff\xfename\xc0\x80", NULL, 0, NULL, 0, false};
static const struct prof_frame o_utf8 = {"日本語::関数", "/src/ü.cc", 3, NULL, 0, false};

static const struct prof_frame *const st_thread[] = {&f_main, &f_serve, &f_handle, &f_spawn,
						     &f_pcreate};
static const struct prof_frame *const st_hook[] = {&g_http, &g_hook};
static const struct prof_frame *const st_gmain[] = {&g_main};
static const struct prof_frame *const st_unknown[] = {&u_lib, &u_none};
static const struct prof_frame *const st_odd[] = {&o_semi, &o_bad, &o_utf8};

#define STACK(s) s, (int)(sizeof(s) / sizeof((s)[0]))

static struct prof_sample demo_samples[] = {
	{STACK(st_thread), 39, 117000000000ULL, PROF_STRANDED, "thread", "stranded",
	 "pthread_cond_wait", "s2", 4242},
	{STACK(st_thread), 41, 0, PROF_RUNNING, "thread", NULL, NULL, "s2", 4242},
	{STACK(st_hook), 115, 575000000000ULL, PROF_STRANDED, "goroutine", "stranded", "chan send",
	 "g9", 29740},
	{STACK(st_gmain), 4, 10000000000ULL, PROF_IDLE, "goroutine", "idle", "chan receive", "g6",
	 29740},
	{STACK(st_unknown), 3, 0, PROF_RUNNING, "thread", NULL, NULL, NULL, 0},
	{STACK(st_odd), 2, 0, PROF_BLOCKED, "thread", NULL, "futex", "s;7\n", 4242},
	{NULL, 0, 5, 0, PROF_RUNNING, "thread", NULL, NULL, "s0", 4242},
};

static const struct profile demo = {
	.title = "strand: pid 4242 (leaky_service), pid 29740 (leaky_api), 5.0 s",
	.subtitle = "synthetic: tests/unit/test_pprof.c",
	.view = PROF_VIEW_SPAWN,
	.samples = demo_samples,
	.n = sizeof(demo_samples) / sizeof(demo_samples[0]),
	.duration_s = 5.0,
	.start_unix_ns = 1700000000123456789ULL,
	.threshold_ns = 2000000000ULL,
};

static const struct profile empty = {.title = "strand: nothing traced", .view = PROF_VIEW_WAIT};

/* --- a protobuf reader of the test's own -------------------------------------------------- */

struct rd {
	const uint8_t *p, *end;
};

static bool rd_varint(struct rd *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 70 && r->p < r->end; shift += 7) {
		uint8_t b = *r->p++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* The next field: its number, and its varint (wire 0) or bytes (wire 2, in sub). */
static bool rd_field(struct rd *r, uint32_t *field, uint64_t *v, struct rd *sub)
{
	uint64_t key, len;

	if (r->p >= r->end || !rd_varint(r, &key))
		return false;
	*field = (uint32_t)(key >> 3);
	sub->p = sub->end = NULL;
	if ((key & 7) == 0)
		return rd_varint(r, v);
	if ((key & 7) != 2 || !rd_varint(r, &len) || len > (uint64_t)(r->end - r->p))
		return false;
	sub->p = r->p;
	sub->end = r->p + len;
	r->p += len;
	*v = len;
	return true;
}

/* A repeated varint field, packed (sub) or not (v); appends to out[*n] up to max. */
static void rd_repeated(uint64_t v, struct rd *sub, uint64_t *out, int *n, int max)
{
	if (!sub->p) {
		if (*n < max)
			out[(*n)++] = v;
		return;
	}
	while (sub->p < sub->end && rd_varint(sub, &v))
		if (*n < max)
			out[(*n)++] = v;
}

#define MAXV 64

struct d_sample {
	uint64_t loc[MAXV], val[4], lab[8][3]; /* label: key, str, num */
	int nloc, nval, nlab;
};

struct d_loc {
	uint64_t id, mapping, address, line[MAXV][2]; /* function id, line */
	int nline;
};

struct d_func {
	uint64_t id, name, sysname, file;
};

struct d_map {
	uint64_t id, start, limit, file, flags[4]; /* has_functions ... has_inline_frames */
};

struct d_prof {
	char **str;
	size_t nstr;
	uint64_t st[4][2], pt[2], comment[8];
	int nst, ncomment;
	struct d_sample *s;
	struct d_loc *l;
	struct d_func *fn;
	struct d_map *m;
	size_t ns, nl, nf, nm;
	uint64_t time_nanos, duration, period, default_st;
	bool bad;
};

/* Room for one more, doubling at each power of two: one realloc per element would be
 * quadratic (under ASan, each one a fresh mapping). */
#define D_PUSH(arr, n)                                                                             \
	((((n) & ((n)-1)) == 0                                                                     \
		  ? (void)((arr) = realloc((arr), ((n) ? (n)*2 : 1) * sizeof(*(arr))))             \
		  : (void)0),                                                                      \
	 &(arr)[(n)++])

static void d_value_type(struct rd *r, uint64_t out[2])
{
	struct rd sub;
	uint32_t f;
	uint64_t v;

	while (rd_field(r, &f, &v, &sub))
		if (f == 1 || f == 2) /* ValueType.type, .unit */
			out[f - 1] = v;
}

static void d_sample(struct d_prof *d, struct rd *r)
{
	struct d_sample *s = D_PUSH(d->s, d->ns);
	struct rd sub, lsub;
	uint32_t f, lf;
	uint64_t v, lv;

	memset(s, 0, sizeof(*s));
	while (rd_field(r, &f, &v, &sub)) {
		if (f == 1) /* Sample.location_id */
			rd_repeated(v, &sub, s->loc, &s->nloc, MAXV);
		else if (f == 2) /* Sample.value */
			rd_repeated(v, &sub, s->val, &s->nval, 4);
		else if (f == 3 && s->nlab < 8) { /* Sample.label: key 1, str 2, num 3 */
			while (rd_field(&sub, &lf, &lv, &lsub))
				if (lf >= 1 && lf <= 3)
					s->lab[s->nlab][lf - 1] = lv;
			s->nlab++;
		}
	}
}

static void d_location(struct d_prof *d, struct rd *r)
{
	struct d_loc *l = D_PUSH(d->l, d->nl);
	struct rd sub, lsub;
	uint32_t f, lf;
	uint64_t v, lv;

	memset(l, 0, sizeof(*l));
	while (rd_field(r, &f, &v, &sub)) {
		if (f == 1) /* Location.id */
			l->id = v;
		else if (f == 2) /* .mapping_id */
			l->mapping = v;
		else if (f == 3) /* .address */
			l->address = v;
		else if (f == 4 && l->nline < MAXV) { /* .line: Line.function_id 1, .line 2 */
			while (rd_field(&sub, &lf, &lv, &lsub))
				if (lf == 1 || lf == 2)
					l->line[l->nline][lf - 1] = lv;
			l->nline++;
		}
	}
}

static void d_function(struct d_prof *d, struct rd *r)
{
	struct d_func *fn = D_PUSH(d->fn, d->nf);
	uint64_t *fields[] = {NULL, &fn->id, &fn->name, &fn->sysname, &fn->file};
	struct rd sub;
	uint32_t f;
	uint64_t v;

	memset(fn, 0, sizeof(*fn));
	while (rd_field(r, &f, &v, &sub))
		if (f >= 1 && f <= 4) /* Function.id, name, system_name, filename */
			*fields[f] = v;
}

static void d_mapping(struct d_prof *d, struct rd *r)
{
	struct d_map *m = D_PUSH(d->m, d->nm);
	struct rd sub;
	uint32_t f;
	uint64_t v;

	memset(m, 0, sizeof(*m));
	while (rd_field(r, &f, &v, &sub)) {
		if (f == 1) /* Mapping.id */
			m->id = v;
		else if (f == 2) /* .memory_start */
			m->start = v;
		else if (f == 3) /* .memory_limit */
			m->limit = v;
		else if (f == 5) /* .filename */
			m->file = v;
		else if (f >= 7 && f <= 10) /* .has_functions .. .has_inline_frames */
			m->flags[f - 7] = v;
	}
}

/* Gunzips buf and decodes the Profile message into d. */
static bool d_decode(struct d_prof *d, const void *buf, size_t len)
{
	z_stream z = {0};
	size_t cap = 1 << 16, n = 0;
	uint8_t *raw = malloc(cap);
	struct rd r, sub;
	uint32_t f;
	uint64_t v;
	int rc;

	memset(d, 0, sizeof(*d));
	if (len < 2 || ((const uint8_t *)buf)[0] != 0x1f || ((const uint8_t *)buf)[1] != 0x8b)
		return free(raw), false;
	inflateInit2(&z, 16 + MAX_WBITS);
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	do {
		if (n == cap)
			raw = realloc(raw, cap *= 2);
		z.next_out = raw + n;
		z.avail_out = (uInt)(cap - n);
		rc = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
	} while (rc == Z_OK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.avail_in)
		return free(raw), false;
	r = (struct rd){raw, raw + n};
	while (rd_field(&r, &f, &v, &sub)) {
		switch (f) {
		case 1: /* Profile.sample_type */
			if (d->nst < 4)
				d_value_type(&sub, d->st[d->nst++]);
			break;
		case 2: /* .sample */
			d_sample(d, &sub);
			break;
		case 3: /* .mapping */
			d_mapping(d, &sub);
			break;
		case 4: /* .location */
			d_location(d, &sub);
			break;
		case 5: /* .function */
			d_function(d, &sub);
			break;
		case 6: { /* .string_table */
			char **s = D_PUSH(d->str, d->nstr);

			*s = strndup((const char *)sub.p, (size_t)(sub.end - sub.p));
			break;
		}
		case 9: /* .time_nanos */
			d->time_nanos = v;
			break;
		case 10: /* .duration_nanos */
			d->duration = v;
			break;
		case 11: /* .period_type */
			d_value_type(&sub, d->pt);
			break;
		case 12: /* .period */
			d->period = v;
			break;
		case 13: /* .comment */
			if (d->ncomment < 8)
				d->comment[d->ncomment++] = v;
			break;
		case 14: /* .default_sample_type */
			d->default_st = v;
			break;
		default:
			d->bad = true;
		}
	}
	if (r.p != r.end)
		d->bad = true;
	free(raw);
	return !d->bad;
}

static void d_free(struct d_prof *d)
{
	for (size_t i = 0; i < d->nstr; i++)
		free(d->str[i]);
	free(d->str);
	free(d->s);
	free(d->l);
	free(d->fn);
	free(d->m);
}

static const char *S(const struct d_prof *d, uint64_t i)
{
	return i < d->nstr ? d->str[i] : "<bad string index>";
}

static const struct d_loc *d_loc(const struct d_prof *d, uint64_t id)
{
	for (size_t i = 0; i < d->nl; i++)
		if (d->l[i].id == id)
			return &d->l[i];
	return NULL;
}

static const struct d_func *d_func(const struct d_prof *d, uint64_t id)
{
	for (size_t i = 0; i < d->nf; i++)
		if (d->fn[i].id == id)
			return &d->fn[i];
	return NULL;
}

static const struct d_map *d_map(const struct d_prof *d, uint64_t id)
{
	for (size_t i = 0; i < d->nm; i++)
		if (d->m[i].id == id)
			return &d->m[i];
	return NULL;
}

/* A sample's functions, leaf first, as pprof expands them: "name|name|...", "?" for a
 * Location without Lines. */
static void d_stack(const struct d_prof *d, const struct d_sample *s, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < s->nloc; i++) {
		const struct d_loc *l = d_loc(d, s->loc[i]);

		if (!l) {
			n += snprintf(out + n, size - n, "%s<no location %" PRIu64 ">",
				      n ? "|" : "", s->loc[i]);
			continue;
		}
		if (!l->nline)
			n += snprintf(out + n, size - n, "%s?", n ? "|" : "");
		for (int k = 0; k < l->nline; k++) {
			const struct d_func *fn = d_func(d, l->line[k][0]);

			n += snprintf(out + n, size - n, "%s%s", n ? "|" : "",
				      fn ? S(d, fn->name) : "<no function>");
		}
		if (n >= size)
			return;
	}
}

/* A label's string (or, num, its number as text) by key; NULL when absent. */
static const char *d_label(const struct d_prof *d, const struct d_sample *s, const char *key,
			   char *num)
{
	for (int i = 0; i < s->nlab; i++) {
		if (strcmp(S(d, s->lab[i][0]), key))
			continue;
		if (s->lab[i][1])
			return S(d, s->lab[i][1]);
		sprintf(num, "%" PRId64, (int64_t)s->lab[i][2]);
		return num;
	}
	return NULL;
}

/* --- running the writers ---------------------------------------------------------------- */

typedef int (*writer_fn)(const struct profile *, FILE *);

/* Runs a writer into memory (and, when STRAND_PROFILE_OUT is set, into DIR/name). */
static char *run_writer(writer_fn w, const struct profile *p, const char *name, size_t *len)
{
	const char *dir = getenv("STRAND_PROFILE_OUT");
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	ASSERT_EQ(w(p, f), 0);
	fclose(f);
	if (dir && *dir) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		f = fopen(path, "w");
		if (ASSERT_TRUE(f != NULL)) {
			fwrite(buf, 1, *len, f);
			fclose(f);
		}
	}
	return buf;
}

/* The checks every profile's output passes: ids, references, no duplicates. */
static void check_tables(const struct d_prof *d)
{
	size_t dup_strs = 0, dup_funcs = 0, dup_locs = 0, outside = 0, bad_refs = 0;

	ASSERT_TRUE(d->nstr >= 1 && !strcmp(d->str[0], ""));
	for (size_t i = 0; i < d->nstr; i++)
		for (size_t k = i + 1; k < d->nstr; k++)
			dup_strs += !strcmp(d->str[i], d->str[k]);
	for (size_t i = 0; i < d->nf; i++) {
		ASSERT_EQ(d->fn[i].id, i + 1);
		ASSERT_TRUE(d->fn[i].name && d->fn[i].name < d->nstr && d->fn[i].file < d->nstr);
		ASSERT_EQ(d->fn[i].sysname, d->fn[i].name);
		for (size_t k = i + 1; k < d->nf; k++)
			dup_funcs +=
				d->fn[i].name == d->fn[k].name && d->fn[i].file == d->fn[k].file;
	}
	for (size_t i = 0; i < d->nl; i++) {
		const struct d_loc *l = &d->l[i];
		const struct d_map *m = l->mapping ? d_map(d, l->mapping) : NULL;

		ASSERT_EQ(l->id, i + 1);
		ASSERT_TRUE(!l->mapping || m);
		if (m && l->address)
			outside += l->address < m->start || l->address >= m->limit;
		for (int k = 0; k < l->nline; k++)
			bad_refs += !d_func(d, l->line[k][0]);
		for (size_t k = i + 1; k < d->nl; k++)
			dup_locs += l->mapping == d->l[k].mapping &&
				    l->address == d->l[k].address && l->nline == d->l[k].nline &&
				    !memcmp(l->line, d->l[k].line, sizeof(l->line));
	}
	for (size_t i = 0; i < d->nm; i++) {
		ASSERT_EQ(d->m[i].id, i + 1);
		ASSERT_TRUE(d->m[i].file && d->m[i].file < d->nstr);
		ASSERT_EQ(d->m[i].flags[0], 1); /* has_functions: never symbolized again */
	}
	for (size_t i = 0; i < d->ns; i++) {
		ASSERT_EQ(d->s[i].nval, 2);
		for (int k = 0; k < d->s[i].nloc; k++)
			bad_refs += !d_loc(d, d->s[i].loc[k]);
		for (int k = 0; k < d->s[i].nlab; k++)
			bad_refs += d->s[i].lab[k][0] >= d->nstr || d->s[i].lab[k][1] >= d->nstr;
	}
	ASSERT_EQ(dup_strs, 0);
	ASSERT_EQ(dup_funcs, 0);
	ASSERT_EQ(dup_locs, 0);
	ASSERT_EQ(outside, 0); /* every address within its mapping's range */
	ASSERT_EQ(bad_refs, 0);
	ASSERT_EQ(d->nst, 2);
	ASSERT_STREQ(S(d, d->st[0][0]), "tasks");
	ASSERT_STREQ(S(d, d->st[0][1]), "count");
	ASSERT_STREQ(S(d, d->st[1][0]), "blocked");
	ASSERT_STREQ(S(d, d->st[1][1]), "nanoseconds");
	ASSERT_STREQ(S(d, d->default_st), "tasks");
	ASSERT_STREQ(S(d, d->pt[0]), "tasks");
	ASSERT_STREQ(S(d, d->pt[1]), "count");
	ASSERT_EQ(d->period, 1);
}

/* --- the tests ----------------------------------------------------------------------------- */

static void test_encoding(void)
{
	struct pb_buf b = {0};
	uint64_t packed[] = {1, 300, 0};

	pb__varint(&b, 300);
	ASSERT_TRUE(b.len == 2 && b.data[0] == 0xac && b.data[1] == 0x02);
	pb_buf__reset(&b);
	pb__varint(&b, UINT64_MAX);
	ASSERT_TRUE(b.len == 10 && b.data[9] == 0x01);
	ASSERT_EQ(pb__varint_size(UINT64_MAX), 10);
	ASSERT_EQ(pb__varint_size(127), 1);
	ASSERT_EQ(pb__varint_size(128), 2);
	pb_buf__reset(&b);
	pb__int(&b, 3, -1); /* int64 -1: key 0x18, then ten bytes */
	ASSERT_TRUE(b.len == 11 && b.data[0] == 0x18);
	pb_buf__reset(&b);
	pb__uint(&b, 1, 0); /* proto3 default: not written */
	pb__bool(&b, 7, false);
	ASSERT_EQ(b.len, 0);
	pb__string(&b, 6, "");
	ASSERT_TRUE(b.len == 2 && b.data[0] == 0x32 && b.data[1] == 0);
	pb_buf__reset(&b);
	pb__packed(&b, 2, packed, 3); /* key 0x12, length 4, 01 ac 02 00 */
	ASSERT_TRUE(b.len == 6 && b.data[0] == 0x12 && b.data[1] == 4 && b.data[2] == 1 &&
		    b.data[3] == 0xac && b.data[5] == 0);
	pb_buf__free(&b);
}

static void test_utf8(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "plain"},
		{"日本語 ü", "日本語 ü"},
		{"a\xff"
		 "b",
		 "a\xef\xbf\xbd"
		 "b"},
		{"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},		  /* overlong NUL */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
		{"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xe6\x97", "\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short */
		{"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prof_str s = {0};

		prof_str__append_utf8(&s, cases[i].in);
		ASSERT_STREQ(prof_str__get(&s), cases[i].out);
		ASSERT_EQ(prof_text__utf8_valid(cases[i].in), !strcmp(cases[i].in, cases[i].out));
		prof_str__free(&s);
	}
}

static void test_pprof_demo(void)
{
	size_t len;
	char *buf = run_writer(profile__pprof, &demo, "strand.pb.gz", &len), st[2048], num[32];
	struct d_prof d;

	if (!ASSERT_TRUE(d_decode(&d, buf, len)))
		goto out;
	check_tables(&d);
	ASSERT_EQ(d.ns, demo.n);
	ASSERT_EQ(d.time_nanos, demo.start_unix_ns);
	ASSERT_EQ(d.duration, 5000000000LL);
	ASSERT_TRUE(d.ncomment >= 1 && !strcmp(S(&d, d.comment[0]), demo.title));
	for (size_t i = 0; i < d.ns && i < demo.n; i++) {
		ASSERT_EQ(d.s[i].val[0], demo_samples[i].tasks);
		ASSERT_EQ(d.s[i].val[1], demo_samples[i].blocked_ns);
	}
	/* Leaf first, the inlined pair expanded from the one Location of main's address. */
	d_stack(&d, &d.s[0], st, sizeof(st));
	ASSERT_STREQ(st, "pthread_create@@GLIBC_2.34|spawn_detached|handle_request|serve|main");
	ASSERT_EQ(d.s[0].nloc, 3);
	ASSERT_TRUE(d.s[0].nloc == d.s[1].nloc &&
		    !memcmp(d.s[0].loc, d.s[1].loc, sizeof(d.s[0].loc)));
	const struct d_loc *l = d_loc(&d, d.s[0].loc[2]);

	if (ASSERT_TRUE(l && l->nline == 3)) {
		ASSERT_EQ(l->address, 0x401500);
		ASSERT_EQ(l->line[0][1], 78); /* handle_request, innermost */
		ASSERT_EQ(l->line[2][1], 105);
		ASSERT_STREQ(S(&d, d_map(&d, l->mapping)->file), APP);
		ASSERT_STREQ(S(&d, d_func(&d, l->line[2][0])->file), SRC);
		ASSERT_EQ(d_map(&d, l->mapping)->flags[3], 1); /* has_inline_frames */
	}
	l = d_loc(&d, d.s[0].loc[0]);
	ASSERT_TRUE(l && l->nline == 1 && l->address == 0x7f3a1c08a9f0 && l->line[0][1] == 0);
	ASSERT_TRUE(l && !strcmp(S(&d, d_map(&d, l->mapping)->file), LIBC));
	ASSERT_TRUE(l && d_func(&d, l->line[0][0])->file == 0);
	d_stack(&d, &d.s[2], st, sizeof(st));
	ASSERT_STREQ(st, "main.(*server).handleWebhook|net/http.HandlerFunc.ServeHTTP");
	d_stack(&d, &d.s[4], st, sizeof(st));
	ASSERT_STREQ(st, "?|?");
	l = d_loc(&d, d.s[4].loc[1]); /* the frame in libfoo: its address and module, no Line */
	ASSERT_TRUE(l && l->nline == 0 && l->address == 0x7f3a1d000120 &&
		    !strcmp(S(&d, d_map(&d, l->mapping)->file), "/usr/lib/libfoo.so.1"));
	l = d_loc(&d, d.s[4].loc[0]); /* nothing known at all */
	ASSERT_TRUE(l && l->nline == 0 && l->address == 0 && l->mapping == 0);
	/* Names are kept as they are, only made valid UTF-8. */
	d_stack(&d, &d.s[5], st, sizeof(st));
	ASSERT_STREQ(st, "日本語::関数|bad\xef\xbf\xbd\xef\xbf\xbdname\xef\xbf\xbd\xef\xbf\xbd|"
			 "operator<<; \"weird\" \\"); /* no line breaks for -top to print */
	d_stack(&d, &d.s[6], st, sizeof(st));
	ASSERT_STREQ(st, "[no stack]");
	ASSERT_EQ(d.nl, 3 + 2 + 1 + 2 + 3 + 1);
	/* The labels. */
	ASSERT_STREQ(d_label(&d, &d.s[0], "kind", num), "thread");
	ASSERT_STREQ(d_label(&d, &d.s[0], "verdict", num), "stranded");
	ASSERT_STREQ(d_label(&d, &d.s[0], "wait_reason", num), "pthread_cond_wait");
	ASSERT_STREQ(d_label(&d, &d.s[0], "site", num), "s2");
	ASSERT_STREQ(d_label(&d, &d.s[0], "pid", num), "4242");
	ASSERT_EQ(d.s[0].nlab, 5);
	ASSERT_TRUE(d_label(&d, &d.s[1], "verdict", num) == NULL);
	ASSERT_EQ(d.s[1].nlab, 3);
	ASSERT_STREQ(d_label(&d, &d.s[2], "kind", num), "goroutine");
	ASSERT_STREQ(d_label(&d, &d.s[2], "wait_reason", num), "chan send");
	ASSERT_STREQ(d_label(&d, &d.s[3], "verdict", num), "idle");
	ASSERT_EQ(d.s[4].nlab, 1); /* kind only: no site, no pid */
	ASSERT_STREQ(d_label(&d, &d.s[5], "site", num), "s;7 ");
out:
	d_free(&d);
	free(buf);
}

static void test_pprof_empty(void)
{
	size_t len;
	char *buf = run_writer(profile__pprof, &empty, "empty.pb.gz", &len);
	struct d_prof d;

	if (ASSERT_TRUE(d_decode(&d, buf, len))) {
		check_tables(&d);
		ASSERT_TRUE(d.ns == 0 && d.nl == 0 && d.nf == 0 && d.nm == 0);
		ASSERT_EQ(d.time_nanos, 0);
		ASSERT_EQ(d.duration, 0);
	}
	d_free(&d);
	free(buf);
}

/* Many random samples over a pool of frames: tables that grow, dedupe under collisions of
 * use, output past the gzip flush size, and every stack back as it went in. */
static void test_pprof_many(void)
{
	enum { NFRAMES = 300, NSAMPLES = 3000, DEPTH = 40 };
	static struct prof_frame pool[NFRAMES];
	static char names[NFRAMES][32];
	static const struct prof_frame *stacks[NSAMPLES][DEPTH];
	static struct prof_sample samples[NSAMPLES];
	struct profile p = {.title = "many", .samples = samples, .n = NSAMPLES};
	uint64_t seed = 42, tasks = 0, got = 0;
	char st[DEPTH * 40], want[DEPTH * 40];
	struct d_prof d;
	size_t len;

#define RAND() (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, seed >> 33)
	for (int i = 0; i < NFRAMES; i++) {
		snprintf(names[i], sizeof(names[i]), "fn_%d", i);
		/* Every third one inlined into whatever is below it (same address or none). */
		pool[i] = (struct prof_frame){i % 17 ? names[i] : NULL,
					      i % 5 ? "/src/f.c" : NULL,
					      i,
					      i % 2 ? "/usr/lib/libm.so" : "/bin/app",
					      i % 3 == 1 ? 0 : 0x1000 + 16 * (uint64_t)i,
					      i % 3 == 1};
	}
	for (int i = 0; i < NSAMPLES; i++) {
		int depth = (int)(RAND() % DEPTH);

		for (int k = 0; k < depth; k++)
			stacks[i][k] = &pool[RAND() % NFRAMES];
		samples[i] = (struct prof_sample){.frames = stacks[i],
						  .depth = depth,
						  .tasks = 1 + RAND() % 1000,
						  .kind = "thread"};
		tasks += samples[i].tasks;
	}
	char *buf = run_writer(profile__pprof, &p, "many.pb.gz", &len);

	ASSERT_TRUE(len > 64 * 1024 / 8);
	if (ASSERT_TRUE(d_decode(&d, buf, len))) {
		check_tables(&d);
		ASSERT_EQ(d.ns, NSAMPLES);
		for (size_t i = 0; i < d.ns; i++) {
			size_t n = 0;

			got += d.s[i].val[0];
			snprintf(want, sizeof(want), "%s", samples[i].depth ? "" : "[no stack]");
			for (int k = samples[i].depth - 1; k >= 0; k--)
				n += snprintf(want + n, sizeof(want) - n, "%s%s", n ? "|" : "",
					      stacks[i][k]->function ? stacks[i][k]->function
								     : "?");
			d_stack(&d, &d.s[i], st, sizeof(st));
			if (!UNIT_CHECK(!strcmp(st, want), "sample %zu: %s vs %s", i, st, want))
				break;
		}
		ASSERT_EQ(got, tasks);
	}
	d_free(&d);
	free(buf);
}

static void test_folded(void)
{
	size_t len;
	char *buf = run_writer(profile__folded, &demo, "strand.folded", &len);

	/* Sorted; the two samples of the thread stack merged (39 + 41); names made line-safe. */
	ASSERT_STREQ(buf, "0x7f3a1d000120 [libfoo.so.1];[unknown] 3\n"
			  "[no stack] 5\n"
			  "main (leaky_service.c:105);serve (leaky_service.c:91);handle_request "
			  "(leaky_service.c:78);spawn_detached (leaky_service.c:67);"
			  "pthread_create@@GLIBC_2.34 [libc.so.6] 80\n"
			  "main.main (leaky_api.go:84) 4\n"
			  "net/http.HandlerFunc.ServeHTTP (server.go:2109);"
			  "main.(*server).handleWebhook (leaky_api.go:41) 115\n"
			  "operator<<, \"weird\" \\ (we,ird file.cc:7);"
			  "bad\xef\xbf\xbd\xef\xbf\xbdname\xef\xbf\xbd\xef\xbf\xbd;日本語::関数 "
			  "(ü.cc:3) 2\n");
	free(buf);
	buf = run_writer(profile__folded, &empty, "empty.folded", &len);
	ASSERT_EQ(len, 0);
	free(buf);
}

static void test_speedscope(void)
{
	size_t len;
	char *buf = run_writer(profile__speedscope, &demo, "strand.speedscope.json", &len);

	ASSERT_TRUE(
		strstr(buf, "\"$schema\": \"https://www.speedscope.app/file-format-schema.json\""));
	ASSERT_TRUE(strstr(buf, "\"type\": \"sampled\""));
	ASSERT_TRUE(strstr(buf, "\"unit\": \"none\""));
	ASSERT_TRUE(strstr(buf, "\"endValue\": 209"));
	ASSERT_TRUE(strstr(buf, "\"name\": \"operator<<;\\n\\\"weird\\\"\\t\\\\\""));
	ASSERT_TRUE(strstr(
		buf, "\"name\": \"bad\xef\xbf\xbd\xef\xbf\xbdname\xef\xbf\xbd\xef\xbf\xbd\""));
	ASSERT_TRUE(strstr(buf, "\"file\": \"/src/we;ird\\nfile.cc\""));
	ASSERT_TRUE(prof_text__utf8_valid(buf));
	free(buf);
	buf = run_writer(profile__speedscope, &empty, "empty.speedscope.json", &len);
	ASSERT_TRUE(strstr(buf, "\"samples\": []") && strstr(buf, "\"frames\": []"));
	free(buf);
}

int main(void)
{
	test_encoding();
	test_utf8();
	test_pprof_demo();
	test_pprof_empty();
	test_pprof_many();
	test_folded();
	test_speedscope();
	return unit_summary();
}
