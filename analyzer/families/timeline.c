/* SPDX-License-Identifier: MIT */
/* Figures over time from SNAPSHOT records, and what production mode recorded: pauses, the size cap, alerts, settings. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "timeline.h"
#include "units.h"
#include "sort.h"

struct pause_mark {
	uint64_t ts;
	bool paused;
};

struct reading {
	struct pst_timeline *tl;
	struct pause_mark *marks;
	size_t nmarks;
};

static int grow(void **v, size_t n, size_t size)
{
	void *nv;

	if (n & (n - 1) && n) /* room doubles at powers of two */
		return 0;
	nv = realloc(*v, (n ? 2 * n : 8) * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

static int on_snapshot(struct pst_timeline *tl, const uint8_t *p, const uint8_t *e)
{
	struct pst_rec_snapshot r;
	struct pst_snapshot *s;

	if (pst_dec_snapshot(p, e, &r))
		return 0; /* a damaged record is left out */
	if (grow((void **)&tl->snaps, tl->nsnaps, sizeof(*tl->snaps)))
		return -ENOMEM;
	s = &tl->snaps[tl->nsnaps++];
	*s = (struct pst_snapshot){ r.ts, r.alloc_calls, r.free_calls, r.alloc_bytes,
				    r.rss_bytes, r.open_fds, r.threads, r.cpu_ns };
	return 0;
}

static int on_alert(struct pst_timeline *tl, const uint8_t *p, const uint8_t *e)
{
	struct pst_rec_alert r;
	struct pst_alert_rec *a;

	if (pst_dec_alert(p, e, &r))
		return 0;
	if (grow((void **)&tl->alerts, tl->nalerts, sizeof(*tl->alerts)))
		return -ENOMEM;
	a = &tl->alerts[tl->nalerts];
	a->ts = r.ts;
	a->text = strndup((const char *)r.text, r.text_len);
	if (!a->text)
		return -ENOMEM;
	tl->nalerts++;
	return 0;
}

static int on_record(unsigned type, uint64_t tid, const uint8_t *p, size_t len, void *arg)
{
	struct reading *rd = arg;
	struct pst_timeline *tl = rd->tl;
	const uint8_t *e = p + len;
	union {
		struct pst_rec_pause p;
		struct pst_rec_capped c;
		struct pst_rec_settings s;
	} r;

	(void)tid;
	switch (type) {
	case PST_REC_SNAPSHOT:
		return on_snapshot(tl, p, e);
	case PST_REC_ALERT:
		return on_alert(tl, p, e);
	case PST_REC_PAUSE:
		if (pst_dec_pause(p, e, &r.p))
			return 0;
		if (grow((void **)&rd->marks, rd->nmarks, sizeof(*rd->marks)))
			return -ENOMEM;
		rd->marks[rd->nmarks++] = (struct pause_mark){ r.p.ts, r.p.paused != 0 };
		return 0;
	case PST_REC_CAPPED:
		if (pst_dec_capped(p, e, &r.c) || tl->capped)
			return 0;
		tl->capped = true;
		tl->capped_ts = r.c.ts;
		tl->cap_bytes = r.c.cap_bytes;
		return 0;
	case PST_REC_SETTINGS:
		if (pst_dec_settings(p, e, &r.s))
			return 0;
		tl->has_settings = true;
		tl->wait_rate_ppm = r.s.wait_rate_ppm;
		tl->metrics_ms = r.s.metrics_ms;
		tl->max_size = r.s.max_size;
		tl->max_memory = r.s.max_memory;
		tl->toggle_sig = r.s.toggle_signal;
		return 0;
	}
	return 0;
}

static int cmp_snap(const void *a, const void *b)
{
	const struct pst_snapshot *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_mark(const void *a, const void *b)
{
	const struct pause_mark *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Pause and resume marks into spans; a pause never resumed lasts to the end. */
static int spans(struct reading *rd)
{
	struct pst_timeline *tl = rd->tl;
	bool paused = false;
	uint64_t from = 0;

	pst_sort(rd->marks, rd->nmarks, sizeof(*rd->marks), cmp_mark);
	for (size_t i = 0; i <= rd->nmarks; i++) {
		bool end = i == rd->nmarks;

		if (!end && rd->marks[i].paused == paused)
			continue;
		if (!end && !paused) {
			paused = true;
			from = rd->marks[i].ts;
			continue;
		}
		if (!paused)
			break;
		if (grow((void **)&tl->pauses, tl->npauses, sizeof(*tl->pauses)))
			return -ENOMEM;
		tl->pauses[tl->npauses++] =
			(struct pst_pause_span){ from, end ? tl->end_ts : rd->marks[i].ts };
		paused = false;
	}
	return 0;
}

struct pst_timeline *pst_timeline_read(const struct pst_trace *t)
{
	struct reading rd = { 0 };
	int rc;

	rd.tl = calloc(1, sizeof(*rd.tl));
	if (!rd.tl)
		return NULL;
	rc = pst_trace_foreach(t, PST_REC_SNAPSHOT, PST_REC_SNAPSHOT + 0xf, on_record, &rd);
	if (rc)
		goto fail;
	pst_sort(rd.tl->snaps, rd.tl->nsnaps, sizeof(*rd.tl->snaps), cmp_snap);
	rd.tl->start_ts = t->proc.start_monotonic_ns;
	rd.tl->end_ts = t->end_ts;
	if (rd.tl->nsnaps && rd.tl->snaps[rd.tl->nsnaps - 1].ts > rd.tl->end_ts)
		rd.tl->end_ts = rd.tl->snaps[rd.tl->nsnaps - 1].ts;
	if (spans(&rd))
		goto fail;
	free(rd.marks);
	return rd.tl;
fail:
	free(rd.marks);
	pst_timeline_free(rd.tl);
	return NULL;
}

void pst_timeline_free(struct pst_timeline *tl)
{
	if (!tl)
		return;
	for (size_t i = 0; i < tl->nalerts; i++)
		free(tl->alerts[i].text);
	free(tl->alerts);
	free(tl->snaps);
	free(tl->pauses);
	free(tl);
}

bool pst_timeline_paused(const struct pst_timeline *tl, uint64_t from, uint64_t to)
{
	for (size_t i = 0; i < tl->npauses; i++)
		if (tl->pauses[i].from < to && tl->pauses[i].to >= from)
			return true;
	return false;
}

/* Seconds since the process started. */
static double secs(const struct pst_timeline *tl, uint64_t ts)
{
	return ts > tl->start_ts ? (double)(ts - tl->start_ts) / 1e9 : 0;
}

const char *pst_timeline_cap_note(const struct pst_timeline *tl, char *buf, size_t len)
{
	if (!tl->capped) {
		buf[0] = 0;
		return buf;
	}
	snprintf(buf, len, "trace capped at %llu bytes: events after %.3f s are missing",
		 (unsigned long long)tl->cap_bytes, secs(tl, tl->capped_ts));
	return buf;
}

/* The interval that ends with snapshot i: rates over it. */
struct interval {
	double t, dt;
	double calls_s, frees_s, bytes_s, cpu_pct;
	bool paused;
};

static void interval(const struct pst_timeline *tl, size_t i, struct interval *iv)
{
	const struct pst_snapshot *s = &tl->snaps[i];
	struct pst_snapshot zero = { .ts = tl->start_ts };
	const struct pst_snapshot *p = i ? &tl->snaps[i - 1] : &zero;
	double dt = s->ts > p->ts ? (double)(s->ts - p->ts) / 1e9 : 0;

	iv->t = secs(tl, s->ts);
	iv->dt = dt;
	iv->calls_s = dt > 0 ? (double)(s->alloc_calls - p->alloc_calls) / dt : 0;
	iv->frees_s = dt > 0 ? (double)(s->free_calls - p->free_calls) / dt : 0;
	iv->bytes_s = dt > 0 ? (double)(s->alloc_bytes - p->alloc_bytes) / dt : 0;
	iv->cpu_pct = dt > 0 ? (double)(s->cpu_ns - p->cpu_ns) / 1e7 / dt : 0;
	iv->paused = pst_timeline_paused(tl, p->ts, s->ts);
}

json_t *pst_timeline_json(const struct pst_timeline *tl)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < tl->nsnaps; i++) {
		const struct pst_snapshot *s = &tl->snaps[i];
		struct interval iv;
		json_t *o = json_object();

		interval(tl, i, &iv);
		json_object_set_new(o, "time_s", json_real(iv.t));
		json_object_set_new(o, "alloc_calls", json_integer((json_int_t)s->alloc_calls));
		json_object_set_new(o, "free_calls", json_integer((json_int_t)s->free_calls));
		json_object_set_new(o, "allocated_bytes", json_integer((json_int_t)s->alloc_bytes));
		json_object_set_new(o, "rss_bytes", json_integer((json_int_t)s->rss_bytes));
		json_object_set_new(o, "open_fds", json_integer((json_int_t)s->open_fds));
		json_object_set_new(o, "threads", json_integer((json_int_t)s->threads));
		json_object_set_new(o, "cpu_ns", json_integer((json_int_t)s->cpu_ns));
		json_object_set_new(o, "alloc_calls_per_s", json_real(iv.calls_s));
		json_object_set_new(o, "free_calls_per_s", json_real(iv.frees_s));
		json_object_set_new(o, "allocated_bytes_per_s", json_real(iv.bytes_s));
		json_object_set_new(o, "cpu_percent", json_real(iv.cpu_pct));
		json_object_set_new(o, "paused", json_boolean(iv.paused));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *pst_timeline_production_json(const struct pst_timeline *tl)
{
	json_t *o = json_object(), *pauses = json_array(), *alerts = json_array();
	char note[160];

	json_object_set_new(o, "snapshots", json_integer((json_int_t)tl->nsnaps));
	if (tl->nsnaps)
		json_object_set_new(o, "last_snapshot_s",
				    json_real(secs(tl, tl->snaps[tl->nsnaps - 1].ts)));
	json_object_set_new(o, "capped", json_boolean(tl->capped));
	if (tl->capped) {
		json_object_set_new(o, "cap_bytes", json_integer((json_int_t)tl->cap_bytes));
		json_object_set_new(o, "capped_at_s", json_real(secs(tl, tl->capped_ts)));
		json_object_set_new(o, "note",
				    json_string(pst_timeline_cap_note(tl, note, sizeof(note))));
	}
	for (size_t i = 0; i < tl->npauses; i++) {
		json_t *p = json_object();

		json_object_set_new(p, "from_s", json_real(secs(tl, tl->pauses[i].from)));
		json_object_set_new(p, "to_s", json_real(secs(tl, tl->pauses[i].to)));
		json_array_append_new(pauses, p);
	}
	json_object_set_new(o, "paused", pauses);
	for (size_t i = 0; i < tl->nalerts; i++) {
		json_t *a = json_object();

		json_object_set_new(a, "time_s", json_real(secs(tl, tl->alerts[i].ts)));
		json_object_set_new(a, "text", json_string(tl->alerts[i].text));
		json_array_append_new(alerts, a);
	}
	json_object_set_new(o, "alerts", alerts);
	if (tl->has_settings) {
		json_object_set_new(o, "wait_sample_rate", json_real((double)tl->wait_rate_ppm / 1e6));
		json_object_set_new(o, "metrics_interval_s", json_real((double)tl->metrics_ms / 1e3));
		json_object_set_new(o, "max_size", json_integer((json_int_t)tl->max_size));
		json_object_set_new(o, "max_memory", json_integer((json_int_t)tl->max_memory));
		json_object_set_new(o, "toggle_signal", json_integer((json_int_t)tl->toggle_sig));
	}
	return o;
}

static void text_table(FILE *out, const struct pst_timeline *tl)
{
	char a[32], b[32], c[32];

	if (tl->has_settings)
		fprintf(out, "\nTimeline (%zu snapshots, every %.1f s; rates over the interval before each)\n",
			tl->nsnaps, (double)tl->metrics_ms / 1e3);
	else
		fprintf(out, "\nTimeline (%zu snapshots; rates over the interval before each)\n",
			tl->nsnaps);
	if (!tl->nsnaps) {
		fprintf(out, "  no snapshots in this trace\n");
		return;
	}
	fprintf(out, "  %9s %12s %12s %10s %6s %8s %6s\n", "time", "allocs/s", "bytes/s", "RSS",
		"fds", "threads", "CPU%");
	for (size_t i = 0; i < tl->nsnaps; i++) {
		const struct pst_snapshot *s = &tl->snaps[i];
		struct interval iv;

		interval(tl, i, &iv);
		fprintf(out, "  %8.1fs %12s %12s %10s %6llu %8llu %6.1f%s\n", iv.t,
			pst_fmt_count(iv.calls_s, a, sizeof(a)), pst_fmt_bytes(iv.bytes_s, b, sizeof(b)),
			pst_fmt_bytes((double)s->rss_bytes, c, sizeof(c)),
			(unsigned long long)s->open_fds, (unsigned long long)s->threads, iv.cpu_pct,
			iv.paused ? "  paused" : "");
	}
}

void pst_timeline_text(FILE *out, const struct pst_timeline *tl, bool complete, bool table)
{
	char note[160];

	if (table)
		text_table(out, tl);
	if (!complete && tl->nsnaps)
		fprintf(out, "\nThe trace is incomplete: its last snapshot is at %.1f s (%llu allocation calls by then).\n",
			secs(tl, tl->snaps[tl->nsnaps - 1].ts),
			(unsigned long long)tl->snaps[tl->nsnaps - 1].alloc_calls);
	if (tl->capped)
		fprintf(out, "\nNote: %s.\n", pst_timeline_cap_note(tl, note, sizeof(note)));
	for (size_t i = 0; i < tl->npauses; i++)
		fprintf(out, "%sRecording paused from %.1f s to %.1f s: no events in that time, counters still exact.\n",
			i ? "" : "\n", secs(tl, tl->pauses[i].from), secs(tl, tl->pauses[i].to));
	for (size_t i = 0; i < tl->nalerts; i++)
		fprintf(out, "%sAlert at %.1f s: %s\n", i ? "" : "\n", secs(tl, tl->alerts[i].ts),
			tl->alerts[i].text);
}

/* ---- SVG ---- */

/* The plot's layout: the value axis's labels on the left, panels of
 * SVG_H stacked, each with its title above and its time axis below. */
#define SVG_L 80.0
#define SVG_W 600.0
#define SVG_H 110.0
#define SVG_PANEL (SVG_H + 70.0)

/* One panel: a figure per snapshot, its title naming the unit. */
struct svg_panel {
	const char *title, *colour;
	bool bytes; /* labels in B, KiB, MiB; else a rate per second */
	double (*value)(const struct pst_timeline *tl, size_t i);
};

/* A round step for about n ticks up to max: 1, 2, 2.5 or 5 times a power
 * of ten (of ten times a power of 1024 for bytes). */
static double nice_step(double max, int n, bool bytes)
{
	static const double mult[] = { 1, 2, 2.5, 5 };
	double scale = 1, raw, p;

	while (bytes && max / scale >= 1024)
		scale *= 1024;
	raw = max / scale / n;
	p = pow(10, floor(log10(raw)));
	for (size_t i = 0; i < sizeof(mult) / sizeof(*mult); i++)
		if (raw <= mult[i] * p)
			return mult[i] * p * scale;
	return 10 * p * scale;
}

static double svg_tmax(const struct pst_timeline *tl)
{
	double t = secs(tl, tl->snaps[tl->nsnaps - 1].ts);

	return t > 0 ? t : 1;
}

static double svg_x(const struct pst_timeline *tl, double t)
{
	return SVG_L + t / svg_tmax(tl) * SVG_W;
}

/* The time axis under a panel whose plot ends at y: ticks in seconds. */
static void svg_time_axis(FILE *f, const struct pst_timeline *tl, double y)
{
	double tmax = svg_tmax(tl), step = nice_step(tmax, 6, false);

	fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#888\"/>\n", SVG_L, y,
		SVG_L + SVG_W, y);
	for (double t = 0; t <= tmax + step / 1e6; t += step)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
			svg_x(tl, t), y, svg_x(tl, t), y + 4, svg_x(tl, t), y + 16, t);
	fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"middle\">time since the process started (s)</text>\n",
		SVG_L + SVG_W / 2, y + 32);
}

/* The value axis of a panel from top to top + SVG_H, up to vmax. */
static void svg_value_axis(FILE *f, const struct svg_panel *p, double top, double vmax)
{
	double step = nice_step(vmax, 4, p->bytes);
	char a[40], b[32];

	fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#888\"/>\n", SVG_L,
		top, SVG_L, top + SVG_H);
	for (double v = 0; v <= vmax * (1 + 1e-9); v += step) {
		double y = top + SVG_H - v / vmax * SVG_H;

		if (p->bytes)
			pst_fmt_bytes(v, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "%s/s", pst_fmt_short(v, b, sizeof(b)));
		fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#888\"/>"
			   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			SVG_L - 4, y, SVG_L, y, SVG_L - 6, y + 4, a);
	}
}

/* One panel at top: title with the line's colour, axes, the line. */
static void svg_panel(FILE *f, const struct pst_timeline *tl, const struct svg_panel *p, double top)
{
	double vmax = 0;

	for (size_t i = 0; i < tl->nsnaps; i++)
		if (p->value(tl, i) > vmax)
			vmax = p->value(tl, i);
	/* headroom, and whole-unit ticks for a line of zeros */
	vmax = vmax > 0 ? vmax * 1.1 : 4;
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>"
		   "<text x=\"%.0f\" y=\"%.1f\" font-weight=\"bold\">%s</text>\n",
		SVG_L, top - 12, SVG_L + 16, top - 12, p->colour, SVG_L + 22, top - 8, p->title);
	svg_value_axis(f, p, top, vmax);
	svg_time_axis(f, tl, top + SVG_H);
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", p->colour);
	for (size_t i = 0; i < tl->nsnaps; i++)
		fprintf(f, "%.1f,%.1f ", svg_x(tl, secs(tl, tl->snaps[i].ts)),
			top + SVG_H - p->value(tl, i) / vmax * SVG_H);
	fprintf(f, "\"/>\n");
}

static double rss_of(const struct pst_timeline *tl, size_t i)
{
	return (double)tl->snaps[i].rss_bytes;
}

static double calls_of(const struct pst_timeline *tl, size_t i)
{
	struct interval iv;

	interval(tl, i, &iv);
	return iv.calls_s;
}

int pst_timeline_svg(const struct pst_timeline *tl, const char *path)
{
	static const struct svg_panel panels[] = {
		{ "resident memory (RSS), bytes", "#c0392b", true, rss_of },
		{ "allocation calls per second", "#2471a3", false, calls_of },
	};
	const size_t np = sizeof(panels) / sizeof(*panels);
	FILE *f;

	if (!tl->nsnaps)
		return -ENODATA;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		SVG_L + SVG_W + 30, np * SVG_PANEL + 10);
	for (size_t i = 0; i < tl->npauses; i++) {
		double x0 = svg_x(tl, secs(tl, tl->pauses[i].from));
		double x1 = svg_x(tl, secs(tl, tl->pauses[i].to));

		fprintf(f, "<rect x=\"%.1f\" y=\"30\" width=\"%.1f\" height=\"%.0f\" fill=\"#eee\"><title>recording paused</title></rect>\n",
			x0, x1 > x0 ? x1 - x0 : 1, np * SVG_PANEL - 40);
	}
	for (size_t i = 0; i < np; i++)
		svg_panel(f, tl, &panels[i], 30 + (double)i * SVG_PANEL);
	fputs("</svg>\n", f);
	if (fclose(f))
		return -errno;
	return 0;
}

/* ---- the family ---- */

static void *family_analyze(struct pst_analysis *a)
{
	return pst_timeline_read(a->t);
}

/* A trace capped by --max-size says so among the warnings. */
static int family_warnings(struct pst_analysis *a, void *self)
{
	char note[160];

	if (!((const struct pst_timeline *)self)->capped)
		return 0;
	return pst_analysis_warn(a, pst_timeline_cap_note(self, note, sizeof(note)));
}

static void family_json(const struct pst_analysis *a, const void *self, json_t *root)
{
	(void)a;
	json_object_set_new(root, "timeline", pst_timeline_json(self));
	json_object_set_new(root, "production", pst_timeline_production_json(self));
}

static void family_text(FILE *out, const struct pst_analysis *a, const void *self)
{
	pst_timeline_text(out, self, a->t->complete, a->timeline_table);
}

static void family_free(void *self)
{
	pst_timeline_free(self);
}

const struct pst_family_ops pst_family_timeline = {
	.name = "timeline",
	.json_rank = 0,
	.text_rank = 4,
	.analyze = family_analyze,
	.warnings = family_warnings,
	.json = family_json,
	.text = family_text,
	.free = family_free,
};
