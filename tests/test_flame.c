/* SPDX-License-Identifier: MIT */
/* `prestanda flame`: every output parsed by a third-party reader (pprof-format, speedscope's
 * schema, xmllint, Chromium). */
#include <regex.h>

#include "itest.h"

#define JS_DIR	 "tests/js/"
#define CHROMIUM "/usr/bin/chromium"
#define GO	 "/usr/bin/go"

struct out {
	int wstatus;
	char *out, *err;
	size_t len;
};

static void out_free(struct out *o)
{
	free(o->out);
	free(o->err);
}

/* argv (NULL-terminated) with stdout and stderr captured. */
static void spawn_capture(struct out *o, char *const argv[])
{
	char op[PATH_MAX], ep[PATH_MAX];

	itest_tmpfile(op, sizeof(op));
	itest_tmpfile(ep, sizeof(ep));
	o->wstatus = itest_spawn(argv, op, ep);
	o->out = itest_slurp(op, &o->len);
	o->err = itest_slurp(ep, NULL);
	unlink(op);
	unlink(ep);
	cr_assert(o->out && o->err);
}

/* `build/prestanda flame ARGS...`, expecting exit status want. */
static void flame(struct out *o, int want, const char *const *args)
{
	char *argv[ITEST_MAX_ARGS] = {ITEST_PRESTANDA, "flame"};
	int n = 2;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	spawn_capture(o, argv);
	cr_assert(WIFEXITED(o->wstatus) && WEXITSTATUS(o->wstatus) == want,
		  "prestanda flame %s (want exit %d): %s", itest_wdesc(o->wstatus), want, o->err);
}

/* `node tests/js/SCRIPT ARGS...`, which must exit 0; returns its stdout. */
static char *node(const char *script, const char *const *args)
{
	char path[PATH_MAX], *argv[ITEST_MAX_ARGS] = {"/usr/bin/env", "node", path};
	struct out o;
	int n = 3;

	snprintf(path, sizeof(path), JS_DIR "%s", script);
	cr_assert(access(JS_DIR "node_modules", F_OK) == 0,
		  "tests/js/node_modules missing: run scripts/js-deps.sh");
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	spawn_capture(&o, argv);
	cr_assert(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0, "node %s %s: %s%s", script,
		  itest_wdesc(o.wstatus), o.out, o.err);
	free(o.err);
	return o.out;
}

/* `go tool pprof ARGS...` (Debian's golang-go), which must exit 0; returns its stdout. */
static char *go_pprof(const char *const *args)
{
	char *argv[ITEST_MAX_ARGS] = {GO, "tool", "pprof"};
	struct out o;
	int n = 3;

	cr_assert(access(GO, X_OK) == 0, GO " missing: run scripts/install-deps.sh");
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	spawn_capture(&o, argv);
	cr_assert(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0, "go tool pprof %s: %s%s",
		  itest_wdesc(o.wstatus), o.out, o.err);
	free(o.err);
	return o.out;
}

/* go tool pprof -raw's mappings: the first is the program's (named by
 * suffix), and every one has a file and a 40-digit GNU build id. */
static void expect_raw_mappings(const char *raw, const char *suffix)
{
	const char *m = strstr(raw, "\nMappings\n");
	int n = 0;

	cr_assert(m, "%s", raw);
	for (m += strlen("\nMappings\n"); *m && *m != '\n';) {
		const char *e = strchr(m, '\n'), *path;
		char line[1024];

		/* "N: START/LIMIT/OFFSET FILE BUILDID [FLAGS]" */
		snprintf(line, sizeof(line), "%.*s", (int)(e ? e - m : (long)strlen(m)), m);
		path = strchr(line, ' ');
		path = path ? strchr(path + 1, ' ') : NULL;
		cr_assert(path, "%s", line);
		path++;
		if (n++ == 0)
			cr_expect(!strncmp(line, "1: ", 3) && strstr(line, suffix), "first: %s", line);
		cr_expect(*path == '/', "no file: %s", line);
		path = strchr(path, ' ');
		cr_expect(path && strspn(path + 1, "0123456789abcdef") == 40, "no build id: %s",
			  line);
		m = e ? e + 1 : m + strlen(m);
	}
	cr_expect_gt(n, 1, "%s", raw);
}

/* The line of s that starts with prefix (asserting there is one); copied. */
static char *line_starting(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, n)) {
			const char *e = strchr(p, '\n');

			return strndup(p, e ? (size_t)(e - p) : strlen(p));
		}
	cr_assert_fail("no line starts with '%s' in:\n%s", prefix, s);
	return NULL;
}

/* Line number of the first line of tests/targets/SRC holding text. */
static int source_line(const char *src, const char *text)
{
	char path[PATH_MAX], *s, *p;
	int line = 1;

	snprintf(path, sizeof(path), ITEST_SOURCES "%s", src);
	s = itest_slurp(path, NULL);
	cr_assert(s);
	p = strstr(s, text);
	cr_assert(p, "'%s' not in %s", text, src);
	for (char *q = s; q < p; q++)
		line += *q == '\n';
	free(s);
	return line;
}

/* One folded line parsed with speedscope's pattern `^(.*) (\d+)$`. */
struct folded {
	char stack[4096];
	long long count;
};

/* Parse every line; returns how many; asserts each matches. */
static int parse_folded(const char *s, struct folded *v, int max)
{
	regex_t re;
	regmatch_t m[3];
	int n = 0;

	cr_assert_eq(regcomp(&re, "^(.*) ([0-9]+)$", REG_EXTENDED), 0);
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '\n');
		char line[4200];
		size_t len = e ? (size_t)(e - p) : strlen(p);

		cr_assert(len < sizeof(line) && n < max);
		memcpy(line, p, len);
		line[len] = 0;
		cr_assert_eq(regexec(&re, line, 3, m, 0), 0, "folded line does not parse: '%s'",
			     line);
		snprintf(v[n].stack, sizeof(v[n].stack), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
			 line + m[1].rm_so);
		v[n++].count = atoll(line + m[2].rm_so);
		p = e ? e + 1 : p + len;
	}
	regfree(&re);
	return n;
}

/* The count of the one folded stack whose leaf is fn (-1: none). */
static long long folded_leaf(const struct folded *v, int n, const char *fn, const char **stack)
{
	long long c = -1;

	for (int i = 0; i < n; i++) {
		const char *leaf = strrchr(v[i].stack, ';');

		leaf = leaf ? leaf + 1 : v[i].stack;
		if (strcmp(leaf, fn))
			continue;
		cr_assert_eq(c, -1, "two folded stacks end in %s", fn);
		c = v[i].count;
		if (stack)
			*stack = v[i].stack;
	}
	return c;
}

/* A --full trace of alloc_known, kept for the whole suite run. */
static struct itest_run known;

static void known_init(void)
{
	itest_run(&known, (const char *[]){"--full", NULL}, "alloc_known", NULL);
	cr_assert_eq(known.ntraces, 1, "run: %s", known.err);
}

static void known_fini(void)
{
	itest_cleanup(&known);
}

TestSuite(flame, .init = known_init, .fini = known_fini, .timeout = 120);

Test(flame, folded_alloc_known_exact)
{
	static struct folded v[64];
	const char *stack = NULL;
	struct out o;
	long long sum = 0;
	int n;

	flame(&o, 0, (const char *[]){"--format", "folded", known.traces[0], NULL});
	n = parse_folded(o.out, v, 64);
	cr_expect_eq(n, 10, "%s", o.out);
	for (int i = 0; i < n; i++)
		sum += v[i].count;
	cr_expect_eq(sum, 119500); /* bytes of every allocation in alloc_known.c */
	cr_expect_eq(folded_leaf(v, n, "make_small", &stack), 24000);
	cr_assert(stack);
	cr_expect(itest_has_suffix(stack, ";main;make_small"), "stack '%s'", stack);
	cr_expect(!strncmp(stack, "_start;", 7), "root first: '%s'", stack);
	cr_expect_eq(folded_leaf(v, n, "grow_chain", NULL), 66560);
	out_free(&o);

	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "alloc-calls", known.traces[0], NULL});
	n = parse_folded(o.out, v, 64);
	cr_expect_eq(folded_leaf(v, n, "make_small", NULL), 1000);
	cr_expect_eq(folded_leaf(v, n, "make_calloc", NULL), 50);
	out_free(&o);

	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "leaked-bytes", known.traces[0], NULL});
	n = parse_folded(o.out, v, 64);
	cr_expect_eq(n, 1, "%s", o.out);
	cr_expect_eq(folded_leaf(v, n, "leak_ten", NULL), 1000);
	out_free(&o);

	/* Peak heap: the leaked blocks and pvalloc's page. */
	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "peak-bytes", known.traces[0], NULL});
	n = parse_folded(o.out, v, 64);
	cr_expect_eq(n, 2, "%s", o.out);
	cr_expect_eq(folded_leaf(v, n, "leak_ten", NULL), 1000);
	cr_expect_eq(folded_leaf(v, n, "do_pvalloc", NULL), 8192);
	out_free(&o);

	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "temporary", known.traces[0], NULL});
	n = parse_folded(o.out, v, 64);
	cr_expect_eq(folded_leaf(v, n, "make_small", NULL), 1000);
	cr_expect_eq(folded_leaf(v, n, "leak_ten", NULL), -1);
	out_free(&o);
}

Test(flame, metric_the_trace_lacks)
{
	struct out o;

	flame(&o, 2, (const char *[]){"--metric", "cpu", known.traces[0], NULL});
	cr_expect(strstr(o.err, "this trace has no cpu data; it has: alloc-bytes, alloc-calls, "
				"peak-bytes, leaked-bytes, temporary\n"),
		  "%s", o.err);
	cr_expect_eq(o.len, 0);
	out_free(&o);
	flame(&o, 2, (const char *[]){"--metric", "bogus", known.traces[0], NULL});
	cr_expect(strstr(o.err, "unknown metric 'bogus'"), "%s", o.err);
	out_free(&o);
	flame(&o, 2, (const char *[]){"-f", "pprof", known.traces[0], known.traces[0], NULL});
	cr_expect(strstr(o.err, "differential graph is written as svg or folded"), "%s", o.err);
	out_free(&o);
	flame(&o, 1, (const char *[]){"/nonexistent.trace", NULL});
	out_free(&o);
}

Test(flame, pprof_read_by_pprof_format)
{
	char path[PATH_MAX], want[256], *s, *line;
	struct out o;

	snprintf(path, sizeof(path), "%s/p.pb.gz", known.dir);
	flame(&o, 0, (const char *[]){"-f", "pprof", "-o", path, known.traces[0], NULL});
	out_free(&o);
	s = node("pprof-dump.js", (const char *[]){path, NULL});
	cr_expect(strstr(s, "string0 \"\"\n"), "%s", s);
	/* Go's four heap types, the metric's the default (period_type) */
	cr_expect(strstr(s, "\nsample_type alloc_objects count\nsample_type alloc_space bytes\n"
			    "sample_type inuse_objects count\nsample_type inuse_space bytes\n"
			    "period_type alloc_space bytes\n"),
		  "%s", s);
	cr_expect(strstr(s, "\nperiod 1 duration "), "%s", s);
	cr_expect(!strstr(s, "duration 0 "), "%s", s);
	line = line_starting(s, "mapping 1 ");
	cr_expect(strstr(line, "/alloc_known build_id "), "the program first: %s", line);
	free(line);
	/* The target's mapping carries its 20-byte GNU build id. */
	line = strstr(s, "/alloc_known build_id ");
	cr_assert(line, "%s", s);
	cr_expect_eq(strspn(line + strlen("/alloc_known build_id "), "0123456789abcdef"), 40, "%s",
		     s);
	cr_expect(strstr(line, " functions true lines true\n") ==
		      strchr(line, '\n') - strlen(" functions true lines true"),
		  "%s", s);
	/* The known site, leaf first, with its line and the function's start line. */
	line = line_starting(s, "sample 1000,24000,0,0 make_small@");
	snprintf(want, sizeof(want), "alloc_known.c:%d/start=%d <- main@",
		 itest_marker_line("alloc_known.c", "make_small"),
		 source_line("alloc_known.c", "void make_small(void)"));
	cr_expect(strstr(line, want), "want '%s' in '%s'", want, line);
	cr_expect(strstr(line, "<- _start@"), "%s", line);
	free(line);
	free(s);

	flame(&o, 0,
	      (const char *[]){"-f", "pprof", "-m", "alloc-calls", "-o", path, known.traces[0],
			       NULL});
	out_free(&o);
	s = node("pprof-dump.js", (const char *[]){path, NULL});
	cr_expect(strstr(s, "\nperiod_type alloc_objects count\n"), "%s", s);
	line = line_starting(s, "sample 1000,24000,0,0 make_small@");
	free(line);
	line = line_starting(s, "sample 50,8000,0,0 make_calloc@");
	free(line);
	line = line_starting(s, "sample 10,1000,10,1000 leak_ten@");
	free(line);
	free(s);
}

Test(flame, pprof_sampled_period)
{
	struct itest_run r;
	char path[PATH_MAX], *s;
	struct out o;

	itest_run(&r, (const char *[]){"--sample-bytes", "4096", NULL}, "alloc_known", NULL);
	cr_assert_eq(r.ntraces, 1);
	snprintf(path, sizeof(path), "%s/p.pb.gz", r.dir);
	flame(&o, 0, (const char *[]){"-f", "pprof", "-o", path, r.traces[0], NULL});
	out_free(&o);
	s = node("pprof-dump.js", (const char *[]){path, NULL});
	cr_expect(strstr(s, "\nperiod 4096 duration "), "%s", s);
	free(s);
	itest_cleanup(&r);
}

/* go tool pprof reads the heap profile as Go's: named after the program,
 * each of the four types by -sample_index with alloc_known's exact bytes. */
Test(flame, pprof_in_go_tool_pprof, .timeout = 120)
{
	static const struct {
		const char *index, *total, *leaf;
	} types[] = {
	    {"alloc_space", "Total samples = 119500B \n", "    24000B 20.08% 75.78%     24000B 20.08%  make_small\n"},
	    {"alloc_objects", "Total samples = 1130 \n", "      1000 88.50% 88.50%       1000 88.50%  make_small\n"},
	    {"inuse_space", "Total samples = 1000B \n", "     1000B   100%   100%      1000B   100%  leak_ten\n"},
	    {"inuse_objects", "Total samples = 10 \n", "        10   100%   100%         10   100%  leak_ten\n"},
	};
	char path[PATH_MAX], index[64], *s;
	struct out o;

	snprintf(path, sizeof(path), "%s/go.pb.gz", known.dir);
	flame(&o, 0, (const char *[]){"-f", "pprof", "-o", path, known.traces[0], NULL});
	out_free(&o);
	s = go_pprof((const char *[]){"-top", path, NULL});
	cr_expect(!strncmp(s, "File: alloc_known\nBuild ID: ", 28), "%s", s);
	cr_expect(strstr(s, "\nType: alloc_space\n"), "%s", s);
	free(s);
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		snprintf(index, sizeof(index), "-sample_index=%s", types[i].index);
		/* bytes in bytes, not kB; counts as they are */
		s = go_pprof((const char *[]){index, strstr(index, "space") ? "-unit=B" : "-top",
					      "-top", path, NULL});
		cr_expect(strstr(s, types[i].total), "%s: %s", index, s);
		cr_expect(strstr(s, types[i].leaf), "%s: %s", index, s);
		free(s);
	}
	s = go_pprof((const char *[]){"-raw", path, NULL});
	cr_expect(strstr(s, "\nalloc_objects/count alloc_space/bytes[dflt] inuse_objects/count "
			    "inuse_space/bytes\n"),
		  "%s", s);
	cr_expect(strstr(s, "\n         10       1000         10       1000: "), "%s", s);
	expect_raw_mappings(s, "/alloc_known ");
	free(s);
}

Test(flame, speedscope_valid_by_schema)
{
	char path[PATH_MAX], want[512], *s, *line;
	struct out o;

	snprintf(path, sizeof(path), "%s/s.json", known.dir);
	flame(&o, 0, (const char *[]){"-f", "speedscope", "-o", path, known.traces[0], NULL});
	out_free(&o);
	s = node("speedscope-check.js", (const char *[]){path, NULL});
	cr_expect(itest_has_suffix(s, "\nvalid\n"), "%s", s);
	cr_expect(strstr(s, "profile sampled bytes 0 119500 samples 10\n"), "%s", s);
	line = line_starting(s, "sample 24000 _start@");
	snprintf(want, sizeof(want),
		 ";main@tests/targets/alloc_known.c:%d;make_small@tests/targets/alloc_known.c:%d",
		 source_line("alloc_known.c", "int main(void)"),
		 source_line("alloc_known.c", "void make_small(void)"));
	cr_expect(itest_has_suffix(line, want), "want '%s' at the end of '%s'", want, line);
	free(line);
	/* Heaviest first below main: speedscope's default "Time Order" view
	 * then draws what its "Left Heavy" would. */
	line = line_starting(s, "sample ");
	cr_expect(strstr(line, "sample 66560 ") == line && strstr(line, ";grow_chain@"), "%s", s);
	free(line);
	{
		long long last = LLONG_MAX, w;

		for (const char *p = strstr(s, "\nsample "); p; p = strstr(p + 1, "\nsample ")) {
			w = atoll(p + 8);
			cr_expect_leq(w, last, "not heaviest first: %s", s);
			last = w;
		}
	}
	free(s);
	/* speedscope's own importer, in Chromium, opens it without a complaint */
	s = node("speedscope-browser.js", (const char *[]){path, NULL});
	cr_expect_str_eq(s, "title alloc_known: alloc-bytes\nview Time Order\nshown \nlist \nerrors 0\n");
	free(s);
}

Test(flame, svg_well_formed_and_interactive)
{
	char path[PATH_MAX], *s;
	struct out o;

	snprintf(path, sizeof(path), "%s/f.svg", known.dir);
	flame(&o, 0, (const char *[]){known.traces[0], "-o", path, NULL});
	out_free(&o);
	spawn_capture(&o, (char *[]){"/usr/bin/xmllint", "--noout", path, NULL});
	cr_expect_eq(o.wstatus, 0, "xmllint: %s", o.err);
	out_free(&o);
	s = itest_slurp(path, NULL);
	cr_assert(s);
	cr_expect(strstr(s, ">alloc_known: alloc-bytes</text>"), "title");
	cr_expect(strstr(s, "bytes allocated: total 119,500 bytes</text>"), "totals");
	cr_expect(strstr(s, "<script><![CDATA["));
	cr_expect(strstr(s, "function zoom(") && strstr(s, "function search("));
	cr_expect(strstr(s, ">Search</text>") && strstr(s, ">Reset zoom</text>"));
	cr_expect(strstr(s, "data-n=\"make_small\" data-v=\"24000\""));
	/* Self-contained: nothing fetched from anywhere. */
	cr_expect(!strstr(s, "href") && !strstr(s, "src=") && !strstr(s, "@import"));
	free(s);
}

Test(flame, output_is_deterministic)
{
	static const char *const fmts[] = {"svg", "folded", "speedscope", "pprof"};

	for (int i = 0; i < 4; i++) {
		char a[PATH_MAX], b[PATH_MAX], *x, *y;
		size_t lx, ly;
		struct out o;

		snprintf(a, sizeof(a), "%s/d1.%s", known.dir, fmts[i]);
		snprintf(b, sizeof(b), "%s/d2.%s", known.dir, fmts[i]);
		flame(&o, 0, (const char *[]){"-f", fmts[i], "-o", a, known.traces[0], NULL});
		out_free(&o);
		flame(&o, 0, (const char *[]){"-f", fmts[i], "-o", b, known.traces[0], NULL});
		out_free(&o);
		x = itest_slurp(a, &lx);
		y = itest_slurp(b, &ly);
		cr_assert(x && y);
		cr_expect(lx > 0 && lx == ly && !memcmp(x, y, lx), "%s differs between runs",
			  fmts[i]);
		free(x);
		free(y);
	}
}

/* BASE runs grows(100), NEW grows(300); steady() is the same in both. */
struct diff_runs {
	struct itest_run base, now;
};

static void diff_runs(struct diff_runs *d)
{
	itest_run(&d->base, (const char *[]){"--full", NULL}, "flame_diff",
		  (const char *[]){"100", NULL});
	itest_run(&d->now, (const char *[]){"--full", NULL}, "flame_diff",
		  (const char *[]){"300", NULL});
	cr_assert(d->base.ntraces == 1 && d->now.ntraces == 1);
}

Test(flame, differential_folded)
{
	struct diff_runs d;
	struct out o;
	char *line;

	diff_runs(&d);
	flame(&o, 0, (const char *[]){"-f", "folded", d.base.traces[0], d.now.traces[0], NULL});
	cr_expect_eq(itest_lines(o.out), 2, "%s", o.out);
	line = strstr(o.out, ";main;grows ");
	cr_assert(line, "%s", o.out);
	cr_expect(!strncmp(line, ";main;grows 10000 30000\n", 24), "%s", o.out);
	cr_expect(strstr(o.out, ";main;steady 10000 10000\n"), "%s", o.out);
	out_free(&o);
	itest_cleanup(&d.base);
	itest_cleanup(&d.now);
}

/* The fill of the frame named fn in svg. */
static unsigned svg_fill(const char *svg, const char *fn, char *base, size_t blen)
{
	char key[128];
	const char *p, *f, *b;

	snprintf(key, sizeof(key), "data-n=\"%s\"", fn);
	p = strstr(svg, key);
	cr_assert(p, "no frame %s", fn);
	f = strstr(p, "fill=\"#");
	b = strstr(p, "data-b=\"");
	cr_assert(f && b);
	snprintf(base, blen, "%.*s", (int)strcspn(b + 8, "\""), b + 8);
	return (unsigned)strtoul(f + 7, NULL, 16);
}

Test(flame, differential_svg_colours)
{
	struct diff_runs d;
	char path[PATH_MAX], base[32], *s;
	unsigned c;
	struct out o;

	diff_runs(&d);
	snprintf(path, sizeof(path), "%s/diff.svg", d.now.dir);
	flame(&o, 0, (const char *[]){d.base.traces[0], d.now.traces[0], "-o", path, NULL});
	out_free(&o);
	s = itest_slurp(path, NULL);
	cr_assert(s);
	cr_expect(strstr(s, ">flame_diff: alloc-bytes (differential)</text>"));
	cr_expect(strstr(s, "base 20,000, new 40,000 bytes (+100.0%)"), "subtitle");
	/* Width from NEW; grows tripled: red (red channel above blue). */
	cr_expect(strstr(s, "data-n=\"grows\" data-v=\"30000\""));
	c = svg_fill(s, "grows", base, sizeof(base));
	cr_expect_str_eq(base, "10000");
	cr_expect((c >> 16) > (c & 0xff) + 40, "grows fill #%06x is not red", c);
	/* steady did not change: neutral grey. */
	c = svg_fill(s, "steady", base, sizeof(base));
	cr_expect_eq(c >> 16, c & 0xff, "steady fill #%06x is not grey", c);
	free(s);

	/* Normalized: BASE doubled to NEW's total, so steady shrank (blue). */
	flame(&o, 0,
	      (const char *[]){"--normalize", d.base.traces[0], d.now.traces[0], "-o", path, NULL});
	out_free(&o);
	s = itest_slurp(path, NULL);
	c = svg_fill(s, "steady", base, sizeof(base));
	cr_expect_str_eq(base, "20000");
	cr_expect((c & 0xff) > (c >> 16) + 40, "steady fill #%06x is not blue", c);
	c = svg_fill(s, "grows", base, sizeof(base));
	cr_expect_str_eq(base, "20000");
	cr_expect((c >> 16) > (c & 0xff) + 40, "grows fill #%06x is not red", c);
	free(s);
	spawn_capture(&o, (char *[]){"/usr/bin/xmllint", "--noout", path, NULL});
	cr_expect_eq(o.wstatus, 0, "xmllint: %s", o.err);
	out_free(&o);
	itest_cleanup(&d.base);
	itest_cleanup(&d.now);
}

Test(flame, svg_in_headless_chromium, .timeout = 180)
{
	char path[PATH_MAX], shot[PATH_MAX], *s;
	struct out o;

	if (access(CHROMIUM, X_OK))
		cr_skip_test("no %s: the browser test did not run", CHROMIUM);
	snprintf(path, sizeof(path), "%s/b.svg", known.dir);
	snprintf(shot, sizeof(shot), "%s/b.png", known.dir);
	flame(&o, 0, (const char *[]){known.traces[0], "-o", path, NULL});
	out_free(&o);
	s = node("svg-browser.js", (const char *[]){path, "make_small", "^make_", shot, NULL});
	cr_expect(strstr(s, "title alloc_known: alloc-bytes\n"), "%s", s);
	/* make_small holds 24000 of 119500 bytes of a 1180 px wide graph. */
	cr_expect(strstr(s, "\nbefore 236.99\n"), "%s", s);
	cr_expect(strstr(s, "\ntooltip make_small: 24,000 bytes (20.08%)\n"), "%s", s);
	cr_expect(strstr(s, "\nzoomed 1180.00\n"), "%s", s);
	cr_expect(strstr(s, "\nreset_visible true\n"), "%s", s);
	/* make_small and make_calloc: (24000 + 8000) / 119500. */
	cr_expect(strstr(s, "\nhighlighted 2\n"), "%s", s);
	cr_expect(strstr(s, "\nmatched Matched: 26.8% (2 frames)\n"), "%s", s);
	cr_expect(strstr(s, "\nunzoomed 236.99\n"), "%s", s);
	cr_expect(strstr(s, "\nerrors 0 requests 0\n"), "%s", s);
	cr_expect(access(shot, F_OK) == 0);
	free(s);
}

/* ---- folded stacks read back ---- */

/* `flame -f folded IN` (one or two inputs) must give exactly want. */
static void folded_of(const char *a, const char *b, const char *want)
{
	struct out o;

	flame(&o, 0, (const char *[]){"-f", "folded", a, b, NULL});
	cr_expect_str_eq(o.out, want);
	out_free(&o);
}

/* s written to a new file in dir; its path in path. */
static void write_in(char *path, size_t len, const char *dir, const char *name, const char *s)
{
	snprintf(path, len, "%s/%s", dir, name);
	itest_write(path, s, strlen(s));
}

Test(flame, folded_round_trip_is_byte_identical)
{
	struct diff_runs d;
	char path[PATH_MAX];
	struct out o;

	flame(&o, 0, (const char *[]){"-f", "folded", known.traces[0], NULL});
	cr_assert_gt(o.len, 0);
	write_in(path, sizeof(path), known.dir, "rt.folded", o.out);
	folded_of(path, NULL, o.out);
	out_free(&o);

	/* A differential: two counts a line are BASE and NEW. */
	diff_runs(&d);
	flame(&o, 0, (const char *[]){"-f", "folded", d.base.traces[0], d.now.traces[0], NULL});
	write_in(path, sizeof(path), known.dir, "rtd.folded", o.out);
	folded_of(path, NULL, o.out);
	out_free(&o);
	itest_cleanup(&d.base);
	itest_cleanup(&d.now);
}

Test(flame, folded_hand_written)
{
	char a[PATH_MAX], b[PATH_MAX], svg[PATH_MAX], *s;
	struct out o;

	/* Unsorted, a repeated stack, names with spaces, colons (a `;` the
	 * writer replaced), an unresolved frame, kernel frames, no stack, CRLF. */
	write_in(a, sizeof(a), known.dir, "hand.folded",
		 "main;parse:args;[libfoo.so+0x1a2b] 5\n"
		 "main;do work(int, char*) 7\r\n"
		 "main;sys_read_[k];vfs_read_[k] 3\n"
		 "\n"
		 "main;do work(int, char*) 1\n"
		 "[no stack] 2");
	folded_of(a, NULL,
		  "[no stack] 2\n"
		  "main;do work(int, char*) 8\n"
		  "main;parse:args;[libfoo.so+0x1a2b] 5\n"
		  "main;sys_read_[k];vfs_read_[k] 3\n");
	snprintf(svg, sizeof(svg), "%s/hand.svg", known.dir);
	flame(&o, 0, (const char *[]){a, "-o", svg, NULL});
	out_free(&o);
	s = itest_slurp(svg, NULL);
	cr_assert(s);
	cr_expect(strstr(s, ">hand.folded: samples</text>"), "title");
	cr_expect(strstr(s, "samples: total 18</text>"), "totals");
	/* Kinds: own code, kernel (k2), unresolved (k3). */
	cr_expect(strstr(s, "class=\"f k0\" data-n=\"do work(int, char*)\" data-v=\"8\""));
	cr_expect(strstr(s, "class=\"f k2\" data-n=\"vfs_read\" data-v=\"3\""));
	cr_expect(strstr(s, "class=\"f k3\" data-n=\"[libfoo.so+0x1a2b]\" data-v=\"5\""));
	free(s);

	/* Two folded files: a differential, widths from the second. */
	write_in(b, sizeof(b), known.dir, "hand2.folded",
		 "main;do work(int, char*) 20\nmain;new_path 4\n");
	folded_of(a, b,
		  "[no stack] 2 0\n"
		  "main;do work(int, char*) 8 20\n"
		  "main;new_path 0 4\n"
		  "main;parse:args;[libfoo.so+0x1a2b] 5 0\n"
		  "main;sys_read_[k];vfs_read_[k] 3 0\n");
	/* --metric names what the counts are. */
	flame(&o, 0, (const char *[]){"-m", "cpu", a, "-o", svg, NULL});
	out_free(&o);
	s = itest_slurp(svg, NULL);
	cr_expect(strstr(s, ">hand.folded: cpu</text>"), "title");
	free(s);
}

Test(flame, folded_bad_input_names_the_line)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
	    {"a;b 1\na;c\n", "bad.folded:2: no count at the end (want `frame;...;frame COUNT`)\n"},
	    {"a;b 1\n\na;;c 3\n", "bad.folded:3: empty frame name between semicolons\n"},
	    {"a;b -4\n", "bad.folded:1: no count at the end (want `frame;...;frame COUNT`)\n"},
	    {"a 99999999999999999999\n", "bad.folded:1: count out of range\n"},
	    {"a 1\n 2\n", "bad.folded:2: no stack before the count\n"},
	    {"a;b;; 1\n", "bad.folded:1: empty frame name between semicolons\n"},
	    {"a;b 1.\n", "bad.folded:1: no count at the end (want `frame;...;frame COUNT`)\n"},
	};
	char path[PATH_MAX], want[PATH_MAX + 128];
	struct out o;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		write_in(path, sizeof(path), known.dir, "bad.folded", cases[i].text);
		flame(&o, 2, (const char *[]){"-f", "folded", path, NULL});
		snprintf(want, sizeof(want), "prestanda: %s/%s", known.dir, cases[i].err);
		cr_expect_str_eq(o.err, want, "case %zu", i);
		cr_expect_eq(o.len, 0);
		out_free(&o);
	}
	/* A trace with folded stacks cannot be compared. */
	write_in(path, sizeof(path), known.dir, "ok.folded", "a 1\n");
	flame(&o, 2, (const char *[]){known.traces[0], path, NULL});
	cr_expect_str_eq(o.err, "prestanda: flame: cannot compare a trace with folded stacks\n");
	out_free(&o);
}

/* `PROG ARGS...` must exit 0 (its output dropped). */
static void run_ok(char *const argv[])
{
	struct out o;

	spawn_capture(&o, argv);
	cr_assert(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0, "%s %s: %s", argv[0],
		  itest_wdesc(o.wstatus), o.err);
	out_free(&o);
}

/* The sum of the counts of a heaptrack_print -F file (`a;b; COUNT` lines). */
static long long folded_file_total(const char *path)
{
	char *s = itest_slurp(path, NULL);
	long long sum = 0;

	cr_assert(s);
	for (char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char *e = strchr(p, '\n'), *sp;

		if (e)
			*e = 0;
		sp = strrchr(p, ' ');
		cr_assert(sp && sp > p && sp[-1] == ';', "not heaptrack's form: '%s'", p);
		sum += atoll(sp + 1);
		if (e)
			*e = '\n';
	}
	free(s);
	return sum;
}

/* heaptrack's own flame graph output (heaptrack_print -F: a `;` before the
 * count, stacks repeated, stacks of no cost as 0) read back with its exact
 * counts: alloc_known's calls, then its leak. */
Test(flame, folded_from_heaptrack_print, .timeout = 120)
{
	static struct folded v[256];
	char ht[PATH_MAX], data[PATH_MAX + 8], calls[PATH_MAX + 16], leaked[PATH_MAX + 16];
	const char *stack = NULL;
	long long sum = 0;
	struct out o;
	int n;

	snprintf(ht, sizeof(ht), "%s/ht", known.dir);
	snprintf(data, sizeof(data), "%s.zst", ht);
	snprintf(calls, sizeof(calls), "%s.calls", ht);
	snprintf(leaked, sizeof(leaked), "%s.leaked", ht);
	run_ok((char *[]){"/usr/bin/heaptrack", "-o", ht, ITEST_TARGETS "alloc_known", NULL});
	run_ok((char *[]){"/usr/bin/heaptrack_print", "-f", data, "-F", calls, NULL});
	run_ok((char *[]){"/usr/bin/heaptrack_print", "-f", data, "-F", leaked,
			  "--flamegraph-cost-type", "leaked", NULL});
	flame(&o, 0, (const char *[]){"-f", "folded", calls, NULL});
	n = parse_folded(o.out, v, 256);
	for (int i = 0; i < n; i++)
		sum += v[i].count;
	cr_expect_eq(sum, folded_file_total(calls));
	cr_expect_eq(folded_leaf(v, n, "make_small (alloc_known.c)", &stack), 1000, "%s", o.out);
	cr_expect_str_eq(stack, "main (alloc_known.c);make_small (alloc_known.c)");
	cr_expect_eq(folded_leaf(v, n, "grow_chain (alloc_known.c)", NULL), 64, "%s", o.out);
	cr_expect_eq(folded_leaf(v, n, "make_calloc (alloc_known.c)", NULL), 50, "%s", o.out);
	out_free(&o);
	flame(&o, 0, (const char *[]){"-f", "folded", leaked, NULL});
	cr_expect_str_eq(o.out, "main (alloc_known.c);leak_ten (alloc_known.c) 1000\n");
	out_free(&o);
	flame(&o, 0, (const char *[]){"-o", data, calls, NULL});
	out_free(&o);
}

/* What flamegraph.pl takes besides: comment lines and fractional counts,
 * rounded so that the total is the rounded sum. */
Test(flame, folded_comments_and_fractions)
{
	char path[PATH_MAX];
	struct out o;

	write_in(path, sizeof(path), known.dir, "frac.folded",
		 "# a comment\na;b 1.5\n#a;b 7\na;c 2.25\na;d 0.25\n");
	flame(&o, 0, (const char *[]){"-f", "folded", path, NULL});
	cr_expect_str_eq(o.out, "a;b 2\na;c 2\n");
	out_free(&o);
}

/* C++ names past a kilobyte come out whole (a cut leaves brackets
 * unbalanced); --shorten-templates drops template arguments as
 * heaptrack_print -t does, and keeps operator< and operator<<. */
Test(flame, long_names_whole_and_shortened)
{
	char name[4096] = "ns::Holder<std::pair<", text[4400], want[4400], path[PATH_MAX];
	struct out o;

	for (int i = 0; i < 30; i++)
		strcat(name, i ? ", std::vector<int, std::allocator<int> >"
			       : "std::vector<int, std::allocator<int> >");
	strcat(name, "> >::operator<(ns::Holder<int> const&)");
	cr_assert_gt(strlen(name), 1200);
	snprintf(text, sizeof(text), "main;%s 5\nmain;bool operator<< <char>(Foo<char>&) 1\n", name);
	write_in(path, sizeof(path), known.dir, "long.folded", text);
	flame(&o, 0, (const char *[]){"-f", "folded", path, NULL});
	snprintf(want, sizeof(want), "main;bool operator<< <char>(Foo<char>&) 1\nmain;%s 5\n", name);
	cr_expect_str_eq(o.out, want);
	out_free(&o);
	flame(&o, 0, (const char *[]){"-f", "folded", "--shorten-templates", path, NULL});
	cr_expect_str_eq(o.out, "main;bool operator<< <>(Foo<>&) 1\n"
				"main;ns::Holder<>::operator<(ns::Holder<> const&) 5\n");
	out_free(&o);
}

/* ---- metrics of threads, network and CPU ---- */

/* The report's object in array (at path) whose key holds a string starting with prefix. */
static json_t *json_find(json_t *j, const char *path, const char *key, const char *prefix)
{
	json_t *a = itest_get(j, path), *e;
	size_t i;

	json_array_foreach(a, i, e) {
		const char *v = json_string_value(json_object_get(e, key));

		if (v && !strncmp(v, prefix, strlen(prefix)))
			return e;
	}
	return NULL;
}

Test(flame, lock_wait_per_waiting_stack)
{
	static struct folded v[16];
	struct itest_report rep;
	struct itest_run r;
	const char *stack = NULL;
	char fn[128];
	json_t *j, *l;
	struct out o;
	size_t i;
	int n, nfound = 0;

	itest_run(&r, NULL, "thr_locks", NULL);
	cr_assert_eq(r.ntraces, 1, "run: %s", r.err);
	j = itest_report_ok(&rep, r.traces[0]);
	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "lock-wait", r.traces[0], NULL});
	n = parse_folded(o.out, v, 16);
	/* The two contended mutexes; semaphore and condition waits are idle time. */
	cr_expect_eq(n, 2, "%s", o.out);
	json_array_foreach(itest_get(j, "locks"), i, l) {
		json_t *w = json_array_get(json_object_get(l, "waiting_stacks"), 0);
		const char *leaf = w ? json_string_value(json_array_get(itest_get(w, "stack"), 0)) : NULL;

		if (!leaf || strcmp(itest_str(l, "kind"), "mutex"))
			continue;
		/* Each waiting stack's total, exactly as the report has it. */
		snprintf(fn, sizeof(fn), "%.*s", (int)strcspn(leaf, " "), leaf);
		cr_expect_eq(folded_leaf(v, n, fn, &stack), itest_int(w, "wait_ns"), "%s: %s", fn,
			     o.out);
		nfound++;
		cr_expect(itest_has_suffix(stack, ";start_thread;hold_waiter") ||
			      itest_has_suffix(stack, ";start_thread;lock_worker"),
			  "no profiler frames in '%s'", stack);
	}
	cr_expect_eq(nfound, 2);
	cr_expect_geq(folded_leaf(v, n, "hold_waiter", NULL), 50000000);
	out_free(&o);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

Test(flame, connect_time_per_endpoint)
{
	struct itest_report rep;
	struct itest_run r;
	char want[256];
	json_t *j, *ep;
	struct out o;
	const char *port;

	itest_run(&r, NULL, "net_load", (const char *[]){"churn", "5", NULL});
	cr_assert_eq(r.ntraces, 1, "run: %s", r.err);
	port = strstr(r.out, "port=");
	cr_assert(port, "%s", r.out);
	j = itest_report_ok(&rep, r.traces[0]);
	snprintf(want, sizeof(want), "127.0.0.1:%d", atoi(port + 5));
	ep = json_find(j, "network.endpoints", "role", "client");
	cr_assert(ep);
	cr_expect_str_eq(itest_str(ep, "endpoint"), want);
	snprintf(want, sizeof(want), "net_load;127.0.0.1:%d %lld\n", atoi(port + 5),
		 itest_int(ep, "connect_ns.total"));
	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "connect-time", r.traces[0], NULL});
	cr_expect_str_eq(o.out, want);
	out_free(&o);
	itest_report_free(&rep);
	itest_cleanup(&r);
}

/* `prestanda record -o TRACE ARGS...` into a temporary trace. */
static void record(char *trace, size_t len, const char *const *args)
{
	char *argv[ITEST_MAX_ARGS] = {ITEST_PRESTANDA, "record", "-o", trace};
	struct out o;
	int n = 4;

	itest_tmpfile(trace, len);
	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	spawn_capture(&o, argv);
	cr_assert(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 0, "record: %s: %s",
		  itest_wdesc(o.wstatus), o.err);
	out_free(&o);
}

/* A record trace's pprof in go tool pprof: named after the program, every
 * mapping with its file and build id, samples times the period the CPU
 * time (total nanoseconds), and pid and tid labels on every sample. */
static void go_pprof_record(const char *path, long long total)
{
	long long samples = 0, ns = 0;
	char *s = go_pprof((const char *[]){"-raw", path, NULL}), *p;

	expect_raw_mappings(s, "/cpu_split ");
	p = strstr(s, "\nsamples/count cpu/nanoseconds[dflt]\n");
	cr_assert(p, "%s", s);
	for (p = strchr(p + 1, '\n') + 1; *p == ' ';) {
		long long a, b;

		cr_assert_eq(sscanf(p, "%lld %lld", &a, &b), 2, "%s", p);
		cr_expect_eq(a * 2004008, b, "%s", p);
		samples += a;
		ns += b;
		p = strchr(p, '\n') + 1;
		/* the labels come on the sample's following line */
		cr_expect(!strncmp(p, "                pid:[", 21) && strstr(p, "tid:["), "%.80s", p);
		if (!strncmp(p, "                pid:[", 21))
			p = strchr(p, '\n') + 1;
	}
	cr_expect_eq(ns, total);
	cr_expect_eq(samples * 2004008, total);
	free(s);
	s = go_pprof((const char *[]){"-top", path, NULL});
	cr_expect(!strncmp(s, "File: cpu_split\n", 16), "%s", s);
	free(s);
}

/* A record trace of cpu_split's two threads in speedscope: the whole, then
 * a profile for each thread, their totals the whole's; speedscope's
 * importer lists all three. */
static void speedscope_threads(const char *path, const char *trace, long long total)
{
	long long sum = 0, t;
	char want[256], *s, *p;
	struct out o;
	int n = 0;

	flame(&o, 0, (const char *[]){"-f", "speedscope", "-o", path, trace, NULL});
	out_free(&o);
	s = node("speedscope-check.js", (const char *[]){path, NULL});
	snprintf(want, sizeof(want), "profile sampled nanoseconds 0 %lld samples ", total);
	cr_expect(!strncmp(s, want, strlen(want)), "%s", s);
	for (p = strstr(s, "\nprofile sampled nanoseconds 0 "); p;
	     p = strstr(p + 1, "\nprofile sampled nanoseconds 0 ")) {
		cr_assert_eq(sscanf(p, "\nprofile sampled nanoseconds 0 %lld", &t), 1);
		sum += t;
		n++;
	}
	cr_expect_eq(n, 2, "%s", s);
	cr_expect_eq(sum, total, "%s", s);
	free(s);
	s = node("speedscope-browser.js", (const char *[]){path, NULL});
	cr_expect(strstr(s, "\nshown cpu_split: cpu (1/3)\nlist 1 | cpu_split: cpu | "), "%s", s);
	cr_expect_eq(itest_lines(s), 5, "%s", s);
	cr_expect(strstr(s, " tid "), "%s", s);
	cr_expect(itest_has_suffix(s, "\nerrors 0\n"), "%s", s);
	free(s);
}

Test(flame, cpu_is_the_default_for_a_record_trace, .timeout = 120)
{
	static struct folded v[256];
	char trace[PATH_MAX], path[PATH_MAX + 16], *s;
	long long hot = 0, cold = 0, all = 0, period = 1000000000 / 499;
	struct out o;
	int n;

	itest_need_ebpf(false);
	record(trace, sizeof(trace),
	       (const char *[]){"-F", "499", "--", ITEST_TARGETS "cpu_split", "2", NULL});
	flame(&o, 0, (const char *[]){"-f", "folded", trace, NULL});
	n = parse_folded(o.out, v, 256);
	for (int i = 0; i < n; i++) {
		/* Whole samples of 1/499 s each. */
		cr_expect_eq(v[i].count % period, 0, "%s %lld", v[i].stack, v[i].count);
		all += v[i].count;
		if (itest_has_suffix(v[i].stack, ";work;burn_hot"))
			hot += v[i].count;
		if (itest_has_suffix(v[i].stack, ";work;burn_cold"))
			cold += v[i].count;
	}
	/* burn_hot does 70% of the work, burn_cold 30%, in both threads. */
	cr_expect_gt(hot + cold, 0, "%s", o.out);
	cr_expect(hot * 100 > (hot + cold) * 60 && hot * 100 < (hot + cold) * 80,
		  "burn_hot %lld of %lld", hot, hot + cold);
	out_free(&o);

	snprintf(path, sizeof(path), "%s.pb.gz", trace);
	flame(&o, 0, (const char *[]){"-f", "pprof", "-o", path, trace, NULL});
	out_free(&o);
	s = node("pprof-dump.js", (const char *[]){path, NULL});
	cr_expect(strstr(s, "\nsample_type samples count\nsample_type cpu nanoseconds\n"
			    "period_type cpu nanoseconds\n"),
		  "%s", s);
	cr_expect(strstr(s, "\nperiod 2004008 duration "), "%s", s);
	free(line_starting(s, "sample "));
	free(s);
	go_pprof_record(path, all);
	speedscope_threads(path, trace, all);
	unlink(path);
	unlink(trace);
}

Test(flame, off_cpu_kernel_frames, .timeout = 60)
{
	static struct folded v[64];
	char trace[PATH_MAX], path[PATH_MAX + 16], *s;
	long long at = 0, want = 0;
	struct itest_report rep;
	json_t *j, *st;
	struct out o;
	size_t i;
	int n;

	itest_need_ebpf(true);
	record(trace, sizeof(trace),
	       (const char *[]){"--off-cpu", "--", ITEST_TARGETS "cpu_sleep", NULL});
	j = itest_report_ok(&rep, trace);
	json_array_foreach(itest_get(j, "cpu.off_cpu.stacks"), i, st) {
		json_t *fr;
		size_t k;

		json_array_foreach(json_object_get(st, "stack"), k, fr)
			if (!strncmp(json_string_value(fr), "wait_here ", 10)) {
				want += itest_int(st, "blocked_ns");
				break;
			}
	}
	flame(&o, 0, (const char *[]){"-f", "folded", "-m", "off-cpu", trace, NULL});
	n = parse_folded(o.out, v, 64);
	for (int i = 0; i < n; i++)
		if (strstr(v[i].stack, ";main;wait_here;")) {
			at += v[i].count;
			/* The kernel's side of the sleep, marked as kernel frames. */
			cr_expect(strstr(v[i].stack, ";schedule_[k]"), "%s", v[i].stack);
		}
	/* 10 sleeps of 100 ms in wait_here, as the report counts them. */
	cr_expect_eq(at, want, "flame %lld ns, report %lld ns", at, want);
	/* at least the 10 sleeps; at most 5 s, wide by design (a loaded
	 * machine oversleeps) and still far from a unit off by 1000 */
	cr_expect(at > 900000000 && at < 5000000000, "blocked in wait_here for %lld ns", at);
	out_free(&o);
	itest_report_free(&rep);

	snprintf(path, sizeof(path), "%s.svg", trace);
	flame(&o, 0, (const char *[]){"-m", "off-cpu", "-o", path, trace, NULL});
	out_free(&o);
	s = itest_slurp(path, NULL);
	cr_assert(s);
	cr_expect(strstr(s, "class=\"f k2\" data-n=\"schedule\""), "schedule is not a kernel frame");
	cr_expect(strstr(s, "class=\"f k0\" data-n=\"wait_here\""), "wait_here is not own code");
	free(s);
	unlink(path);
	unlink(trace);
}

/* ---- the command's habits ---- */

/* --version names the program and its version; a pprof never goes to a
 * terminal (script(1) gives the command one); -o makes the directories
 * above the file. */
Test(flame, version_terminal_and_directories)
{
	char *argv[] = {ITEST_PRESTANDA, "--version", NULL}, path[PATH_MAX + 64], cmd[PATH_MAX + 128];
	struct out o;

	spawn_capture(&o, argv);
	cr_expect_eq(o.wstatus, 0);
	cr_expect(!strncmp(o.out, "prestanda ", 10) && o.out[10] >= '0' && o.out[10] <= '9' &&
			  itest_lines(o.out) == 1,
		  "%s", o.out);
	out_free(&o);

	snprintf(cmd, sizeof(cmd), ITEST_PRESTANDA " flame -f pprof %s", known.traces[0]);
	spawn_capture(&o, (char *[]){"/usr/bin/script", "-qec", cmd, "/dev/null", NULL});
	cr_expect(WIFEXITED(o.wstatus) && WEXITSTATUS(o.wstatus) == 2, "%s", itest_wdesc(o.wstatus));
	cr_expect(strstr(o.out, "prestanda: flame: pprof output is gzip data; give -o FILE or "
				"redirect it\r\nTry 'prestanda flame --help'.\r\n"),
		  "%s", o.out);
	cr_expect(!memchr(o.out, 0x1f, o.len), "gzip bytes on the terminal");
	out_free(&o);

	snprintf(path, sizeof(path), "%s/new/dirs/f.svg", known.dir);
	flame(&o, 0, (const char *[]){"-o", path, known.traces[0], NULL});
	cr_expect_eq(access(path, R_OK), 0, "%s", path);
	out_free(&o);
}

/* record -o FILE where FILE holds a trace keeps it and writes FILE.1, as
 * run keeps both. */
Test(flame, record_keeps_an_earlier_trace, .timeout = 120)
{
	char trace[PATH_MAX], next[PATH_MAX + 8], want[PATH_MAX * 2 + 64];
	char *argv[ITEST_MAX_ARGS] = {ITEST_PRESTANDA, "record", "-o", trace, "--",
				      ITEST_TARGETS "cpu_split", "1", NULL};
	size_t before;
	struct out o;
	char *old;

	itest_need_ebpf(false);
	record(trace, sizeof(trace),
	       (const char *[]){"--", ITEST_TARGETS "cpu_split", "1", NULL});
	old = itest_slurp(trace, &before);
	cr_assert(old && before > 0);
	spawn_capture(&o, argv);
	cr_expect_eq(o.wstatus, 0, "%s", o.err);
	snprintf(next, sizeof(next), "%s.1", trace);
	snprintf(want, sizeof(want), "prestanda: record: %s exists; writing %s\n", trace, next);
	cr_expect(!strncmp(o.err, want, strlen(want)), "%s", o.err);
	cr_expect_eq(access(next, R_OK), 0);
	free(itest_slurp(trace, &o.len));
	cr_expect_eq(o.len, before, "the earlier trace changed");
	out_free(&o);
	free(old);
	unlink(next);
	unlink(trace);
}
