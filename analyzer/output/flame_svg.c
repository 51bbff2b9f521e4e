/* SPDX-License-Identifier: MIT */
/* The interactive SVG flame graph: one self-contained file with zoom, search and tooltips. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"
#include "units.h"

/* Geometry in pixels. */
#define SVG_WIDTH 1200.0
#define SVG_PAD	  10.0
#define FRAME_H	  16
#define TOP	  64
#define BOTTOM	  44
/* Average width of a 12 px monospace character, for labels. */
#define CHAR_W 7.2

#define NO_NODE UINT32_MAX

/* One frame of the merged tree: all stacks through the same path. */
struct node {
	uint32_t func;		    /* NO_NODE for the root */
	uint32_t first, last, next; /* children and siblings */
	uint32_t depth;
	int64_t v[2];
};

struct tree {
	struct node *v;
	size_t n, cap;
	uint32_t max_depth;
};

static uint32_t node_new(struct tree *t, uint32_t parent, uint32_t func)
{
	struct node *x;

	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct node *nv = realloc(t->v, ncap * sizeof(*nv));

		if (!nv)
			return NO_NODE;
		t->v = nv;
		t->cap = ncap;
	}
	x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->func = func;
	x->first = x->last = x->next = NO_NODE;
	if (parent != NO_NODE) {
		struct node *p = &t->v[parent];

		x->depth = p->depth + 1;
		if (p->last == NO_NODE)
			p->first = (uint32_t)t->n;
		else
			t->v[p->last].next = (uint32_t)t->n;
		p->last = (uint32_t)t->n;
		if (x->depth > t->max_depth)
			t->max_depth = x->depth;
	}
	return (uint32_t)t->n++;
}

/* Stacks are sorted by their frames, so a stack shares its prefix with the
 * last child path taken: only the last child needs checking. */
static int tree_build(struct tree *t, const struct pst_flame *fl)
{
	if (node_new(t, NO_NODE, NO_NODE) == NO_NODE)
		return -ENOMEM;
	for (size_t i = 0; i < fl->nstacks; i++) {
		const struct pst_fstack *s = &fl->stacks[i];
		uint32_t cur = 0;

		t->v[0].v[0] += s->value[0];
		t->v[0].v[1] += s->value[1];
		for (size_t k = 0; k < s->depth; k++) {
			uint32_t last = t->v[cur].last;

			if (last == NO_NODE || t->v[last].func != s->funcs[k]) {
				last = node_new(t, cur, s->funcs[k]);
				if (last == NO_NODE)
					return -ENOMEM;
			}
			cur = last;
			t->v[cur].v[0] += s->value[0];
			t->v[cur].v[1] += s->value[1];
		}
	}
	return 0;
}

/* ---- colours ---- */

static uint32_t hsl(double h, double s, double l)
{
	double c = (1 - fabs(2 * l - 1)) * s, hp = fmod(h, 360) / 60;
	double x = c * (1 - fabs(fmod(hp, 2) - 1)), m = l - c / 2, r = 0, g = 0, b = 0;

	if (hp < 1)
		r = c, g = x;
	else if (hp < 2)
		r = x, g = c;
	else if (hp < 3)
		g = c, b = x;
	else if (hp < 4)
		g = x, b = c;
	else if (hp < 5)
		r = x, b = c;
	else
		r = c, b = x;
	return (uint32_t)lround((r + m) * 255) << 16 | (uint32_t)lround((g + m) * 255) << 8 |
	       (uint32_t)lround((b + m) * 255);
}

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* Mid-tone fills: dark labels read on them on light and dark pages. */
static uint32_t kind_colour(const struct pst_ffunc *fn)
{
	double v = (name_hash(fn->name) % 1000) / 1000.0;

	switch (fn->kind) {
	case PST_FK_OWN: return hsl(18 + 30 * v, 0.80, 0.60 + 0.06 * v);
	case PST_FK_LIB: return hsl(190 + 30 * v, 0.55, 0.62 + 0.06 * v);
	case PST_FK_KERNEL: return hsl(95 + 30 * v, 0.50, 0.55 + 0.06 * v);
	default: return hsl(0, 0, 0.66 + 0.06 * v);
	}
}

/* Growth red, shrinkage blue, deeper the larger the change relative to the
 * frame's own size. */
static uint32_t diff_colour(double base, double now)
{
	double big = base > now ? base : now, r = big > 0 ? (now - base) / big : 0;

	if (fabs(r) < 0.005)
		return hsl(0, 0, 0.86);
	return hsl(r > 0 ? 0 : 218, 0.85, 0.92 - 0.38 * fabs(r));
}

/* ---- output ---- */

static void put_escaped(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; *s && i < max; s++, i++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20)
				putc(*s, f);
		}
	}
}

struct render {
	FILE *f;
	const struct pst_flame *fl;
	const struct tree *t;
	double scale;  /* pixels per unit of value */
	double bscale; /* diff: factor applied to BASE values */
	double min_w;
	unsigned slot; /* the slot widths come from */
};

static double frame_y(const struct render *r, uint32_t depth)
{
	return TOP + (double)(r->t->max_depth - depth) * FRAME_H;
}

static void put_label(const struct render *r, const char *name, double x, double y, double w)
{
	size_t fit = w > 2 * CHAR_W ? (size_t)((w - 6) / CHAR_W) : 0, len = strlen(name);

	if (fit < 3)
		return;
	fprintf(r->f, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FRAME_H - 4.5);
	if (len <= fit) {
		put_escaped(r->f, name, len);
	} else {
		put_escaped(r->f, name, fit - 2);
		fputs("..", r->f);
	}
	fputs("</text>", r->f);
}

static void put_frame(const struct render *r, const char *name, int kind, uint32_t fill,
		      const int64_t *v, double x, double w, uint32_t depth)
{
	double y = frame_y(r, depth);

	fprintf(r->f, "<g class=\"f k%d\" data-n=\"", kind);
	put_escaped(r->f, name, SIZE_MAX);
	fprintf(r->f, "\" data-v=\"%" PRId64 "\"", v[r->slot]);
	if (r->fl->nslots == 2)
		fprintf(r->f, " data-b=\"%.0f\"", (double)v[0] * r->bscale);
	fprintf(r->f, "><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"#%06x\"/>",
		x, y, w, FRAME_H - 1, fill);
	put_label(r, name, x, y, w);
	fputs("</g>\n", r->f);
}

static uint32_t fill_of(const struct render *r, const struct node *n)
{
	if (r->fl->nslots == 2)
		return diff_colour((double)n->v[0] * r->bscale, (double)n->v[1]);
	if (n->func == NO_NODE)
		return hsl(0, 0, 0.72);
	return kind_colour(&r->fl->funcs[n->func]);
}

/* Frame x and its subtree; children narrower than min_w become one grey
 * "[N small frames]" at the end of their parent. */
static void emit(const struct render *r, uint32_t id, double x)
{
	const struct node *n = &r->t->v[id];
	const char *name = n->func == NO_NODE ? "all" : r->fl->funcs[n->func].name;
	int kind = n->func == NO_NODE ? PST_FK_UNKNOWN : (int)r->fl->funcs[n->func].kind;
	int64_t small[2] = {0, 0};
	double cx = x;
	size_t nsmall = 0;
	char buf[64];

	put_frame(r, name, kind, fill_of(r, n), n->v, x, (double)n->v[r->slot] * r->scale,
		  n->depth);
	for (uint32_t c = n->first; c != NO_NODE; c = r->t->v[c].next) {
		const struct node *ch = &r->t->v[c];
		double w = (double)ch->v[r->slot] * r->scale;

		if (w < r->min_w || w <= 0) {
			small[0] += ch->v[0];
			small[1] += ch->v[1];
			nsmall += ch->v[r->slot] > 0;
			continue;
		}
		emit(r, c, cx);
		cx += w;
	}
	if (nsmall && (double)small[r->slot] * r->scale >= r->min_w) {
		snprintf(buf, sizeof(buf), "[%zu small frames]", nsmall);
		put_frame(r, buf, 4, hsl(0, 0, 0.80), small, cx, (double)small[r->slot] * r->scale,
			  n->depth + 1);
	}
}

static void put_title(FILE *f, const struct pst_flame *fl, const struct pst_svg_opts *o)
{
	char a[64], b[64];
	const char *unit = !strcmp(fl->metric->unit, "count") ? "" : fl->metric->unit;

	fputs("<text id=\"title\" class=\"ui\" x=\"600\" y=\"24\" text-anchor=\"middle\">", f);
	if (o->title) {
		put_escaped(f, o->title, SIZE_MAX);
	} else {
		put_escaped(f, fl->program, SIZE_MAX);
		fprintf(f, ": %s%s", fl->metric->name, fl->nslots == 2 ? " (differential)" : "");
	}
	fputs("</text>\n<text id=\"subtitle\" class=\"ui sub\" x=\"600\" y=\"44\" "
	      "text-anchor=\"middle\">",
	      f);
	if (fl->nslots == 2) {
		double d = fl->total[0] ? 100.0 * (double)(fl->total[1] - fl->total[0]) /
					      (double)fl->total[0]
					: 0;

		fprintf(f, "%s: base %s, new %s%s%s (%+.1f%%)%s; red grew, blue shrank",
			fl->metric->what, pst_fmt_count((double)fl->total[0], a, sizeof(a)),
			pst_fmt_count((double)fl->total[1], b, sizeof(b)), *unit ? " " : "", unit, d,
			fl->normalize ? ", base normalized to the new total" : "");
	} else {
		fprintf(f, "%s: total %s%s%s", fl->metric->what,
			pst_fmt_count((double)fl->total[0], a, sizeof(a)), *unit ? " " : "", unit);
	}
	fputs("</text>\n", f);
}

static const char svg_style[] =
    "<style>\n"
    "text{font:12px monospace;fill:#000}\n"
    ".bg{fill:#f6f6f4}.ui{fill:#222}.ui.sub{fill:#555}#title{font-size:17px}\n"
    ".btn{cursor:pointer;text-decoration:underline}\n"
    ".f{cursor:pointer}.f:hover rect{stroke:#000;stroke-width:.6}\n"
    ".f text{pointer-events:none}.hl rect{fill:#d63ad6}\n"
    "#tip rect{fill:#fffbe6;stroke:#888}#tip text{fill:#000}\n"
    "@media (prefers-color-scheme:dark){.bg{fill:#1d1f21}.ui{fill:#ddd}.ui.sub{fill:#aaa}}\n"
    "</style>\n";

/* Zoom, search, reset and tooltips; no external resource. */
static const char svg_script[] =
    "<script><![CDATA[\n"
    "'use strict';\n"
    "var svg=document.documentElement,W=+svg.getAttribute('width'),P=10,CW=7.2;\n"
    "var unit=svg.getAttribute('data-unit'),total=+svg.getAttribute('data-total');\n"
    "var fr=[].map.call(document.querySelectorAll('#frames .f'),function(g){\n"
    "  var r=g.firstChild;return {g:g,r:r,t:g.querySelector('text'),n:g.getAttribute('data-n'),\n"
    "  v:+g.getAttribute('data-v'),b:g.getAttribute('data-b'),x:+r.getAttribute('x'),\n"
    "  w:+r.getAttribute('width'),y:+r.getAttribute('y')};});\n"
    "var tip=document.getElementById('tip'),tipt=tip.querySelector('text'),\n"
    "  tipr=tip.querySelector('rect'),details=document.getElementById('details'),\n"
    "  reset=document.getElementById('reset'),matched=document.getElementById('matched');\n"
    "function num(v){return Math.round(v).toString().replace(/\\B(?=(\\d{3})+(?!\\d))/g,',');}\n"
    "function describe(o){var s=o.n+': '+num(o.v)+(unit=='count'?'':' '+unit)+' ('+\n"
    "  (total?(100*o.v/total).toFixed(2):'0.00')+'%)';if(o.b!==null){var b=+o.b;\n"
    "  s+=', base '+num(b)+(b?' ('+(o.v>=b?'+':'')+(100*(o.v-b)/b).toFixed(1)+'%)':' (new)');}\n"
    "  return s;}\n"
    "function label(o,x,w){var fit=Math.floor((w-6)/CW),s='';if(w>2*CW&&fit>=3)\n"
    "  s=o.n.length<=fit?o.n:o.n.substr(0,fit-2)+'..';if(!o.t){if(!s)return;\n"
    "  o.t=document.createElementNS('http://www.w3.org/2000/svg','text');\n"
    "  o.t.setAttribute('y',o.y+11.5);o.g.appendChild(o.t);}\n"
    "  o.t.setAttribute('x',(x+3).toFixed(2));o.t.textContent=s;}\n"
    "function place(o,x,w){o.r.setAttribute('x',x.toFixed(2));o.r.setAttribute('width',\n"
    "  w.toFixed(2));label(o,x,w);o.g.style.display='';}\n"
    "var zoomed=null;\n"
    "function zoom(z){var e=1e-6*W;if(z===fr[0])z=null;zoomed=z;\n"
    "  reset.style.display=z?'':'none';if(!z){fr.forEach(function(o){place(o,o.x,o.w);\n"
    "  o.g.style.opacity='';});return;}var k=(W-2*P)/z.w;\n"
    "  fr.forEach(function(o){if(o.y>=z.y&&o.x<=z.x+e&&o.x+o.w>=z.x+z.w-e){\n"
    "    place(o,P,W-2*P);o.g.style.opacity=o===z?'':'0.6';}\n"
    "  else if(o.y<z.y&&o.x>=z.x-e&&o.x+o.w<=z.x+z.w+e){place(o,P+(o.x-z.x)*k,o.w*k);\n"
    "    o.g.style.opacity='';}\n"
    "  else o.g.style.display='none';});}\n"
    "function search(term){var re,hit=[],cover=0,end=-1;\n"
    "  fr.forEach(function(o){o.g.classList.remove('hl');});\n"
    "  if(!term){matched.textContent='';svg.setAttribute('data-matches','0');return;}\n"
    "  try{re=new RegExp(term);}catch(err){re={test:function(s){return s.indexOf(term)>=0;}};}\n"
    "  "
    "fr.forEach(function(o){if(o!==fr[0]&&re.test(o.n)){o.g.classList.add('hl');hit.push(o);}});\n"
    "  hit.sort(function(a,b){return a.x-b.x||b.w-a.w;});\n"
    "  hit.forEach(function(o){var a=Math.max(o.x,end),b=o.x+o.w;if(b>a){cover+=b-a;end=b;}});\n"
    "  svg.setAttribute('data-matches',hit.length);matched.textContent='Matched: '+\n"
    "  (fr.length?(100*cover/fr[0].w).toFixed(1):'0.0')+'% ('+hit.length+' frames)';}\n"
    "fr.forEach(function(o){o.g.addEventListener('click',function(){zoom(o);});\n"
    "  o.g.addEventListener('mousemove',function(ev){var s=describe(o),pt=svg.createSVGPoint();\n"
    "  details.textContent=s;tipt.textContent=s;pt.x=ev.clientX;pt.y=ev.clientY;\n"
    "  var m=svg.getScreenCTM(),p=m?pt.matrixTransform(m.inverse()):pt,tw=s.length*CW+8;\n"
    "  var "
    "tx=Math.min(p.x+12,W-tw-2),ty=p.y+18;tipr.setAttribute('x',tx);tipr.setAttribute('y',ty);\n"
    "  tipr.setAttribute('width',tw);tipt.setAttribute('x',tx+4);tipt.setAttribute('y',ty+14);\n"
    "  tip.setAttribute('visibility','visible');});\n"
    "  o.g.addEventListener('mouseout',function(){tip.setAttribute('visibility','hidden');\n"
    "  details.textContent=' ';});});\n"
    "reset.addEventListener('click',function(){zoom(null);});\n"
    "document.getElementById('search').addEventListener('click',function(){\n"
    "  var t=prompt('Search frames (regular expression):','');if(t!==null)search(t);});\n"
    "window.addEventListener('keydown',function(ev){if((ev.ctrlKey||ev.metaKey)&&ev.key=='f'){\n"
    "  ev.preventDefault();var t=prompt('Search frames (regular expression):','');\n"
    "  if(t!==null)search(t);}else if(ev.key=='Escape'){zoom(null);search('');}});\n"
    "]]></script>\n";

static void put_legend(FILE *f, const struct pst_flame *fl, double y)
{
	static const char *const kinds[] = {"own code", "libraries", "kernel", "unresolved"};
	const struct pst_ffunc sample[] = {{.name = "", .kind = PST_FK_OWN},
					   {.name = "", .kind = PST_FK_LIB},
					   {.name = "", .kind = PST_FK_KERNEL},
					   {.name = "", .kind = PST_FK_UNKNOWN}};
	double x = SVG_WIDTH - SVG_PAD - 4 * 110;

	if (fl->nslots == 2) {
		fprintf(f,
			"<g id=\"legend\"><rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" "
			"fill=\"#%06x\"/>"
			"<text class=\"ui\" x=\"%.0f\" y=\"%.0f\">grew</text>",
			x + 220, y, hsl(0, 0.85, 0.6), x + 236, y + 10);
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"#%06x\"/>"
			"<text class=\"ui\" x=\"%.0f\" y=\"%.0f\">shrank</text></g>\n",
			x + 330, y, hsl(218, 0.85, 0.6), x + 346, y + 10);
		return;
	}
	fputs("<g id=\"legend\">", f);
	for (int i = 0; i < 4; i++)
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"#%06x\"/>"
			"<text class=\"ui\" x=\"%.0f\" y=\"%.0f\">%s</text>",
			x + 110 * i, y, kind_colour(&sample[i]), x + 110 * i + 16, y + 10,
			kinds[i]);
	fputs("</g>\n", f);
}

int pst_flame_write_svg(FILE *f, const struct pst_flame *fl, const struct pst_svg_opts *o)
{
	struct tree t = {0};
	struct render r = {.f = f, .fl = fl, .t = &t, .min_w = o->min_width, .bscale = 1};
	double h;

	if (tree_build(&t, fl)) {
		free(t.v);
		return -ENOMEM;
	}
	r.slot = fl->nslots - 1;
	r.scale = t.v[0].v[r.slot] > 0 ? (SVG_WIDTH - 2 * SVG_PAD) / (double)t.v[0].v[r.slot] : 0;
	if (fl->nslots == 2 && fl->normalize && fl->total[0] > 0)
		r.bscale = (double)fl->total[1] / (double)fl->total[0];
	h = TOP + (t.max_depth + 1) * FRAME_H + BOTTOM;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", f);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-unit=\"%s\" data-total=\"%" PRId64
		"\">\n",
		SVG_WIDTH, h, SVG_WIDTH, h, fl->metric->unit, t.v[0].v[r.slot]);
	fputs(svg_style, f);
	fputs("<rect class=\"bg\" x=\"0\" y=\"0\" width=\"100%\" height=\"100%\"/>\n", f);
	put_title(f, fl, o);
	fputs("<text id=\"reset\" class=\"ui btn\" x=\"10\" y=\"24\" style=\"display:none\">Reset "
	      "zoom</text>\n"
	      "<text id=\"search\" class=\"ui btn\" x=\"1190\" y=\"24\" "
	      "text-anchor=\"end\">Search</text>\n",
	      f);
	fprintf(
	    f,
	    "<text id=\"matched\" class=\"ui\" x=\"1190\" y=\"%.0f\" text-anchor=\"end\"></text>\n",
	    h - 24);
	fprintf(f, "<text id=\"details\" class=\"ui\" x=\"10\" y=\"%.0f\"> </text>\n", h - 24);
	fputs("<g id=\"frames\">\n", f);
	if (t.v[0].v[r.slot] > 0)
		emit(&r, 0, SVG_PAD);
	fputs("</g>\n", f);
	put_legend(f, fl, h - 16);
	fputs("<g id=\"tip\" visibility=\"hidden\"><rect x=\"0\" y=\"0\" width=\"10\" "
	      "height=\"20\" rx=\"3\"/>"
	      "<text x=\"0\" y=\"0\"></text></g>\n",
	      f);
	fputs(svg_script, f);
	fputs("</svg>\n", f);
	free(t.v);
	return 0;
}
