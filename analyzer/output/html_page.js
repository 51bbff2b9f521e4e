// SPDX-License-Identifier: MIT
// The one-page report's script (report --html): charts over time, findings, tables and flame graphs from the embedded JSON.
'use strict';
// The page's own script: nothing else runs on it, so its names are top-level.
const D = JSON.parse(document.getElementById('pst-data').textContent);
const R = D.report, G = D.ranges, MEM = R.memory || {};
const NB = G.buckets, BW = G.bucket_ns;
const app = document.getElementById('app');
const SVGNS = 'http://www.w3.org/2000/svg';
// The selected range in buckets [a, b): the whole run at first.
const sel = { a: 0, b: NB };
const redraws = [];
// The tables and flame graphs of every other range, as report --since/--until
// prints them: {"A-B": {tables: {"SECTION.KEY": {n, rows}}, flames: {METRIC: tree}}},
// read (unpacked) before the page is drawn.
let BY = {};
const isWhole = () => sel.a === 0 && sel.b === NB;
const ranged = () => isWhole() ? null : BY[sel.a + '-' + sel.b] || { tables: {}, flames: {} };

// ---- formatting ----

// Element e with attributes and text: an HTML one (el) or an SVG one (sv).
function filled(e, attrs, text) {
	for (const k in attrs || {})
		e.setAttribute(k, attrs[k]);
	if (text !== undefined)
		e.textContent = text;
	return e;
}
const el = (tag, attrs, text) => filled(document.createElement(tag), attrs, text);
const sv = (tag, attrs, text) => filled(document.createElementNS(SVGNS, tag), attrs, text);
function scaled(v, base, units) {
	let i = 0;
	while (Math.abs(v) >= base && i < units.length - 1) {
		v /= base;
		i++;
	}
	const s = i === 0 ? String(Math.round(v * 10) / 10) : v.toFixed(Math.abs(v) < 10 ? 1 : 0);
	return s + units[i];
}
const fmt = {
	bytes: (v) => scaled(v, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB']),
	count: (v) => scaled(v, 1000, ['', 'k', 'M', 'G']),
	rate: (v) => scaled(v, 1000, ['', 'k', 'M', 'G']) + '/s',
	pct: (v) => (Math.round(v * 10) / 10) + '%',
	ns: (v) => v >= 1e9 ? (v / 1e9).toFixed(2) + ' s' : v >= 1e6 ? (v / 1e6).toFixed(1) + ' ms' :
		v >= 1e3 ? (v / 1e3).toFixed(1) + ' µs' : v + ' ns',
	s: (v) => (Math.round(v * 1000) / 1000) + ' s',
};
// Seconds of ns as a short exact decimal: what --since/--until take.
function secs(ns) {
	const whole = Math.floor(ns / 1e9), frac = String(ns % 1e9).padStart(9, '0').replace(/0+$/, '');
	return frac ? whole + '.' + frac : String(whole);
}

// ---- header ----

function header() {
	const p = R.process || {};
	app.appendChild(el('h1', {}, 'prestanda report: ' + (p.exe || R.trace)));
	const mode = MEM.mode === 'full' ? 'full: every allocation recorded' :
		'sampled: heap figures are estimates';
	app.appendChild(el('div', { class: 'meta' }, 'pid ' + p.pid + ' · ' + mode + ' · ' +
		fmt.ns(p.duration_ns || 0) + ' · trace ' + (p.complete ? 'complete (' + p.end_reason + ')' :
		'INCOMPLETE: ' + (p.error || ''))));
	for (const w of R.warnings || [])
		app.appendChild(el('div', { class: 'warn' }, 'warning: ' + w));
}

// ---- range ----

function rangeBar() {
	const bar = el('div', { id: 'range', 'data-buckets': NB, 'data-bucket-ns': BW });
	const label = el('span', { id: 'range-label' });
	const whole = el('button', { id: 'range-reset', type: 'button' }, 'whole run');
	whole.onclick = () => select(0, NB);
	bar.append(label, whole);
	app.appendChild(bar);
	app.appendChild(el('div', { class: 'note' }, 'Drag across a chart to choose a time range: ' +
		'it snaps to steps of ' + fmt.ns(BW) + ' and applies to every table and flame graph ' +
		'(what report --since/--until and flame --since/--until print for it).'));
	redraws.push(() => {
		const whole = sel.a === 0 && sel.b === NB;
		bar.dataset.since = secs(sel.a * BW);
		bar.dataset.until = secs(sel.b * BW);
		label.textContent = whole ? 'Range: the whole run' : 'Range: ' + secs(sel.a * BW) +
			' s to ' + secs(sel.b * BW) + ' s  ';
		if (!whole) {
			const c = el('code', {}, 'report --since ' + secs(sel.a * BW) + ' --until ' +
				secs(sel.b * BW));
			label.appendChild(c);
		}
	});
}
function select(a, b) {
	sel.a = Math.max(0, Math.min(a, NB - 1));
	sel.b = Math.max(sel.a + 1, Math.min(b, NB));
	for (const f of redraws)
		f();
}
window.pstSelect = select;

// ---- charts ----

const W = 900, H = 150, ML = 70, MR = 160, MT = 22, MB = 32;
const TMAX = NB * BW / 1e9;

// A round step for about n ticks up to max: 1, 2, 2.5 or 5 times a
// power of ten, of 1024 for bytes.
function niceStep(max, n, unit) {
	if (unit === 'bytes' && max >= 1024) {
		const k = Math.min(4, Math.floor(Math.log(max) / Math.log(1024)));
		return niceStep(max / Math.pow(1024, k), n) * Math.pow(1024, k);
	}
	const raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
	for (const m of [1, 2, 2.5, 5, 10])
		if (raw <= m * p)
			return m * p;
	return 10 * p;
}
function axes(g, ymax, unit, ylabel) {
	const x = (t) => ML + t / TMAX * (W - ML - MR), y = (v) => MT + (1 - v / ymax) * (H - MT - MB);
	const ax = sv('g', { class: 'axis' });
	ax.appendChild(sv('line', { x1: ML, y1: H - MB, x2: W - MR, y2: H - MB }));
	ax.appendChild(sv('line', { x1: ML, y1: MT, x2: ML, y2: H - MB }));
	const xs = niceStep(TMAX, 8);
	for (let t = 0; t <= TMAX + 1e-9; t += xs) {
		ax.appendChild(sv('line', { x1: x(t), y1: H - MB, x2: x(t), y2: H - MB + 4 }));
		ax.appendChild(sv('text', { x: x(t), y: H - MB + 15, 'text-anchor': 'middle', class: 'xtick' },
			String(Math.round(t * 1000) / 1000)));
	}
	ax.appendChild(sv('text', { x: (ML + W - MR) / 2, y: H - 2, 'text-anchor': 'middle',
		class: 'xlabel' }, 'time since the process started (s)'));
	const ys = niceStep(ymax, 4, unit);
	for (let v = 0; v <= ymax + 1e-9; v += ys) {
		ax.appendChild(sv('line', { x1: ML - 4, y1: y(v), x2: ML, y2: y(v) }));
		ax.appendChild(sv('text', { x: ML - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'ytick' },
			fmt[unit](v)));
	}
	ax.appendChild(sv('text', { x: 14, y: (MT + H - MB) / 2, 'text-anchor': 'middle', class: 'ylabel',
		transform: 'rotate(-90 14 ' + (MT + H - MB) / 2 + ')' }, ylabel));
	g.appendChild(ax);
	return { x, y };
}
function legend(g, series) {
	series.forEach((s, i) => {
		const y = MT + 8 + i * 16;
		g.appendChild(sv('line', { x1: W - MR + 12, y1: y, x2: W - MR + 30, y2: y, stroke: s.colour,
			'stroke-width': 2 }));
		g.appendChild(sv('text', { x: W - MR + 34, y: y + 4, class: 'legend' }, s.name));
	});
}
// A chart: title, series of [t (s), value] points, axes with unit, legend.
// Why a chart drawn from the snapshots is empty.
const RUN = fmt.ns(R.process ? R.process.duration_ns : 0);
const NO_SNAPSHOTS = 'no snapshots: the run (' + RUN + ') ended before the first (one a second; ' +
	'run --metrics-interval)';
function chart(id, title, unit, ylabel, series, marks, empty) {
	const box = el('div', { class: 'chart', id: id });
	const svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H });
	box.appendChild(svg);
	app.appendChild(box);
	svg.appendChild(sv('text', { x: ML, y: 14, class: 'title' }, title));
	const pts = series.flatMap((s) => s.points);
	if (!pts.length) {
		svg.appendChild(sv('text', { x: ML + 10, y: H / 2, class: 'empty' }, empty || NO_SNAPSHOTS));
		return;
	}
	let ymax = Math.max(...pts.map((p) => p[1]), 0);
	// all zero: a flat line on whole-unit ticks
	ymax = ymax > 0 ? ymax * 1.1 : 4;
	const sc = axes(svg, ymax, unit, ylabel);
	for (const s of series)
		svg.appendChild(sv('polyline', { fill: 'none', stroke: s.colour, 'stroke-width': 1.5,
			class: 'series', points: s.points.map((p) => sc.x(p[0]).toFixed(1) + ',' +
			sc.y(p[1]).toFixed(1)).join(' ') }));
	for (const m of marks || []) {
		svg.appendChild(sv('line', { class: 'peak', x1: sc.x(m.t), x2: sc.x(m.t), y1: MT, y2: H - MB }));
		// left of the line when it is in the right half: clear of the legend
		const right = m.t > TMAX / 2;
		svg.appendChild(sv('text', { x: sc.x(m.t) + (right ? -4 : 4), y: MT + 10, class: 'peak-label',
			'text-anchor': right ? 'end' : 'start' }, m.label));
	}
	legend(svg, series);
	brush(svg, sc);
}
// Drag to choose a range, snapped to the buckets; every chart shows it.
function brush(svg, sc) {
	const r = sv('rect', { class: 'sel', y: MT, height: H - MT - MB, x: 0, width: 0 });
	svg.appendChild(r);
	const tOf = (ev) => {
		const box = svg.getBoundingClientRect();
		const px = (ev.clientX - box.left) * W / box.width;
		return Math.max(0, Math.min(TMAX, (px - ML) / (W - ML - MR) * TMAX));
	};
	let t0 = null;
	svg.addEventListener('mousedown', (ev) => { t0 = tOf(ev); ev.preventDefault(); });
	window.addEventListener('mouseup', (ev) => {
		if (t0 === null)
			return;
		const t1 = tOf(ev), lo = Math.min(t0, t1), hi = Math.max(t0, t1);
		t0 = null;
		select(Math.floor(lo * 1e9 / BW), Math.ceil(hi * 1e9 / BW));
	});
	redraws.push(() => {
		const whole = sel.a === 0 && sel.b === NB;
		r.setAttribute('x', sc.x(sel.a * BW / 1e9));
		r.setAttribute('width', whole ? 0 : sc.x(sel.b * BW / 1e9) - sc.x(sel.a * BW / 1e9));
	});
}
// Without snapshots (a run shorter than their interval): the calls per
// step of the sites the page carries, from the events.
function eventRate() {
	const calls = new Array(NB).fill(0);
	for (const s of G.sites)
		for (const c of s.cells)
			calls[c[0]] += c[2];
	return calls.map((v, i) => [(i + 0.5) * BW / 1e9, v / (BW / 1e9)]);
}
// A level over time from the events (D.connections, D.threads) as points.
function levelPoints(l) {
	return l ? l.max.map((v, i) => [(i + 0.5) * l.slot_ns / 1e9, v]) : [];
}
// Without snapshots: the CPU of each step from the CPU samples of its
// range (each one 1/hz s of CPU).
function sampledCpu() {
	const hz = (R.cpu || {}).hz;
	if (!hz)
		return [];
	return Array.from({ length: NB }, (_, i) => {
		const r = NB === 1 ? R.cpu : BY[i + '-' + (i + 1)] || {};
		const n = NB === 1 ? r.samples : r.cpu_samples || 0;
		return [(i + 0.5) * BW / 1e9, n / hz / (BW / 1e9) * 100];
	});
}
function charts() {
	app.appendChild(el('h2', { id: 'over-time' }, 'Over time'));
	rangeBar();
	const tl = R.timeline || [], h = G.heap;
	const heap = h.max.map((v, i) => [(i + 0.5) * h.slot_ns / 1e9, v]);
	const marks = MEM.peak_seen ? [{ t: MEM.peak_time_ns / 1e9, label: 'peak ' +
		fmt.bytes(MEM.peak_heap_bytes) + ' at ' + fmt.s(MEM.peak_time_ns / 1e9) }] : [];
	chart('chart-heap', 'Heap in use' + (h.exact ? ' (exact: every allocation recorded)' :
		' (estimated from the samples)'), 'bytes', 'bytes',
	[{ name: 'heap in use', colour: '#7c3aed', points: heap }], marks);
	const line = (k) => tl.map((s) => [s.time_s, s[k]]);
	// the most open in each slot, from the network records
	const conns = D.connections ? [{ name: 'open connections', colour: '#0891b2',
		points: levelPoints(D.connections) }] : [];
	chart('chart-rss', 'Resident memory (RSS)', 'bytes', 'bytes',
		[{ name: 'RSS', colour: '#c0392b', points: line('rss_bytes') }], [],
		NO_SNAPSHOTS);
	chart('chart-rate', 'Allocation rate', 'rate', 'calls per second', tl.length ?
		[{ name: 'allocation calls/s', colour: '#2471a3', points: line('alloc_calls_per_s') },
			{ name: 'free calls/s', colour: '#7fb3d5', points: line('free_calls_per_s') }] :
		[{ name: 'allocation calls/s', colour: '#2471a3', points: eventRate() }]);
	// without snapshots: the threads from their start and end records, no fds
	chart('chart-threads', 'Threads and connections', 'count', 'count', (tl.length ?
		[{ name: 'threads', colour: '#16a34a', points: line('threads') },
			{ name: 'open fds', colour: '#ca8a04', points: line('open_fds') }] :
		[{ name: 'threads', colour: '#16a34a', points: levelPoints(D.threads) }]).concat(conns));
	chart('chart-cpu', 'CPU', 'pct', 'percent of one core', tl.length ?
		[{ name: 'CPU %', colour: '#db2777', points: line('cpu_percent') }] :
		[{ name: 'CPU % (from the CPU samples)', colour: '#db2777', points: sampledCpu() }], [],
		'no snapshots (the run, ' + RUN + ', ended before the first) and no CPU samples (run --cpu)');
}

// ---- findings ----

function findings() {
	app.appendChild(el('h2', { id: 'findings' }, 'Findings'));
	const fs = R.findings || [];
	if (!fs.length)
		app.appendChild(el('p', {}, 'No findings.'));
	for (const f of fs) {
		const d = el('div', { class: 'finding ' + f.severity });
		const t = el('div');
		t.append(el('span', { class: 'sev' }, f.severity), document.createTextNode(f.title));
		d.appendChild(t);
		if (f.advice)
			d.appendChild(el('p', {}, f.advice));
		const dl = el('dl');
		for (const k in f.evidence || {}) {
			const v = f.evidence[k];
			dl.append(el('dt', {}, k), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) :
				cellText(k, v)));
		}
		d.appendChild(dl);
		if (f.stack && f.stack.length) {
			const det = el('details');
			det.append(el('summary', {}, 'stack'), el('pre', {}, f.stack.join('\n')));
			d.appendChild(det);
		}
		app.appendChild(d);
	}
}

// ---- tables ----

function unitOf(k) {
	return /_ns$/.test(k) ? 'ns' : /bytes/.test(k) ? 'bytes' : null;
}
function cellText(k, v) {
	if (typeof v !== 'number')
		return v === null || v === undefined ? '' : String(v);
	const u = unitOf(k);
	return u ? fmt[u](v) : Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}
// A sortable table: cols [{key, label, s (text)}], rows of objects,
// the first `top` rows of the chosen order.
function table(id, cols, rows, top, onRow, sortKey) {
	const wrap = el('div', { id: id });
	let key = sortKey || (cols.find((c) => !c.s && rows.length && typeof rows[0][c.key] === 'number') ||
		cols.find((c) => !c.s)).key, desc = true;
	const draw = () => {
		wrap.textContent = '';
		const t = el('table'), hr = el('tr');
		for (const c of cols) {
			const th = el('th', { class: (c.s ? 's ' : '') + (c.key === key ? 'sorted-' +
				(desc ? 'desc' : 'asc') : ''), 'data-key': c.key }, c.label);
			th.onclick = () => { desc = c.key === key ? !desc : true; key = c.key; draw(); };
			hr.appendChild(th);
		}
		t.appendChild(hr);
		const sorted = rows.slice().sort((x, y) => {
			const a = x[key], b = y[key];
			const r = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
			return desc ? -r : r;
		});
		for (const r of sorted.slice(0, top)) {
			const tr = el('tr');
			for (const c of cols) {
				const td = el('td', { class: c.s ? 's' : '', 'data-key': c.key }, c.s ? undefined :
					cellText(c.unit ? 'x_' + c.unit : c.key, r[c.key]));
				if (typeof r[c.key] === 'number')
					td.dataset.v = r[c.key];
				if (c.s)
					c.s(td, r);
				tr.appendChild(td);
			}
			if (onRow)
				onRow(tr, r);
			t.appendChild(tr);
		}
		wrap.appendChild(t);
		if (!sorted.length)
			wrap.appendChild(el('div', { class: 'note' }, 'none in this range'));
		if (sorted.length > top)
			wrap.appendChild(el('div', { class: 'note' }, (sorted.length - top) + ' more rows not shown'));
	};
	draw();
	return { wrap, draw, setRows: (r) => { rows = r; draw(); } };
}
function stackCell(name, stack) {
	return (td) => {
		const d = el('details');
		d.append(el('summary', {}, name), el('pre', {}, (stack || []).join('\n')));
		td.appendChild(d);
	};
}

// The sites' figures over buckets [a, b): allocated in it; live at its end.
function siteInRange(s, a, b) {
	const r = { calls: 0, bytes: 0, live_bytes: 0, live_blocks: 0 };
	for (const [born, gone, calls, bytes] of s.cells) {
		if (born < a || born >= b)
			continue;
		r.calls += calls;
		r.bytes += bytes;
		if (gone >= b && gone <= NB) {
			r.live_bytes += bytes;
			r.live_blocks += calls;
		}
	}
	return r;
}
function siteName(s) {
	return (s.function || (s.stack && s.stack[0]) || '?') + (s.file ? ' (' + s.file + ':' + s.line + ')' : '');
}
// The sites of the chosen range: the whole run's from the cells (the top
// sites of the run), a range's as its report lists them (its own top).
function siteRows() {
	const r = ranged();
	if (r)
		return ((r.tables['memory.sites'] || {}).rows || []).map((s) => ({ site: siteName(s),
			function: s.function, file: s.file, line: s.line, stack: s.stack, calls: s.calls,
			bytes: s.bytes, live_bytes: s.leaked_bytes, live_blocks: s.leaked_allocations,
			peak_bytes: s.peak_bytes }));
	return G.sites.map((s) => {
		const r = siteInRange(s, 0, NB);
		return { site: siteName(s), function: s.function, file: s.file, line: s.line, stack: s.stack,
			calls: Math.round(r.calls), bytes: Math.round(r.bytes), live_bytes: Math.round(r.live_bytes),
			live_blocks: Math.round(r.live_blocks), peak_bytes: s.peak_bytes };
	}).filter((r) => r.calls > 0);
}
function sitesTable() {
	app.appendChild(el('h3', {}, 'Allocation sites'));
	const total = el('div', { id: 'sites-total', class: 'note' });
	app.appendChild(total);
	const cols = [
		{ key: 'site', label: 'site', s: (td, r) => stackCell(r.site, r.stack)(td) },
		{ key: 'calls', label: 'calls' },
		{ key: 'bytes', label: 'bytes', unit: 'bytes' },
		{ key: 'live_bytes', label: 'live at end (bytes)', unit: 'bytes' },
		{ key: 'live_blocks', label: 'live blocks' },
		{ key: 'peak_bytes', label: 'at the heap peak', unit: 'bytes' },
	];
	const t = table('sites', cols, siteRows(), 50, (tr, r) => {
		tr.dataset.function = r.function || '';
		tr.dataset.file = r.file || '';
		tr.dataset.line = r.line;
	}, 'calls');
	app.appendChild(t.wrap);
	redraws.push(() => {
		const rows = siteRows(), sum = (k) => rows.reduce((a, r) => a + r[k], 0);
		t.setRows(rows);
		const n = isWhole() ? MEM.total_sites || rows.length :
			(ranged().tables['memory.sites'] || { n: 0 }).n;
		total.textContent = n + (n === 1 ? ' site' : ' sites') + (n > rows.length ? ' (the first ' +
			rows.length + ' as report --json lists them)' : '') + ' · ' + sum('calls') + ' calls · ' +
			fmt.bytes(sum('bytes')) + ' allocated · ' + fmt.bytes(sum('live_bytes')) +
			' live at the end of the range';
	});
}
// A list of the report (path "SECTION.KEY") in the chosen range: the whole
// run's, or the first rows of the range's report and how many it has.
function rangeRows(path) {
	const r = ranged();
	if (r)
		return r.tables[path] || { n: 0, rows: [] };
	const [sec, key] = path.split('.'), rows = (key ? (R[sec] || {})[key] : R[sec]) || [];
	return { n: rows.length, rows: rows };
}
// Any list of objects in the report: its scalar keys as columns, its rows
// those of the chosen range.
function genericTable(id, title, path, nameKey, stackKey, sortKey) {
	const rows = rangeRows(path).rows;
	if (!rows.length)
		return;
	app.appendChild(el('h3', {}, title));
	const cut = el('div', { id: id + '-cut', class: 'note' });
	const cols = Object.keys(rows[0]).filter((k) => k !== nameKey && k !== stackKey &&
		(rows[0][k] === null || typeof rows[0][k] !== 'object')).map((k) => ({ key: k, label: k }));
	if (nameKey)
		cols.unshift({ key: nameKey, label: nameKey, s: (td, r) => stackKey ?
			stackCell(String(r[nameKey]), r[stackKey])(td) : (td.textContent = r[nameKey]) });
	// a row's name, for a test to find it by
	const t = table(id, cols, rows, 30, nameKey ? (tr, r) => { tr.dataset.name = r[nameKey]; } : null,
		sortKey);
	app.append(t.wrap, cut);
	redraws.push(() => {
		const r = rangeRows(path);
		t.setRows(r.rows);
		cut.textContent = r.n > r.rows.length ? 'the page has the first ' + r.rows.length + ' of the ' +
			r.n + ' rows of this range, in the order report --json lists them' : '';
	});
}
function tables() {
	app.appendChild(el('h2', { id: 'tables' }, 'Top tables'));
	app.appendChild(el('div', { class: 'note' }, 'Click a column to sort by it.'));
	sitesTable();
	genericTable('cpu-functions', 'CPU: functions', 'cpu.functions', 'function', null, 'self');
	genericTable('threads', 'Threads', 'threads.threads', 'tid', null, 'cpu_ns');
	genericTable('thread-groups', 'Thread groups', 'threads.groups', 'start_routine', 'created_at',
		'threads');
	genericTable('locks', 'Locks', 'locks', 'lock', 'stack', 'wait_ns');
	genericTable('endpoints', 'Network endpoints', 'network.endpoints', 'endpoint', null, 'connects');
	genericTable('lookups', 'Name lookups', 'network.lookups', null, null);
	genericTable('requests', 'Requests', 'network.requests', 'endpoint', 'stack', 'requests');
}

// ---- flame graphs ----

// Memory metrics from the sites: per range, except the peak.
const METRICS = [
	{ name: 'alloc-bytes', what: 'bytes allocated', unit: 'bytes', v: (r) => r.bytes },
	{ name: 'alloc-calls', what: 'allocation calls', unit: 'count', v: (r) => r.calls },
	{ name: 'live-bytes', what: 'bytes live at the end of the range (leaked, for the whole run)',
		unit: 'bytes', v: (r) => r.live_bytes },
	{ name: 'peak-bytes', what: 'bytes live at the heap peak (whole run)', unit: 'bytes', whole: true,
		v: (r, s) => s.peak_bytes },
];
// The analyzer's trees of the other metrics: the whole run's, or the range's.
function treeOf(t) {
	return { name: t.n, v: t.v, kids: new Map(t.c.map((k) => [k.n, treeOf(k)])) };
}
for (const f of D.flames || [])
	METRICS.push({ name: f.name, what: f.what, unit: f.unit === 'nanoseconds' ?
		'ns' : f.unit === 'bytes' ? 'bytes' : 'count', tree: () => ranged() ?
		ranged().flames[f.name] || { n: 'all', v: 0, c: [] } : f.tree });
function frameName(f) {
	const i = f.indexOf(' (');
	return i > 0 ? f.slice(0, i) : f;
}
function flameTree(m) {
	if (m.tree)
		return treeOf(m.tree());
	const root = { name: 'all', v: 0, kids: new Map() };
	for (const s of G.sites) {
		const a = m.whole ? 0 : sel.a, b = m.whole ? NB : sel.b;
		const v = m.v(siteInRange(s, a, b), s);
		if (!(v > 0))
			continue;
		root.v += v;
		let n = root;
		for (const f of (s.stack || []).slice().reverse()) {
			const k = frameName(f);
			if (!n.kids.has(k))
				n.kids.set(k, { name: k, v: 0, kids: new Map() });
			n = n.kids.get(k);
			n.v += v;
		}
	}
	return root;
}
const COLOURS = ['#f2a65a', '#eec170', '#f58b54', '#e9b872', '#f4a259', '#f6c177'];
function flame() {
	app.appendChild(el('h2', { id: 'flame-graph' }, 'Flame graph'));
	const pick = el('select', { id: 'flame-metric' });
	for (const m of METRICS)
		pick.appendChild(el('option', { value: m.name }, m.name + ': ' + m.what));
	const info = el('div', { id: 'flame-info' }), box = el('div', { id: 'flame' });
	app.append(pick, info, box);
	let zoom = null;
	const draw = () => {
		const m = METRICS.find((x) => x.name === pick.value), root = flameTree(m);
		box.textContent = '';
		let top = root;
		const trail = [];
		for (const name of zoom || []) {
			const k = top.kids.get(name);
			if (!k)
				break;
			top = k;
			trail.push(name);
		}
		const total = root.v, min = total * 0.001;
		let depth = 0;
		const put = (n, x, w, d, path) => {
			if (n.v < min || !(w > 0))
				return;
			depth = Math.max(depth, d + 1);
			const div = el('div', { title: n.name + ': ' + fmt[m.unit](n.v) + ' (' +
				(100 * n.v / total).toFixed(1) + '%)' }, n.name);
			div.style.left = (x * 100) + '%';
			div.style.width = (w * 100) + '%';
			div.style.top = (d * 17) + 'px';
			div.style.background = COLOURS[n.name.length % COLOURS.length];
			div.onclick = () => { zoom = n === top ? path.slice(0, -1) : path; draw(); };
			box.appendChild(div);
			let cx = x;
			for (const k of [...n.kids.values()].sort((p, q) => p.name.localeCompare(q.name))) {
				const kw = w * k.v / n.v;
				put(k, cx, kw, d + 1, path.concat([k.name]));
				cx += kw;
			}
		};
		put(top, 0, 1, 0, trail);
		box.style.height = Math.max(depth, 1) * 17 + 'px';
		info.dataset.total = total;
		info.textContent = total > 0 ? m.what + ': ' + fmt[m.unit](total) + (m.whole || isWhole() ? '' :
			' in the range') + (trail.length ? ' · click the top frame to zoom out' :
			' · click a frame to zoom') : 'nothing of this metric in the range';
	};
	pick.onchange = () => { zoom = null; draw(); };
	// The first metric the run has anything of.
	const first = METRICS.find((m) => flameTree(m).v > 0);
	if (first)
		pick.value = first.name;
	redraws.push(draw);
}

// A link may name a range and a section: #since=0.5&until=1.6&at=tables.
function fromHash() {
	const h = new URLSearchParams(location.hash.slice(1));
	const b = (k, d) => h.has(k) ? Math.round(Number(h.get(k)) * 1e9 / BW) : d;
	select(b('since', 0), b('until', NB));
	const at = h.get('at') && document.getElementById(h.get('at'));
	if (at)
		at.scrollIntoView();
}

// The ranges' tables and flame graphs: base64 of zlib-compressed JSON.
async function unpack() {
	const b64 = document.getElementById('pst-by-range').textContent;
	const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
	const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
	return JSON.parse(await new Response(stream).text());
}

unpack().then((by) => {
	BY = by;
	header();
	charts();
	findings();
	tables();
	flame();
	fromHash();
	// drawn: what a test waits for
	document.body.dataset.ready = '1';
});
