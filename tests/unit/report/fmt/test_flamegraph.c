// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The SVG flame graph (user/flamegraph.c) from synthetic profiles: a leaky Go API and a leaky
 * C service in each view, names that need escaping, deep and wide trees, empty and broken
 * input. Checked here: well-formed XML, every input frame once per tree path with its tasks,
 * tooltips, escaping, colours by class, bounds on size, byte-identical renders.
 *
 * `test_flamegraph DIR` writes the fixture's SVGs to DIR instead (spawn, wait, combined, empty),
 * for tests/report/svgcheck.py to parse and screenshot in a browser.
 */
#include "report/fmt/profile.h"
#include "unit.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>

/* --- the fixture: what `make demo` traces, as a profile -------------------------------- */

#define FR(name, fn, fl, ln)                                                                       \
	static const struct prof_frame name = {.function = fn, .file = fl, .line = ln}

/* Go: spawn stacks */
FR(g_rtmain, "runtime.main", "/usr/lib/go-1.19/src/runtime/proc.go", 250);
FR(g_main84, "main.main", "/src/api/leaky_api.go", 84);
FR(g_main90, "main.main", "/src/api/leaky_api.go", 90);
FR(g_serve, "net/http.(*conn).serve", "/usr/lib/go-1.19/src/net/http/server.go", 1995);
FR(g_handler, "net/http.serverHandler.ServeHTTP", "/usr/lib/go-1.19/src/net/http/server.go", 2947);
FR(g_mux, "net/http.(*ServeMux).ServeHTTP", "/usr/lib/go-1.19/src/net/http/server.go", 2487);
FR(g_hfunc, "net/http.HandlerFunc.ServeHTTP", "/usr/lib/go-1.19/src/net/http/server.go", 2109);
FR(g_webhook, "main.(*server).handleWebhook", "/src/api/leaky_api.go", 41);
/* Go: what they run and where they wait */
FR(g_goexit, "runtime.goexit", "/usr/lib/go-1.19/src/runtime/asm_amd64.s", 1594);
FR(g_func1, "main.(*server).handleWebhook.func1", "/src/api/leaky_api.go", 41);
FR(g_deliver, "main.(*server).deliver", "/src/api/leaky_api.go", 33);
FR(g_chansend1, "runtime.chansend1", "/usr/lib/go-1.19/src/runtime/chan.go", 145);
FR(g_chanrecv2, "runtime.chanrecv2", "/usr/lib/go-1.19/src/runtime/chan.go", 447);
FR(g_gopark, "runtime.gopark", "/usr/lib/go-1.19/src/runtime/proc.go", 363);
FR(g_worker, "main.(*server).worker", "/src/api/leaky_api.go", 52);
FR(g_beat, "main.(*server).heartbeat", "/src/api/leaky_api.go", 61);
FR(g_sleep, "time.Sleep", "/usr/lib/go-1.19/src/runtime/time.go", 195);
/* C: spawn stacks */
FR(c_main, "main", "/src/svc/leaky_service.c", 105);
FR(c_serve, "serve", "/src/svc/leaky_service.c", 91);
FR(c_handle, "handle_request", "/src/svc/leaky_service.c", 78);
FR(c_spawn, "spawn_detached", "/src/svc/leaky_service.c", 67);
FR(c_accept, "accept_loop", "/src/svc/leaky_service.c", 120);
FR(c_perconn, "spawn_per_conn", "/src/svc/leaky_service.c", 131);
FR(c_pool, "Pool<Job, std::allocator<Job> >::start(int)", "/src/svc/pool.cc", 20);
FR(c_thread,
   "std::thread::thread<void (Pool<Job>::*)(), Pool<Job>*>(void (Pool<Job>::*&&)(), "
   "Pool<Job>*&&)",
   "/usr/include/c++/12/bits/std_thread.h", 143);
/* C: where they wait */
static const struct prof_frame c_clone = {.function = "clone3", .module = "/usr/lib/libc.so.6"};
static const struct prof_frame c_start = {.function = "start_thread",
					  .module = "/usr/lib/libc.so.6"};
FR(c_fetch, "fetch_reply", "/src/svc/leaky_service.c", 47);
static const struct prof_frame c_condwait = {.function = "pthread_cond_wait@@GLIBC_2.3.2",
					     .file = "./nptl/pthread_cond_wait.c",
					     .line = 618,
					     .module = "/usr/lib/libc.so.6"};
FR(c_conn, "conn_main", "/src/svc/leaky_service.c", 140);
static const struct prof_frame c_read = {.function = "read", .module = "/usr/lib/libc.so.6"};
FR(c_run, "Pool<Job, std::allocator<Job> >::run()", "/src/svc/pool.cc", 31);
FR(c_crunch, "crunch<&operator\"\"_k, 'q'>", "/src/svc/pool.cc", 55);
static const struct prof_frame c_unknown = {.module = "/opt/vendor/libblob.so",
					    .address = 0x7f3a10};

#define S(...) ((const struct prof_frame *const[]){__VA_ARGS__})
#define N(...) (int)(sizeof((const struct prof_frame *const[]){__VA_ARGS__}) / sizeof(void *))

/* In this order: SPAWN() and WAIT() set two members each, the rest follow them. */
struct task_group {
	const struct prof_frame *const *spawn;
	int nspawn;
	const struct prof_frame *const *wait;
	int nwait;
	const struct prof_frame *start;
	uint64_t tasks, blocked_ns;
	enum prof_class class;
	const char *kind, *verdict, *reason, *site;
	int pid;
};

#define SPAWN(...) .spawn = S(__VA_ARGS__), .nspawn = N(__VA_ARGS__)
#define WAIT(...)  .wait = S(__VA_ARGS__), .nwait = N(__VA_ARGS__)
#define SEC	   1000000000ULL

static const struct task_group demo_groups[] = {
	{SPAWN(&g_serve, &g_handler, &g_mux, &g_hfunc, &g_webhook),
	 WAIT(&g_goexit, &g_func1, &g_deliver, &g_chansend1, &g_gopark), &g_func1, 115,
	 115 * 3 * SEC, PROF_STRANDED, "goroutine", "stranded", "chan send", "g9", 29740},
	{SPAWN(&g_rtmain, &g_main84), WAIT(&g_goexit, &g_worker, &g_chanrecv2, &g_gopark),
	 &g_worker, 4, 4 * 2 * SEC, PROF_IDLE, "goroutine", "idle", "chan receive", "g6", 29740},
	{SPAWN(&g_rtmain, &g_main90), WAIT(&g_goexit, &g_beat, &g_sleep, &g_gopark), &g_beat, 1,
	 SEC / 2, PROF_RUNNING, "goroutine", NULL, "sleep", "g7", 29740},
	{SPAWN(&c_main, &c_serve, &c_handle, &c_spawn),
	 WAIT(&c_clone, &c_start, &c_fetch, &c_condwait), &c_fetch, 39, 39 * 3 * SEC, PROF_STRANDED,
	 "thread", "stranded", "pthread_cond_wait", "s2", 4242},
	{SPAWN(&c_main, &c_serve, &c_handle, &c_spawn),
	 WAIT(&c_clone, &c_start, &c_fetch, &c_condwait), &c_fetch, 41, 41 * SEC / 2, PROF_RUNNING,
	 "thread", NULL, "pthread_cond_wait", "s2", 4242},
	{SPAWN(&c_main, &c_accept, &c_perconn), WAIT(&c_clone, &c_start, &c_conn, &c_read), &c_conn,
	 62, 62 * SEC, PROF_RUNAWAY, "thread", NULL, "read", "s5", 4242},
	{SPAWN(&c_main, &c_accept, &c_perconn), WAIT(&c_clone, &c_start, &c_conn, &c_read), &c_conn,
	 6, 6 * 4 * SEC, PROF_BLOCKED, "thread", NULL, "read", "s5", 4242},
	{SPAWN(&c_main, &c_pool, &c_thread),
	 WAIT(&c_clone, &c_start, &c_run, &c_crunch, &c_unknown), &c_run, 3, 0, PROF_RUNNING,
	 "thread", NULL, NULL, "s3", 4242},
};

static const uint32_t tl_g9[] = {37, 44, 52, 58, 63, 70, 77, 83, 90, 97, 104, 110, 115};
static const uint32_t tl_s2[] = {3, 3, 10, 18, 25, 33, 40, 47, 54, 61, 67, 74, 80};
static const uint32_t tl_s5[] = {0, 12, 30, 22, 41, 35, 55, 48, 60, 51, 66, 58, 68};
static const uint32_t tl_g6[] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
static struct prof_series demo_series[] = {
	{"g9 main.(*server).handleWebhook (leaky_api.go:41)", 5.0, tl_g9, 13},
	{"s2 spawn_detached (leaky_service.c:67)", 5.0, tl_s2, 13},
	{"s5 spawn_per_conn (leaky_service.c:131)", 4.6, tl_s5, 13},
	{"g6 main.main (leaky_api.go:84)", 5.0, tl_g6, 13},
};

struct fixture {
	struct profile p;
	struct prof_sample samples[64];
	const struct prof_frame *stacks[64][32];
};

/* The groups' stacks in one view, root first (the combined view: spawn, start, wait). */
static void fixture__build(struct fixture *fx, const struct task_group *g, size_t n,
			   enum prof_view view)
{
	memset(fx, 0, sizeof(*fx));
	fx->p.title = "strand: pid 29740 (leaky_api) and pid 4242 (leaky_service), 5.0 s";
	fx->p.subtitle = "strand trace -p 29740 -p 4242 --for 5s --threshold 2s";
	fx->p.view = view;
	fx->p.samples = fx->samples;
	fx->p.duration_s = 5.0;
	fx->p.start_unix_ns = 1717243200ULL * SEC;
	fx->p.threshold_ns = 2 * SEC;
	fx->p.series = demo_series;
	fx->p.nseries = sizeof(demo_series) / sizeof(demo_series[0]);
	for (size_t i = 0; i < n; i++) {
		struct prof_sample *s = &fx->samples[fx->p.n++];
		const struct prof_frame **st = fx->stacks[i];
		int d = 0;

		if (view != PROF_VIEW_WAIT)
			for (int k = 0; k < g[i].nspawn; k++)
				st[d++] = g[i].spawn[k];
		if (view == PROF_VIEW_COMBINED)
			st[d++] = g[i].start;
		if (view != PROF_VIEW_SPAWN) {
			int k = 0;

			/* the start's own frame and the runtime's under it are the start, once */
			if (view == PROF_VIEW_COMBINED)
				while (k < g[i].nwait && g[i].wait[k++] != g[i].start)
					;
			for (k = k == g[i].nwait ? 0 : k; k < g[i].nwait; k++)
				st[d++] = g[i].wait[k];
		}
		*s = (struct prof_sample){st,	      d,	 g[i].tasks,   g[i].blocked_ns,
					  g[i].class, g[i].kind, g[i].verdict, g[i].reason,
					  g[i].site,  g[i].pid};
		fx->p.totals[g[i].class] += g[i].tasks;
	}
}

static char *render(const struct profile *p, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int err = profile__svg(p, f);

	fclose(f);
	ASSERT_EQ(err, 0);
	if (len)
		*len = n;
	return buf;
}

/* --- a small XML checker: tags nest, entities are known, text is UTF-8 ----------------- */

static bool xml__well_formed(const char *s, const char **why)
{
	const char *stack[256];
	int depth = 0, roots = 0;

	*why = NULL;
	for (const unsigned char *u = (const unsigned char *)s; *u; u++)
		if (*u >= 0x80 && (*u & 0xc0) != 0xc0 && (u[-1] < 0x80))
			return *why = "stray UTF-8 continuation byte", false;
	while (*s) {
		if (*s == '&') {
			static const char *const ents[] = {"&lt;", "&gt;", "&amp;", "&quot;",
							   "&apos;"};
			bool ok = false;

			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
				ok |= !strncmp(s, ents[i], strlen(ents[i]));
			if (!ok)
				return *why = "bad entity", false;
			s++;
			continue;
		}
		if (*s != '<') {
			s++;
			continue;
		}
		if (!strncmp(s, "<?", 2) || !strncmp(s, "<!--", 4)) {
			const char *end = strstr(s, s[1] == '?' ? "?>" : "-->");

			if (!end)
				return *why = "unterminated declaration", false;
			s = end + 2;
		} else if (!strncmp(s, "<![CDATA[", 9)) {
			const char *end = strstr(s, "]]>");

			if (!end)
				return *why = "unterminated CDATA", false;
			s = end + 3;
		} else if (s[1] == '/') {
			size_t n = strcspn(s + 2, ">");

			if (!depth || strncmp(stack[depth - 1], s + 2, n) ||
			    isalnum((unsigned char)stack[depth - 1][n]))
				return *why = "mismatched end tag", false;
			depth--;
			s += n + 3;
		} else {
			const char *end = s + 1;
			char q = 0;

			for (; *end && (q || *end != '>'); end++) {
				if (q && *end == '<')
					return *why = "< in an attribute", false;
				if (*end == '"' || *end == '\'')
					q = q == *end ? 0 : q ? q : *end;
			}
			if (!*end)
				return *why = "unterminated tag", false;
			if (end[-1] != '/') {
				if (depth == 256)
					return *why = "too deep", false;
				if (!depth)
					roots++;
				stack[depth++] = s + 1;
			}
			s = end + 1;
		}
	}
	if (depth)
		return *why = "unclosed element", false;
	if (roots != 1)
		return *why = "not one root element", false;
	return true;
}

/* --- the frames as drawn ---------------------------------------------------------------- */

struct drawn {
	char name[512], title[2048], path[4096];
	char kpath[8192]; /* the path with each frame's location: "name@file:line;..." */
	uint64_t x, w;
	int d;
	char fill[32];
};

static void xml__unescape(const char *s, size_t n, char *out, size_t size)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
		{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < size;) {
		size_t j;

		for (j = 0; j < sizeof(ents) / sizeof(ents[0]); j++)
			if (!strncmp(s + i, ents[j].ent, strlen(ents[j].ent)))
				break;
		if (j < sizeof(ents) / sizeof(ents[0])) {
			out[k++] = ents[j].c;
			i += strlen(ents[j].ent);
		} else {
			out[k++] = s[i++];
		}
	}
	out[k] = 0;
}

/* Every <g class="f">: place, level, name, tooltip, fill; each one's path of names found
 * from its parent (the frame a level down whose span holds it). */
static struct drawn *drawn__parse(const char *svg, int *n)
{
	struct drawn *d = NULL;
	int cap = 0;

	*n = 0;
	for (const char *s = svg; (s = strstr(s, "<g class=\"f\" ")); s++) {
		struct drawn *f;
		const char *t, *te, *fill;
		unsigned long long x, w;

		if (*n == cap)
			d = realloc(d, (cap = cap ? cap * 2 : 64) * sizeof(*d));
		f = &d[(*n)++];
		memset(f, 0, sizeof(*f));
		sscanf(s, "<g class=\"f\" data-x=\"%llu\" data-w=\"%llu\" data-d=\"%d\">", &x, &w,
		       &f->d);
		f->x = x;
		f->w = w;
		t = strstr(s, "<title>") + 7;
		te = strstr(t, "</title>");
		xml__unescape(t, te - t, f->title, sizeof(f->title));
		snprintf(f->name, sizeof(f->name), "%.*s", (int)strcspn(f->title, "\n"), f->title);
		fill = strstr(te, "fill=\"") + 6;
		snprintf(f->fill, sizeof(f->fill), "%.*s", (int)strcspn(fill, "\""), fill);
	}
	for (int depth = 0, any = 1; any; depth++) {
		any = 0;
		for (int i = 0; i < *n; i++) {
			if (d[i].d != depth)
				continue;
			any = 1;
			const char *loc = d[i].title + strlen(d[i].name) + 1;
			int nloc = (int)strcspn(loc, "\n");

			if (!depth) {
				snprintf(d[i].path, sizeof(d[i].path), "%s", d[i].name);
				snprintf(d[i].kpath, sizeof(d[i].kpath), "%s", d[i].name);
				continue;
			}
			for (int j = 0; j < *n; j++)
				if (d[j].d == depth - 1 && d[j].x <= d[i].x &&
				    d[i].x < d[j].x + d[j].w) {
					snprintf(d[i].path, sizeof(d[i].path), "%s;%s", d[j].path,
						 d[i].name);
					snprintf(d[i].kpath, sizeof(d[i].kpath), "%s;%s@%.*s",
						 d[j].kpath, d[i].name, nloc, loc);
				}
		}
	}
	return d;
}

static const struct drawn *drawn__find(const struct drawn *d, int n, const char *path)
{
	const struct drawn *found = NULL;

	for (int i = 0; i < n; i++)
		if (!strcmp(strchr(path, '@') ? d[i].kpath : d[i].path, path)) {
			if (found)
				return NULL; /* twice: not one frame per path */
			found = &d[i];
		}
	return found;
}

static void rgb__parse(const char *fill, int *r, int *g, int *b)
{
	*r = *g = *b = -1;
	sscanf(fill, "rgb(%d,%d,%d)", r, g, b);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* --- tests ------------------------------------------------------------------------------ */

/* A frame as the tooltips name it and place it: "function@file:line", "0x1 [m]@in /m". */
static const char *frame_name(const struct prof_frame *fr)
{
	static char buf[4][512];
	static int next;
	char name[256];

	next = (next + 1) % 4;
	prof_frame__format(fr, name, sizeof(name));
	if (fr->file)
		snprintf(buf[next], sizeof(buf[next]), "%s@%s:%d", fr->function ?: name, fr->file,
			 fr->line);
	else
		snprintf(buf[next], sizeof(buf[next]), "%s@in %s", fr->function ?: name,
			 fr->module ?: "an unknown module");
	return buf[next];
}

/* Each prefix of each sample's stack is one frame, with the tasks of all samples through it;
 * and nothing else is drawn. */
static void check_paths(const struct profile *p, const char *svg)
{
	struct drawn *d;
	int n, expected = 1;
	char path[4096];

	d = drawn__parse(svg, &n);
	ASSERT_TRUE(n > 0 && !strcmp(d[0].name, "all tasks") && d[0].d == 0);
	for (size_t i = 0; i < p->n; i++) {
		const struct prof_sample *s = &p->samples[i];

		snprintf(path, sizeof(path), "all tasks");
		for (int k = 0; k < s->depth; k++) {
			uint64_t tasks = 0;
			const struct drawn *f;
			bool first = true;
			char want[64];

			snprintf(path + strlen(path), sizeof(path) - strlen(path), ";%s",
				 frame_name(s->frames[k]));
			/* new here: no earlier sample had this prefix */
			for (size_t j = 0; j < i && first; j++) {
				char other[4096] = "all tasks";

				for (int m = 0; m <= k && m < p->samples[j].depth; m++)
					snprintf(other + strlen(other),
						 sizeof(other) - strlen(other), ";%s",
						 frame_name(p->samples[j].frames[m]));
				first = strcmp(other, path) != 0;
			}
			expected += first;
			for (size_t j = 0; j < p->n; j++) {
				char other[4096] = "all tasks";

				for (int m = 0; m <= k && m < p->samples[j].depth; m++)
					snprintf(other + strlen(other),
						 sizeof(other) - strlen(other), ";%s",
						 frame_name(p->samples[j].frames[m]));
				if (!strcmp(other, path) && p->samples[j].depth > k)
					tasks += p->samples[j].tasks;
			}
			f = drawn__find(d, n, path);
			if (!UNIT_CHECK(f, "one frame for %s", path))
				continue;
			ASSERT_EQ(f->w, tasks);
			snprintf(want, sizeof(want), "\n%llu task", (unsigned long long)tasks);
			UNIT_CHECK(strstr(f->title, want), "%s: title says %s", path, want + 1);
		}
	}
	ASSERT_EQ(n, expected);
	free(d);
}

static void test_views(void)
{
	static const enum prof_view views[] = {PROF_VIEW_SPAWN, PROF_VIEW_WAIT, PROF_VIEW_COMBINED};
	struct fixture fx;

	for (size_t v = 0; v < 3; v++) {
		const char *why;
		char *a, *b;
		size_t la, lb;

		fixture__build(&fx, demo_groups, sizeof(demo_groups) / sizeof(demo_groups[0]),
			       views[v]);
		a = render(&fx.p, &la);
		b = render(&fx.p, &lb);
		UNIT_CHECK(xml__well_formed(a, &why), "view %zu: %s", v, why);
		UNIT_CHECK(la == lb && !memcmp(a, b, la), "view %zu: two renders differ", v);
		check_paths(&fx.p, a);
		ASSERT_TRUE(strstr(a, "<script") && strstr(a, "<style"));
		ASSERT_TRUE(!strstr(a, "href") && !strstr(a, "http://www.w3.org/1999/xlink"));
		ASSERT_TRUE(strstr(a, "strand: pid 29740 (leaky_api)"));
		ASSERT_TRUE(strstr(a, "2024-06-01 12:00:00 UTC"));
		ASSERT_TRUE(strstr(a, "Blocked long: past 2.0 s.") && strstr(a, "Traced 5.0 s."));
		ASSERT_TRUE(strstr(a, "Live tasks of the top spawn sites over the trace"));
		ASSERT_TRUE(strstr(a, "stranded</tspan> 154 tasks</text>"));
		ASSERT_TRUE(strstr(a, "runaway</tspan> 62 tasks</text>"));
		ASSERT_TRUE(strstr(a, "In the graph: 271 tasks."));
		ASSERT_TRUE(!strstr(a, "narrower frames")); /* everything fits */
		free(a);
		free(b);
	}
}

/* Labels shown only when uniform; classes listed when mixed; blocked time when any. */
static void test_tooltips(void)
{
	struct fixture fx;
	struct drawn *d;
	const struct drawn *f;
	char *svg;
	int n;

	fixture__build(&fx, demo_groups, sizeof(demo_groups) / sizeof(demo_groups[0]),
		       PROF_VIEW_WAIT);
	svg = render(&fx.p, NULL);
	d = drawn__parse(svg, &n);
	f = drawn__find(d, n,
			"all tasks;runtime.goexit;main.(*server).handleWebhook.func1;"
			"main.(*server).deliver");
	if (UNIT_CHECK(f, "deliver drawn")) {
		ASSERT_TRUE(strstr(f->title, "\n/src/api/leaky_api.go:33\n"));
		ASSERT_TRUE(strstr(f->title, "\n115 tasks, 42.4% of 271"));
		ASSERT_TRUE(strstr(f->title, "\nblocked 5.8 min in all, 3.0 s on average"));
		ASSERT_TRUE(
			strstr(f->title, "\nstranded, chan send, goroutine, site g9, pid 29740"));
	}
	f = drawn__find(d, n, "all tasks;clone3;start_thread;fetch_reply");
	if (UNIT_CHECK(f, "fetch_reply drawn")) {
		ASSERT_TRUE(strstr(f->title, "\nstranded 39, running 41"));
		ASSERT_TRUE(strstr(f->title, "\npthread_cond_wait, thread, site s2, pid 4242"));
		ASSERT_TRUE(!strstr(f->title, "\nstranded,"));
	}
	f = drawn__find(d, n, "all tasks;clone3");
	if (UNIT_CHECK(f, "clone3 drawn"))
		ASSERT_TRUE(strstr(f->title, "\nin /usr/lib/libc.so.6\n"));
	ASSERT_TRUE(strstr(d[0].title, "\nevery task of the profile\n271 tasks, 100.0% of 271"));
	ASSERT_TRUE(!strstr(d[0].title, "site ") && !strstr(d[0].title, "pid "));
	f = drawn__find(d, n,
			"all tasks;clone3;start_thread;Pool<Job, std::allocator<Job> >::run();"
			"crunch<&operator\"\"_k, 'q'>;0x7f3a10 [libblob.so]");
	if (UNIT_CHECK(f, "the unnamed frame drawn by its address"))
		ASSERT_TRUE(strstr(f->title, "\nin /opt/vendor/libblob.so\n3 tasks"));
	free(d);
	free(svg);
}

/* A frame's colour: its tasks' class (most of them), a shade of that class's hue. */
static void test_colours(void)
{
	struct fixture fx;
	struct drawn *d;
	const char *stop;
	int n, stripes = 0;
	char *svg;

	fixture__build(&fx, demo_groups, sizeof(demo_groups) / sizeof(demo_groups[0]),
		       PROF_VIEW_WAIT);
	svg = render(&fx.p, NULL);
	d = drawn__parse(svg, &n);
	for (int i = 0; i < n; i++) {
		const struct drawn *f = &d[i];
		int r, g, b;

		rgb__parse(f->fill, &r, &g, &b);
		if (strstr(f->path, "deliver")) {
			/* stranded: red, whatever the name's shade */
			UNIT_CHECK(r > 190 && g < 110 && b < 110, "%s: %s is red", f->name,
				   f->fill);
		} else if (strstr(f->path, "worker")) {
			UNIT_CHECK(b > r && b >= g && r > 120, "%s: %s is blue-grey", f->name,
				   f->fill);
		} else if (strstr(f->path, "conn_main")) {
			/* 62 runaway, 6 blocked: the runaway's orange */
			UNIT_CHECK(r > 230 && g > 100 && g < 170 && b < 80, "%s: %s is orange",
				   f->name, f->fill);
		} else if (strstr(f->path, "heartbeat") || strstr(f->path, "crunch")) {
			UNIT_CHECK(g > r && g > b, "%s: %s is green", f->name, f->fill);
		} else if (strstr(f->path, "fetch_reply")) {
			/* 41 running, 39 stranded: most are running, the stripe says the rest */
			UNIT_CHECK(g > r && g > b, "%s: %s is green", f->name, f->fill);
		}
		if (strstr(f->path, "fetch_reply") || strstr(f->path, "conn_main") || !f->d)
			stripes++;
	}
	/* mixed frames have a stripe of their classes' shares, stranded first: the root's, the
	 * stacks of s2 (39 stranded of 80: 0.4875) and of s5 */
	ASSERT_EQ(count(svg, "<rect class=\"mix\""),
		  stripes + 3 /* goexit, clone3, start_thread */);
	stop = strstr(svg, "pthread_cond_wait@@GLIBC_2.3.2\n");
	stop = stop ? strstr(stop, "<linearGradient") : NULL;
	ASSERT_TRUE(stop && !strncmp(strstr(stop, "<stop offset=\"0.4875\""),
				     "<stop offset=\"0.4875\"", 10));
	free(d);
	free(svg);

	/* blocked, no verdict: amber; an even split takes the graver class */
	struct task_group g[2] = {demo_groups[6], demo_groups[6]};

	g[1].class = PROF_IDLE;
	fixture__build(&fx, g, 2, PROF_VIEW_SPAWN);
	svg = render(&fx.p, NULL);
	d = drawn__parse(svg, &n);
	for (int i = 1; i < n; i++) {
		int r, gr, b;

		rgb__parse(d[i].fill, &r, &gr, &b);
		UNIT_CHECK(r > 220 && gr > 160 && b < 90, "%s: %s is amber", d[i].name, d[i].fill);
	}
	free(d);
	free(svg);
}

static const char *escape_names[] = {
	"std::vector<int, std::allocator<int> >::push_back(int&&)",
	"main.(*T[\"k\"]).f",
	"a'b&c",
	"bad\xff\xfe utf8 \xc3",
	"line\nbreak\tand\x01 control",
	"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\x9b", /* café → 🐛: kept as is */
};

static void test_escaping(void)
{
	struct prof_frame fr[6];
	const struct prof_frame *st[6];
	struct prof_sample s = {.frames = st,
				.depth = 6,
				.tasks = 7,
				.class = PROF_STRANDED,
				.kind = "thread",
				.verdict = "<stranded>",
				.site = "s&1"};
	struct profile p = {
		.title = "pid 1 (<a&b>)", .subtitle = "\"quoted\" 'too'", .samples = &s, .n = 1};
	const char *why;
	struct drawn *d;
	char *svg;
	int n;

	for (int i = 0; i < 6; i++) {
		fr[i] = (struct prof_frame){
			.function = escape_names[i], .file = "/x/<y>.go", .line = i + 1};
		st[i] = &fr[i];
	}
	svg = render(&p, NULL);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	ASSERT_TRUE(strstr(svg, "std::vector&lt;int, std::allocator&lt;int&gt; &gt;::push_back("
				"int&amp;&amp;)"));
	ASSERT_TRUE(!strstr(svg, "std::vector<int"));
	ASSERT_TRUE(strstr(svg, "main.(*T[&quot;k&quot;]).f"));
	ASSERT_TRUE(strstr(svg, "a&apos;b&amp;c"));
	ASSERT_TRUE(strstr(svg, "bad\xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd<"));
	ASSERT_TRUE(strstr(svg, "line\xef\xbf\xbd"
				"break\tand\xef\xbf\xbd control"));
	ASSERT_TRUE(strstr(svg, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\x9b"));
	ASSERT_TRUE(strstr(svg, "pid 1 (&lt;a&amp;b&gt;)"));
	ASSERT_TRUE(strstr(svg, "&quot;quoted&quot; &apos;too&apos;"));
	ASSERT_TRUE(strstr(svg, "/x/&lt;y&gt;.go:3"));
	ASSERT_TRUE(strstr(svg, "&lt;stranded&gt;, thread, site s&amp;1"));
	/* a name's newline must not split a tooltip's lines: the script reads them */
	d = drawn__parse(svg, &n);
	ASSERT_EQ(n, 7);
	if (n == 7)
		ASSERT_TRUE(strstr(d[5].title, "\n/x/<y>.go:5\n7 tasks"));
	free(d);
	free(svg);
}

static void test_empty_and_broken(void)
{
	struct profile empty = {0};
	const struct prof_frame *holes[3] = {NULL, NULL, NULL};
	struct prof_sample s[] = {
		{.frames = NULL, .depth = 5, .tasks = 2},  /* no frames: the root's own */
		{.frames = holes, .depth = 3, .tasks = 1}, /* NULL frames: unknown ones */
		{.frames = holes, .depth = 0, .tasks = 4}, /* zero depth */
		{.frames = holes, .depth = 2, .tasks = 0}, /* no tasks: nothing */
		{.frames = holes, .depth = 1, .tasks = 3, .class = 99}, /* a class unheard of */
	};
	struct profile broken = {.samples = s, .n = 5, .view = 7};
	struct profile none = {.samples = s + 3, .n = 1, .title = "idle"};
	const char *why;
	struct drawn *d;
	char *svg;
	int n;

	svg = render(&empty, NULL);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	ASSERT_TRUE(strstr(svg, "no tasks in this profile"));
	ASSERT_TRUE(!strstr(svg, "id=\"frames\""));
	ASSERT_TRUE(strstr(svg, ">strand</text>")); /* a title all the same */
	free(svg);

	svg = render(&none, NULL);
	ASSERT_TRUE(strstr(svg, "no tasks in this profile") && strstr(svg, ">idle</text>"));
	free(svg);

	svg = render(&broken, NULL);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	d = drawn__parse(svg, &n);
	ASSERT_EQ(n, 4); /* the root, 0x0 [?] and its two levels above */
	if (n == 4) {
		ASSERT_EQ(d[0].w, 10);
		ASSERT_STREQ(d[1].name, "0x0 [?]");
		ASSERT_EQ(d[1].w, 4);
		ASSERT_EQ(d[3].w, 1);
	}
	free(d);
	free(svg);
}

/* 100k samples, each its own leaf under 100 callers, and stacks 300 deep: the file stays a few
 * MB, narrow frames merge, deep ones are cut, and the widths still add up. */
static void test_bounds(void)
{
	enum { WIDE = 100000, DEEP = 300 };
	struct prof_frame *fr = calloc(WIDE + DEEP, sizeof(*fr));
	const struct prof_frame **st = calloc(WIDE * 2 + DEEP, sizeof(*st));
	struct prof_sample *s = calloc(WIDE + 1, sizeof(*s));
	struct profile p = {.samples = s, .n = WIDE + 1, .title = "big"};
	char(*names)[32] = calloc(WIDE + DEEP, sizeof(*names));
	struct prof_frame callers[100];
	uint64_t total = 100000;
	const char *why;
	struct drawn *d;
	size_t len;
	char *svg;
	int n;

	for (int i = 0; i < 100; i++)
		callers[i] = (struct prof_frame){.function = "caller", .line = i + 1};
	for (int i = 0; i < WIDE + DEEP; i++) {
		snprintf(names[i], sizeof(names[i]), "fn_%d", i);
		fr[i] = (struct prof_frame){.function = names[i], .file = "w.c", .line = i};
	}
	for (int i = 0; i < WIDE; i++) {
		st[2 * i] = &callers[i % 100];
		st[2 * i + 1] = &fr[i];
		s[i] = (struct prof_sample){.frames = &st[2 * i], .depth = 2, .tasks = 1 + i % 3};
		total += s[i].tasks;
	}
	for (int i = 0; i < DEEP; i++)
		st[2 * WIDE + i] = &fr[WIDE + i];
	s[WIDE] = (struct prof_sample){
		.frames = &st[2 * WIDE], .depth = DEEP, .tasks = 100000, .class = PROF_STRANDED};
	svg = render(&p, &len);
	UNIT_CHECK(len < 6 << 20, "%zu bytes", len);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	ASSERT_TRUE(count(svg, "<g class=\"f\"") <= 6000);
	ASSERT_TRUE(strstr(svg, "narrower frames"));
	ASSERT_TRUE(strstr(svg, "(deeper frames not shown)"));
	ASSERT_TRUE(strstr(svg, "stacks cut at 126 frames (100000 tasks)"));
	d = drawn__parse(svg, &n);
	/* the children of each frame fill at most its width */
	for (int i = 0; i < n; i++) {
		uint64_t sum = 0;

		for (int j = 0; j < n; j++)
			if (d[j].d == d[i].d + 1 && d[j].x >= d[i].x && d[j].x < d[i].x + d[i].w)
				sum += d[j].w;
		if (!UNIT_CHECK(sum <= d[i].w, "%s: children %llu > %llu", d[i].path,
				(unsigned long long)sum, (unsigned long long)d[i].w))
			break;
	}
	ASSERT_EQ(d[0].w, total);
	free(d);
	free(svg);

	/* 10000 paths of two frames, each wide enough to draw: more than the frame budget, so
	 * frames merge sooner than FG_MIN_PX */
	for (int i = 0; i < 10000; i++) {
		st[2 * i] = &fr[i];
		st[2 * i + 1] = &fr[WIDE + i % DEEP];
		s[i] = (struct prof_sample){.frames = &st[2 * i], .depth = 2, .tasks = 10};
	}
	p.n = 10000;
	svg = render(&p, &len);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	UNIT_CHECK(count(svg, "<g class=\"f\"") <= 6000, "%zu frames",
		   count(svg, "<g class=\"f\""));
	ASSERT_TRUE(strstr(svg, "(10000 narrower frames)"));
	free(svg);
	free(names);
	free(s);
	free(st);
	free(fr);
}

static void test_timeline(void)
{
	struct fixture fx;
	struct prof_series many[10] = {
		{.name = "s<1> & co", .seconds = 3, .v = tl_g9, .n = 13},
		{.name = NULL, .seconds = 0, .v = NULL, .n = 5}, /* no samples: no crash */
		{.name = "one", .seconds = 0, .v = tl_g6, .n = 1},
	};
	const char *why;
	char *svg;

	for (int i = 3; i < 10; i++)
		many[i] = (struct prof_series){.name = "more", .seconds = 5, .v = tl_s2, .n = 13};
	fixture__build(&fx, demo_groups, 2, PROF_VIEW_SPAWN);
	fx.p.series = many;
	fx.p.nseries = 10;
	svg = render(&fx.p, NULL);
	UNIT_CHECK(xml__well_formed(svg, &why), "%s", why);
	ASSERT_EQ(count(svg, "<polyline"), 8);
	ASSERT_TRUE(strstr(svg, "s&lt;1&gt; &amp; co"));
	ASSERT_TRUE(strstr(svg, "now 115, peak 115"));
	free(svg);

	fx.p.nseries = 0;
	svg = render(&fx.p, NULL);
	ASSERT_TRUE(!strstr(svg, "Live tasks of the top spawn sites over the trace"));
	free(svg);
}

static void test_format(void)
{
	struct prof_frame f = {.function = "fetch_reply",
			       .file = "/src/svc/leaky_service.c",
			       .line = 47,
			       .module = "/usr/bin/svc"};
	char buf[128];

	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "fetch_reply (leaky_service.c:47)");
	f.inlined = true;
	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "fetch_reply (leaky_service.c:47) [inlined]");
	f = (struct prof_frame){.function = "clone3", .module = "/usr/lib/libc.so.6"};
	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "clone3 [libc.so.6]");
	f = (struct prof_frame){.function = "f", .file = "a/b.go"};
	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "f (b.go)");
	f = (struct prof_frame){.address = 0x7f0012, .module = "/opt/libx.so"};
	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "0x7f0012 [libx.so]");
	f = (struct prof_frame){.function = NULL};
	prof_frame__format(&f, buf, sizeof(buf));
	ASSERT_STREQ(buf, "0x0 [?]");
	prof_frame__format(&f, buf, 0); /* nothing written, no crash */
	ASSERT_STREQ(prof_class__name(PROF_STRANDED), "stranded");
	ASSERT_STREQ(prof_class__name(PROF_BLOCKED), "blocked");
	ASSERT_STREQ(prof_class__name(PROF_CLASSES), "?");
}

/* The fixtures as files, for a browser to look at. */
static int write_all(const char *dir)
{
	static const char *const names[] = {"spawn", "wait", "combined"};
	struct fixture fx;
	char path[4096];
	FILE *f;

	for (int v = 0; v < 3; v++) {
		fixture__build(&fx, demo_groups, sizeof(demo_groups) / sizeof(demo_groups[0]),
			       (enum prof_view)v);
		snprintf(path, sizeof(path), "%s/%s.svg", dir, names[v]);
		if (!(f = fopen(path, "w")) || profile__svg(&fx.p, f) || fclose(f))
			return perror(path), 1;
	}
	fx.p.n = 0;
	fx.p.nseries = 0;
	memset(fx.p.totals, 0, sizeof(fx.p.totals));
	snprintf(path, sizeof(path), "%s/empty.svg", dir);
	if (!(f = fopen(path, "w")) || profile__svg(&fx.p, f) || fclose(f))
		return perror(path), 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_all(argv[1]);
	test_format();
	test_views();
	test_tooltips();
	test_colours();
	test_escaping();
	test_empty_and_broken();
	test_timeline();
	test_bounds();
	return unit_summary();
}
