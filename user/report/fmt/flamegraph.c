// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The SVG flame graph of a profile: samples merged into frames, root at the bottom, each
 * frame as wide as its tasks, coloured by the class of most of its tasks. Everything is in
 * the one file (the style and script of flamegraph_js.c inline), so it opens from a disk or
 * an attachment with nothing else. The script only moves what is drawn here: without it
 * (an <img>) the picture is still whole.
 *
 * The samples are sorted by stack, as flamegraph.pl's folded input is: then every frame is a
 * run of consecutive samples, its children runs inside it, and the graph is drawn by walking
 * the runs, with no tree built. Memory is two words per sample whatever the stacks' depth.
 */
#include "report/fmt/flamegraph.h"
#include "lib/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define FG_ROW	      16   /* a frame's row; the rect is one less, the gap shows the levels */
#define FG_CHAR_W     6.62 /* 11 px DejaVu Sans Mono, the frames' font: 0.602 em */
#define FG_MIN_PX     0.1  /* narrower frames are merged into "(N narrower frames)" */
#define FG_MAX_FRAMES 6000 /* the width under which frames merge grows until this many fit */
#define FG_MAX_DEPTH  128  /* levels, the root's included; deeper frames are cut */

enum fg_label { FG_VERDICT, FG_WAIT, FG_KIND, FG_SITE, FG_PID, FG_LABELS };

/* Tasks and labels of some samples: of a frame, or of the narrow frames merged together. */
struct fg_agg {
	uint64_t tasks, blocked_ns;
	uint64_t by_class[PROF_CLASSES];
	const char *label[FG_PID];
	int pid;
	uint8_t set, mixed; /* per label: seen, and not the same in every sample */
};

struct fg_tree {
	const struct prof_sample *samples;
	uint32_t *order;    /* the samples with tasks, by stack */
	uint64_t *sum;	    /* sum[i]: the tasks of order[0..i) */
	size_t n;	    /* in order */
	uint64_t min_tasks; /* narrower frames are merged into their parent's rest */
	/* from the last walk */
	uint32_t frames, rows;
	uint64_t narrow_tasks;
};

/* A frame: its samples (order[lo..hi)), level (the root's 0), left edge in tasks. */
struct fg_frame {
	size_t lo, hi;
	int level;
	uint64_t x, tasks;
	const struct prof_frame *fr; /* NULL: the root */
};

struct fg_out {
	FILE *f;
	struct fg_tree *t;
	uint64_t total;
	double scale;	  /* px per task */
	int flame_bottom; /* the root row's bottom */
	int stripes;	  /* gradients made so far: their ids */
};

static const struct prof_frame fg_unknown = {0};
/* Stands for the frames of a stack deeper than the graph: sorts after every real frame. */
static const struct prof_frame fg_deeper = {.function = "(deeper frames not shown)"};
static const char FG_ROOT[] = "all tasks";

/* --- the samples by stack ---------------------------------------------------------------- */

/* Frame k of a sample (k = 0: its root), NULL past its end. */
static const struct prof_frame *sample__frame(const struct prof_sample *s, int k)
{
	int depth = s->frames ? s->depth : 0;

	if (k >= depth || k > FG_MAX_DEPTH - 2)
		return NULL;
	if (k == FG_MAX_DEPTH - 2 && depth > FG_MAX_DEPTH - 1)
		return &fg_deeper;
	return s->frames[k] ? s->frames[k] : &fg_unknown;
}

static int str__cmp(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) : (a != NULL) - (b != NULL);
}

/* Frames are one when function, file, line and module are; unnamed ones also need the same
 * address, or every unknown frame of a module would be one. Ordered by name, as
 * flamegraph.pl orders them, so two graphs of one program line up; the unnamed after. */
static int frame__cmp(const struct prof_frame *a, const struct prof_frame *b)
{
	int r;

	if (a == b)
		return 0;
	if (a == &fg_deeper || b == &fg_deeper)
		return a == &fg_deeper ? 1 : -1;
	if (!a->function != !b->function)
		return a->function ? -1 : 1;
	if ((r = str__cmp(a->function, b->function)) || (r = str__cmp(a->file, b->file)))
		return r;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if ((r = str__cmp(a->module, b->module)) || a->function)
		return r;
	return a->address < b->address ? -1 : a->address > b->address;
}

/* Stacks compared frame by frame from the root; a stack that ends first is first. */
static int sample__cmp(const void *pa, const void *pb, void *arg)
{
	const struct prof_sample *samples = arg;
	uint32_t ia = *(const uint32_t *)pa, ib = *(const uint32_t *)pb;

	for (int k = 0;; k++) {
		const struct prof_frame *a = sample__frame(&samples[ia], k);
		const struct prof_frame *b = sample__frame(&samples[ib], k);
		int r;

		if (!a || !b) {
			if (a != b)
				return a ? 1 : -1;
			break;
		}
		if ((r = frame__cmp(a, b)))
			return r;
	}
	return ia < ib ? -1 : ia > ib;
}

static void tree__init(struct fg_tree *t, const struct profile *p)
{
	t->samples = p->samples;
	t->order = xcalloc(p->n + 1, sizeof(*t->order));
	t->sum = xcalloc(p->n + 1, sizeof(*t->sum));
	for (size_t i = 0; p->samples && i < p->n; i++)
		if (p->samples[i].tasks)
			t->order[t->n++] = (uint32_t)i;
	qsort_r(t->order, t->n, sizeof(*t->order), sample__cmp, (void *)p->samples);
	for (size_t i = 0; i < t->n; i++)
		t->sum[i + 1] = t->sum[i] + p->samples[t->order[i]].tasks;
}

static bool str__same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void agg__add(struct fg_agg *a, const struct prof_sample *s)
{
	const char *labels[FG_PID] = {s->verdict, s->wait_reason, s->kind, s->site};
	enum prof_class c = (unsigned)s->class < PROF_CLASSES ? s->class : PROF_RUNNING;

	a->tasks += s->tasks;
	a->blocked_ns += s->blocked_ns;
	a->by_class[c] += s->tasks;
	for (int i = 0; i < FG_PID; i++) {
		if (!(a->set & 1u << i))
			a->label[i] = labels[i];
		else if (!str__same(a->label[i], labels[i]))
			a->mixed |= 1u << i;
	}
	if (!(a->set & 1u << FG_PID))
		a->pid = s->pid;
	else if (a->pid != s->pid)
		a->mixed |= 1u << FG_PID;
	a->set = (1u << FG_LABELS) - 1;
}

static void agg__add_range(struct fg_agg *a, const struct fg_tree *t, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		agg__add(a, &t->samples[t->order[i]]);
}

/* The class of most of the tasks; an even split goes to the graver. */
static enum prof_class agg__class(const struct fg_agg *a)
{
	enum prof_class best = fg_gravity[0];

	for (int i = 1; i < PROF_CLASSES; i++)
		if (a->by_class[fg_gravity[i]] > a->by_class[best])
			best = fg_gravity[i];
	return best;
}

/* --- the frames ---------------------------------------------------------------------------- */

/* The tooltip: name; where; tasks and share; classes when mixed; blocked time; the labels
 * every task under the frame shares. The script shows the same lines in the details bar and
 * searches the first two. */
static void frame__title(struct fg_out *o, const struct prof_frame *fr, const char *name,
			 const struct fg_agg *a, bool root)
{
	static const char *const label_names[FG_PID] = {"", "", "", "site "};
	FILE *f = o->f;
	char buf[64];
	int classes = 0;

	fputs("<title>", f);
	fg_xml__text(f, name);
	fputc('\n', f);
	if (!fr || fr == &fg_deeper) {
		fputs(root ? "every task of the profile" : "frames the graph leaves out", f);
	} else if (fr->file) {
		fg_xml__text(f, fr->file);
		if (fr->line > 0)
			fprintf(f, ":%d", fr->line);
	} else {
		fputs("in ", f);
		fg_xml__text(f, fr->module ? fr->module : "an unknown module");
	}
	if (fr && fr->inlined)
		fputs(" (inlined)", f);
	fprintf(f, "\n%" PRIu64 " task%s, %.1f%% of %" PRIu64, a->tasks, a->tasks == 1 ? "" : "s",
		100.0 * (double)a->tasks / (double)o->total, o->total);
	for (int i = 0; i < PROF_CLASSES; i++)
		classes += a->by_class[i] != 0;
	for (int i = 0, k = 0; classes > 1 && i < PROF_CLASSES; i++) {
		enum prof_class c = fg_gravity[i];

		if (a->by_class[c])
			fprintf(f, "%s%s %" PRIu64, k++ ? ", " : "\n", prof_class__name(c),
				a->by_class[c]);
	}
	if (a->blocked_ns) {
		fg_duration__format(a->blocked_ns, buf, sizeof(buf));
		fprintf(f, "\nblocked %s in all", buf);
		fg_duration__format(a->blocked_ns / a->tasks, buf, sizeof(buf));
		fprintf(f, ", %s on average", buf);
	}
	for (int i = 0, k = 0; i < FG_LABELS; i++) {
		if (a->mixed & 1u << i || (i < FG_PID ? !a->label[i] : a->pid <= 0))
			continue;
		fputs(k++ ? ", " : "\n", f);
		if (i == FG_PID) {
			fprintf(f, "pid %d", a->pid);
		} else {
			fputs(label_names[i], f);
			fg_xml__text(f, a->label[i]);
		}
	}
	fputs("</title>", f);
}

/* The shares of a mixed frame's classes, gravest first, as a stripe along its bottom: a
 * frame is filled with the class of most of its tasks, and 39 stranded threads under one with
 * 41 running ones must not vanish in its green. A gradient with hard stops, in the box of the
 * stripe, so a zoom that widens the rect widens the shares with it. */
static void frame__stripe(struct fg_out *o, const struct fg_agg *a, double px, double w, int y)
{
	double at = 0;

	fprintf(o->f, "<linearGradient id=\"m%d\">", o->stripes);
	for (int i = 0; i < PROF_CLASSES; i++) {
		enum prof_class c = fg_gravity[i];

		if (!a->by_class[c])
			continue;
		fprintf(o->f, "<stop offset=\"%.4f\" class=\"k%d\"/>", at, c);
		at += (double)a->by_class[c] / (double)a->tasks;
		fprintf(o->f, "<stop offset=\"%.4f\" class=\"k%d\"/>", at, c);
	}
	fprintf(o->f,
		"</linearGradient><rect class=\"mix\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		"height=\"3\" fill=\"url(#m%d)\"/>",
		px, y + FG_ROW - 4, w, o->stripes);
	o->stripes++;
}

/* One frame: a group the script finds by its class, with the frame's place in tasks (x, w)
 * and level (d) so zooming is exact integer arithmetic, not float fudging. The renderer's
 * own frames (merged, cut) are grey: they are no function. */
static void frame__svg(struct fg_out *o, const struct prof_frame *fr, const char *name,
		       const struct fg_agg *a, uint64_t x, int level, bool own)
{
	double px = FG_PAD + (double)x * o->scale, w = (double)a->tasks * o->scale;
	int y = o->flame_bottom - (level + 1) * FG_ROW, classes = 0;
	double room = (w - 6) / FG_CHAR_W;
	char fill[32];

	if (own && level)
		snprintf(fill, sizeof(fill), "rgb(200,200,200)");
	else
		fg_class__colour(agg__class(a), name, fill, sizeof(fill));
	fprintf(o->f, "<g class=\"f\" data-x=\"%" PRIu64 "\" data-w=\"%" PRIu64 "\" data-d=\"%d\">",
		x, a->tasks, level);
	frame__title(o, fr, name, a, !level);
	fprintf(o->f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", px, y,
		w, FG_ROW - 1, fill);
	for (int i = 0; i < PROF_CLASSES; i++)
		classes += a->by_class[i] != 0;
	if (classes > 1)
		frame__stripe(o, a, px, w, y);
	fprintf(o->f, "<text x=\"%.1f\" y=\"%d\">", px + 3, y + FG_ROW - 5);
	/* a label is its name, or a cut of it with 3 characters at least: "p.." says nothing */
	if (room >= 5 || (room >= 1 && fg_utf8__count(name) <= (size_t)room))
		fg_xml__text_max(o->f, name, (size_t)room);
	fputs("</text></g>\n", o->f);
}

/* A frame, then its children: the runs of its samples with one frame at the next level,
 * each after the one before it, and the runs too narrow to draw merged after them. Without
 * o it only counts what it would draw, and stops once that is more than FG_MAX_FRAMES. */
static void tree__walk(struct fg_tree *t, const struct fg_frame *n, struct fg_out *o)
{
	struct fg_agg rest = {0};
	uint64_t x = n->x;
	uint32_t nrest = 0;
	size_t i = n->lo;
	char buf[160];

	t->frames++;
	if ((uint32_t)n->level + 1 > t->rows)
		t->rows = n->level + 1;
	if (o) {
		struct fg_agg a = {0};
		const char *name = FG_ROOT;

		if (n->fr) {
			prof_frame__format(n->fr, buf, sizeof(buf));
			name = n->fr->function ? n->fr->function : buf;
		}
		agg__add_range(&a, t, n->lo, n->hi);
		frame__svg(o, n->fr, name, &a, n->x, n->level, !n->fr || n->fr == &fg_deeper);
	} else if (t->frames > FG_MAX_FRAMES) {
		return;
	}
	while (i < n->hi && !sample__frame(&t->samples[t->order[i]], n->level))
		i++; /* the stacks that end here */
	while (i < n->hi) {
		const struct prof_frame *fr = sample__frame(&t->samples[t->order[i]], n->level);
		struct fg_frame c = {.lo = i, .level = n->level + 1, .x = x, .fr = fr};

		for (c.hi = i + 1; c.hi < n->hi; c.hi++)
			if (frame__cmp(sample__frame(&t->samples[t->order[c.hi]], n->level), fr))
				break;
		c.tasks = t->sum[c.hi] - t->sum[c.lo];
		if (c.tasks >= t->min_tasks) {
			tree__walk(t, &c, o);
			x += c.tasks;
		} else if (o) {
			agg__add_range(&rest, t, c.lo, c.hi);
			nrest++;
		} else {
			rest.tasks += c.tasks; /* counting needs no more */
		}
		i = c.hi;
	}
	if (!rest.tasks)
		return;
	t->narrow_tasks += rest.tasks;
	if (rest.tasks < t->min_tasks)
		return;
	t->frames++;
	if ((uint32_t)n->level + 2 > t->rows)
		t->rows = n->level + 2;
	if (o) {
		snprintf(buf, sizeof(buf), "(%" PRIu32 " narrower frames)", nrest);
		frame__svg(o, NULL, buf, &rest, x, n->level + 1, true);
	}
}

/* The whole graph, drawn to o or (NULL) counted. */
static void tree__draw(struct fg_tree *t, const struct fg_frame *root, struct fg_out *o)
{
	t->frames = t->rows = 0;
	t->narrow_tasks = 0;
	tree__walk(t, root, o);
}

/* The fewest tasks a frame needs to be drawn: FG_MIN_PX wide, and no more frames than
 * FG_MAX_FRAMES (a wide profile's frames merge sooner), so any profile gives a file of a few
 * MB. A child never has more tasks than its parent, so "drawn" is closed under ancestors. */
static void tree__bound(struct fg_tree *t, const struct fg_frame *root)
{
	t->min_tasks = (uint64_t)(FG_MIN_PX * (double)root->tasks / (FG_WIDTH - 2 * FG_PAD)) + 1;
	for (tree__draw(t, root, NULL); t->frames > FG_MAX_FRAMES; tree__draw(t, root, NULL))
		t->min_tasks *= 2;
}

int profile__svg(const struct profile *p, FILE *f)
{
	struct fg_tree t = {0};
	struct fg_out o = {.f = f, .t = &t};
	struct fg_page pg = {.p = p, .cut_depth = FG_MAX_DEPTH - 2};
	struct fg_frame root = {0};
	int top, tl = fg_timeline__height(p);

	tree__init(&t, p);
	root.hi = t.n;
	o.total = pg.total = root.tasks = t.sum[t.n];
	for (size_t i = 0; i < t.n; i++) {
		const struct prof_sample *s = &p->samples[t.order[i]];

		if (sample__frame(s, FG_MAX_DEPTH - 2) == &fg_deeper)
			pg.cut_tasks += s->tasks;
	}
	if (o.total)
		tree__bound(&t, &root);
	pg.min_tasks = t.min_tasks;
	pg.narrow_tasks = t.narrow_tasks;
	top = fg_page__top(&pg);
	/* the flame's root row at the bottom, then a row for the details, one for matches */
	o.flame_bottom = top + tl + (o.total ? (int)t.rows * FG_ROW : 120);
	pg.height = o.flame_bottom + (o.total ? 44 : 20);
	o.scale = o.total ? (double)(FG_WIDTH - 2 * FG_PAD) / (double)o.total : 0;

	fg_page__head(f, &pg);
	if (tl)
		fg_timeline__svg(f, p, top);
	if (o.total) {
		fprintf(f,
			"<g id=\"frames\" data-total=\"%" PRIu64 "\" data-pad=\"%d\" "
			"data-width=\"%d\" data-charw=\"%.2f\">\n",
			o.total, FG_PAD, FG_WIDTH - 2 * FG_PAD, FG_CHAR_W);
		tree__draw(&t, &root, &o);
		fputs("</g>\n", f);
		fprintf(f, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", FG_PAD,
			o.flame_bottom + 18);
		fprintf(f, "<text id=\"matched\" class=\"hide\" x=\"%d\" y=\"%d\"> </text>\n",
			FG_WIDTH - FG_PAD, o.flame_bottom + 34);
	} else {
		fprintf(f, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"100\"/>\n",
			FG_PAD, top + tl, FG_WIDTH - 2 * FG_PAD);
		fprintf(f,
			"<text class=\"empty\" x=\"%d\" y=\"%d\">no tasks in this profile</text>\n",
			FG_WIDTH / 2, top + tl + 56);
	}
	fputs("</svg>\n", f);
	free(t.order);
	free(t.sum);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}
