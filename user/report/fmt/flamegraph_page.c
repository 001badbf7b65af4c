// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The flame graph's page around its frames: the document's head, title and legend, the
 * timeline of the top sites, and the text and colours the frames use too. */
#include "report/fmt/flamegraph.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define FG_LEGEND_Y	 66 /* the swatches' baseline */
#define FG_LINE		 16
#define FG_TITLE_MAX	 96 /* code points: longer titles would run into the buttons */
#define FG_MAX_SERIES	 8
#define FG_SERIES_POINTS 300
#define FG_TL_H		 110 /* the timeline's plot */
#define FG_TL_W		 640
#define FG_TL_LEFT	 46

/* --- text: UTF-8 checked, XML escaped -------------------------------------------------- */

/* One code point of s; invalid UTF-8, and what XML 1.0 forbids (controls, U+FFFE), read as
 * U+FFFD: symbol names are bytes from untrusted binaries, one bad byte must not make the
 * whole file unreadable. Returns the bytes consumed (>= 1). */
static int utf8__next(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	int len = s[0] < 0x80	      ? 1
		  : (s[0] >> 5) == 6  ? 2
		  : (s[0] >> 4) == 14 ? 3
		  : (s[0] >> 3) == 30 ? 4
				      : 0;
	uint32_t c;

	if (!len) {
		*cp = 0xfffd;
		return 1;
	}
	c = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return i;
		}
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000) || c == 0xfffe ||
	    c == 0xffff || (c < 0x20 && c != '\t'))
		c = 0xfffd;
	*cp = c;
	return len;
}

size_t fg_utf8__count(const char *s)
{
	size_t n = 0;
	uint32_t cp;

	while (s && *s) {
		s += utf8__next((const unsigned char *)s, &cp);
		n++;
	}
	return n;
}

void fg_xml__text_max(FILE *f, const char *s, size_t max)
{
	size_t keep = SIZE_MAX;
	uint32_t cp;

	if (!s)
		return;
	if (max != SIZE_MAX && fg_utf8__count(s) > max)
		keep = max > 2 ? max - 2 : 0;
	for (size_t n = 0; *s && n < keep; n++) {
		int len = utf8__next((const unsigned char *)s, &cp);

		switch (cp) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		case 0xfffd:
			fputs("\xef\xbf\xbd", f);
			break;
		default:
			fwrite(s, 1, len, f);
		}
		s += len;
	}
	if (*s && keep)
		fputs("..", f);
}

void fg_xml__text(FILE *f, const char *s)
{
	fg_xml__text_max(f, s, SIZE_MAX);
}

void fg_duration__format(uint64_t ns, char *buf, size_t size)
{
	double s = (double)ns / 1e9;

	if (s < 1)
		snprintf(buf, size, "%.0f ms", s * 1e3);
	else if (s < 120)
		snprintf(buf, size, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, size, "%.1f min", s / 60);
	else
		snprintf(buf, size, "%.1f h", s / 3600);
}

/* --- colours ------------------------------------------------------------------------- */

/* Per class a range of hue, saturation and lightness; a frame's place in it comes from a hash
 * of its name, so a function has one shade everywhere and renders are byte-identical. */
static const struct fg_palette {
	double h0, h1, s, l0, l1;
	const char *legend; /* what the class means, under its swatch */
} fg_palette[PROF_CLASSES] = {
	[PROF_RUNNING] = {78, 128, 0.50, 0.55, 0.66, "running, or blocked for less than that"},
	[PROF_BLOCKED] = {44, 52, 0.92, 0.56, 0.64, "blocked longer, no verdict (yet)"},
	[PROF_IDLE] = {200, 222, 0.28, 0.62, 0.72, "blocked long, healthy by the evidence"},
	[PROF_STRANDED] = {354, 366, 0.80, 0.52, 0.60, "stranded or deadlocked"},
	[PROF_RUNAWAY] = {22, 30, 0.95, 0.55, 0.61, "from a site spawning without bound"},
};

const enum prof_class fg_gravity[PROF_CLASSES] = {
	PROF_STRANDED, PROF_RUNAWAY, PROF_BLOCKED, PROF_IDLE, PROF_RUNNING,
};

static double abs__d(double v)
{
	return v < 0 ? -v : v;
}

static void hsl__rgb(double h, double s, double l, char *buf, size_t size)
{
	double hp = (h >= 360 ? h - 360 : h) / 60, c = (1 - abs__d(2 * l - 1)) * s;
	double x = c * (1 - abs__d(hp - 2 * (int)(hp / 2) - 1)), m = l - c / 2;
	double rgb[6][3] = {{c, x, 0}, {x, c, 0}, {0, c, x}, {0, x, c}, {x, 0, c}, {c, 0, x}};
	const double *v = rgb[(int)hp % 6];

	snprintf(buf, size, "rgb(%d,%d,%d)", (int)((v[0] + m) * 255 + 0.5),
		 (int)((v[1] + m) * 255 + 0.5), (int)((v[2] + m) * 255 + 0.5));
}

void fg_class__colour(enum prof_class c, const char *name, char *buf, size_t size)
{
	const struct fg_palette *p = &fg_palette[c];
	uint32_t h = 2166136261u;

	for (const char *s = name; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	if (!name) {
		hsl__rgb((p->h0 + p->h1) / 2, p->s, (p->l0 + p->l1) / 2, buf, size);
		return;
	}
	hsl__rgb(p->h0 + (p->h1 - p->h0) * (h & 0xffff) / 65535.0, p->s,
		 p->l0 + (p->l1 - p->l0) * (h >> 16) / 65535.0, buf, size);
}

void fg_class__line_colour(enum prof_class c, char *buf, size_t size)
{
	const struct fg_palette *p = &fg_palette[c];

	hsl__rgb((p->h0 + p->h1) / 2, p->s, p->l0 - 0.14, buf, size);
}

/* --- the head: title, buttons, legend ---------------------------------------------------- */

static const char *view__name(enum prof_view v)
{
	switch (v) {
	case PROF_VIEW_SPAWN:
		return "by spawn stack: where the tasks came from";
	case PROF_VIEW_WAIT:
		return "by wait stack: where the tasks wait or run now";
	case PROF_VIEW_COMBINED:
		return "spawn stack below, the task's start, its wait stack on top (Go's \"created "
		       "by\")";
	}
	return "?";
}

static bool page__left_out(const struct fg_page *pg)
{
	return pg->narrow_tasks || pg->cut_tasks;
}

int fg_page__top(const struct fg_page *pg)
{
	return FG_LEGEND_Y + 14 + FG_LINE * (2 + page__left_out(pg)) + 12;
}

/* Each class: its colour, tasks (profile.totals) and meaning; then what the graph is (view,
 * threshold, duration), how to read it, and what the bounds left out. */
static void legend__svg(FILE *f, const struct fg_page *pg)
{
	const struct profile *p = pg->p;
	int x = FG_PAD, y = FG_LEGEND_Y;
	char fill[32], buf[64];

	for (int i = 0; i < PROF_CLASSES; i++) {
		enum prof_class c = fg_gravity[i];

		fg_class__colour(c, NULL, fill, sizeof(fill));
		fprintf(f,
			"<g class=\"legend\"><rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" "
			"fill=\"%s\"/>",
			x, y - 11, fill);
		fprintf(f,
			"<text x=\"%d\" y=\"%d\"><tspan class=\"b\">%s</tspan> %" PRIu64
			" task%s</text>",
			x + 19, y, prof_class__name(c), p->totals[c], p->totals[c] == 1 ? "" : "s");
		fprintf(f, "<text class=\"what\" x=\"%d\" y=\"%d\">%s</text></g>\n", x + 19, y + 14,
			fg_palette[c].legend);
		x += 236;
	}
	y += 14 + FG_LINE;
	fprintf(f, "<text class=\"info\" x=\"%d\" y=\"%d\"><tspan class=\"b\">View:</tspan> %s",
		FG_PAD, y, view__name(p->view));
	fg_duration__format(p->threshold_ns, buf, sizeof(buf));
	fprintf(f, ".  Blocked long: past %s.", buf);
	fg_duration__format((uint64_t)(p->duration_s > 0 ? p->duration_s * 1e9 : 0), buf,
			    sizeof(buf));
	fprintf(f, "  Traced %s.  In the graph: %" PRIu64 " task%s.</text>\n", buf, pg->total,
		pg->total == 1 ? "" : "s");
	y += FG_LINE;
	fprintf(f,
		"<text class=\"info\" x=\"%d\" y=\"%d\"><tspan class=\"b\">Reading it:</tspan> "
		"width is tasks; a frame's colour is the class of most of its tasks (an even "
		"split: the graver), shaded by its name; a stripe along its bottom shows its "
		"classes' shares when they are mixed.</text>\n",
		FG_PAD, y);
	if (!page__left_out(pg))
		return;
	y += FG_LINE;
	fprintf(f,
		"<text class=\"info\" x=\"%d\" y=\"%d\"><tspan class=\"b\">Left out, to "
		"bound the file:</tspan> ",
		FG_PAD, y);
	if (pg->narrow_tasks)
		fprintf(f,
			"frames of under %" PRIu64
			" task%s merged into \"narrower frames\" (%" PRIu64 " tasks)%s",
			pg->min_tasks, pg->min_tasks == 1 ? "" : "s", pg->narrow_tasks,
			pg->cut_tasks ? "; " : "");
	if (pg->cut_tasks)
		fprintf(f, "stacks cut at %d frames (%" PRIu64 " tasks)", pg->cut_depth,
			pg->cut_tasks);
	fputs(".</text>\n", f);
}

void fg_page__head(FILE *f, const struct fg_page *pg)
{
	const struct profile *p = pg->p;
	char buf[64];

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		FG_WIDTH, pg->height, FG_WIDTH, pg->height);
	fprintf(f, "<style type=\"text/css\"><![CDATA[\n%s", flamegraph__css);
	/* the classes' colours, for the stops of mixed frames' stripes */
	for (int c = 0; c < PROF_CLASSES; c++) {
		fg_class__colour(c, NULL, buf, sizeof(buf));
		fprintf(f, ".k%d { stop-color: %s; }\n", c, buf);
	}
	fputs("]]></style>\n", f);
	fprintf(f, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", flamegraph__js);
	fprintf(f, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>\n", FG_WIDTH,
		pg->height);
	fprintf(f, "<text class=\"title\" x=\"%d\" y=\"24\">", FG_WIDTH / 2);
	fg_xml__text_max(f, p->title ? p->title : "strand", FG_TITLE_MAX);
	fprintf(f, "</text>\n<text class=\"subtitle\" x=\"%d\" y=\"42\">", FG_WIDTH / 2);
	fg_xml__text_max(f, p->subtitle, FG_TITLE_MAX * 3 / 2);
	if (p->start_unix_ns) {
		time_t t = (time_t)(p->start_unix_ns / 1000000000);
		struct tm tm;

		if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
			fprintf(f, "%s%s", p->subtitle ? ", from " : "from ", buf);
	}
	fputs("</text>\n", f);
	if (pg->total) {
		fprintf(f,
			"<text id=\"unzoom\" class=\"btn hide\" x=\"%d\" y=\"24\">Reset "
			"zoom</text>\n",
			FG_PAD);
		fprintf(f, "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"24\">Search</text>\n",
			FG_WIDTH - FG_PAD);
	}
	legend__svg(f, pg);
}

/* --- the timeline ------------------------------------------------------------------------ */

int fg_timeline__height(const struct profile *p)
{
	size_t n = p->nseries < FG_MAX_SERIES ? p->nseries : FG_MAX_SERIES;
	int labels = (int)n * 15;

	if (!p->series || !n)
		return 0;
	return 22 + (labels > FG_TL_H ? labels : FG_TL_H) + 30;
}

/* The class of most tasks of the series' site (its name's first word, "g9"), so a line has
 * the hue of its frames; -1 when no sample is of that site. */
static int series__class(const struct profile *p, const char *name)
{
	size_t len = name ? strcspn(name, " ") : 0;
	uint64_t by[PROF_CLASSES] = {0}, any = 0;
	int best = fg_gravity[0];

	for (size_t i = 0; len && p->samples && i < p->n; i++) {
		const struct prof_sample *s = &p->samples[i];

		if (s->site && (unsigned)s->class < PROF_CLASSES && !strncmp(s->site, name, len) &&
		    !s->site[len]) {
			by[s->class] += s->tasks;
			any += s->tasks;
		}
	}
	for (int i = 1; i < PROF_CLASSES; i++)
		if (by[fg_gravity[i]] > by[best])
			best = fg_gravity[i];
	return any ? best : -1;
}

/* Live tasks of the top sites over the trace, each series ending at the trace's end (a
 * site's samples begin at its first spawn). A bucket of samples shows its largest, so a
 * peak is never averaged away. Lines take their site's class hue; sites of one class differ
 * by dashes. */
void fg_timeline__svg(FILE *f, const struct profile *p, int top)
{
	static const char *const dashes[] = {"", "7 3", "2 2", "9 3 2 3"};
	static const char *const others[] = {"#37474f", "#6a1b9a", "#00695c", "#4e342e"};
	size_t n = p->nseries < FG_MAX_SERIES ? p->nseries : FG_MAX_SERIES;
	double span = p->duration_s > 0 ? p->duration_s : 0;
	int y0 = top + 22, x0 = FG_PAD + FG_TL_LEFT, used[PROF_CLASSES + 1] = {0};
	uint32_t max = 1;

	for (size_t i = 0; i < n; i++) {
		const struct prof_series *s = &p->series[i];

		if (s->seconds > span)
			span = s->seconds;
		for (uint32_t k = 0; s->v && k < s->n; k++)
			max = s->v[k] > max ? s->v[k] : max;
	}
	fprintf(f,
		"<g class=\"timeline\">\n<text class=\"b\" x=\"%d\" y=\"%d\">Live tasks of the "
		"top spawn sites over the trace</text>\n",
		FG_PAD, top + 12);
	fprintf(f, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n", x0, y0,
		FG_TL_W, FG_TL_H);
	fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">%" PRIu32 "</text>\n", x0 - 4, y0 + 9,
		max);
	fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">0</text>\n", x0 - 4, y0 + FG_TL_H);
	fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">0 s</text>\n", x0 + 12,
		y0 + FG_TL_H + 13);
	fprintf(f, "<text class=\"axis\" x=\"%d\" y=\"%d\">%.1f s</text>\n", x0 + FG_TL_W,
		y0 + FG_TL_H + 13, span);
	for (size_t i = 0; i < n; i++) {
		const struct prof_series *s = &p->series[i];
		uint32_t pts = s->v ? s->n : 0,
			 buckets = pts < FG_SERIES_POINTS ? pts : FG_SERIES_POINTS;
		double start = span - (s->seconds > 0 ? s->seconds : 0), peak = 0;
		int ly = y0 + 10 + (int)i * 15, lx = x0 + FG_TL_W + 14,
		    c = series__class(p, s->name);
		int k = used[c + 1]++;
		const char *dash = dashes[k % 4];
		char colour[32];

		if (c < 0)
			snprintf(colour, sizeof(colour), "%s", others[k % 4]);
		else
			fg_class__line_colour(c, colour, sizeof(colour));
		fputs("<g class=\"series\"><title>", f);
		fg_xml__text(f, s->name);
		if (c >= 0)
			fprintf(f, " (mostly %s)", prof_class__name(c));
		fprintf(f,
			"</title><polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" "
			"stroke-dasharray=\"%s\" points=\"",
			colour, dash);
		for (uint32_t b = 0; b < buckets; b++) {
			uint32_t lo = (uint32_t)((uint64_t)b * pts / buckets);
			uint32_t hi = (uint32_t)((uint64_t)(b + 1) * pts / buckets), v = 0;
			double t =
				start + (buckets > 1 ? s->seconds * b / (buckets - 1) : s->seconds);
			double px = x0 + (span > 0 ? t / span : 1) * FG_TL_W, py;

			for (uint32_t j = lo; j < hi; j++)
				v = s->v[j] > v ? s->v[j] : v;
			peak = v > peak ? v : peak;
			py = y0 + FG_TL_H - (double)v * FG_TL_H / max;
			/* one sample: a short flat line at its time, so it shows */
			if (buckets == 1)
				fprintf(f, "%.1f,%.1f ", px - 5, py);
			fprintf(f, "%.1f,%.1f ", px, py);
		}
		fprintf(f,
			"\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			"stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>",
			lx, ly - 4, lx + 16, ly - 4, colour, dash);
		fprintf(f, "<text class=\"sname\" x=\"%d\" y=\"%d\">", lx + 21, ly);
		fg_xml__text_max(f, s->name ? s->name : "?", 50);
		fprintf(f, "  <tspan class=\"b\">now %" PRIu32 ", peak %.0f</tspan></text></g>\n",
			pts ? s->v[pts - 1] : 0, peak);
	}
	fputs("</g>\n", f);
}
