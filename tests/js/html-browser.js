// SPDX-License-Identifier: MIT
// Open report --html's page in headless Chromium, drag a range on the heap chart, print what the page shows as JSON.
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

// html-browser.js PAGE [FROM TO [SHOT]]: FROM and TO are the seconds on the
// heap chart's time axis to drag between; SHOT a screenshot to write.
const [page_path, from, to, shot] = process.argv.slice(2);

async function chartInfo(page) {
	return page.evaluate(() => [...document.querySelectorAll('.chart')].map((c) => ({
		id: c.id,
		title: (c.querySelector('.title') || {}).textContent,
		xlabel: (c.querySelector('.xlabel') || {}).textContent || null,
		ylabel: (c.querySelector('.ylabel') || {}).textContent || null,
		xticks: c.querySelectorAll('.xtick').length,
		yticks: [...c.querySelectorAll('.ytick')].map((t) => t.textContent),
		legend: [...c.querySelectorAll('.legend')].map((t) => t.textContent),
		series: c.querySelectorAll('.series').length,
		peak: (c.querySelector('.peak-label') || {}).textContent || null,
	})));
}

async function siteRows(page) {
	return page.evaluate(() => [...document.querySelectorAll('#sites tr[data-file]')].map((tr) => {
		const v = (k) => {
			const td = tr.querySelector('td[data-key="' + k + '"]');
			return td && td.dataset.v !== undefined ? Number(td.dataset.v) : null;
		};
		return { function: tr.dataset.function, file: tr.dataset.file, line: Number(tr.dataset.line),
			calls: v('calls'), bytes: v('bytes'), live_bytes: v('live_bytes'),
			live_blocks: v('live_blocks') };
	}));
}

// The tables drawn from the report's lists: their rows by name, each with
// the numbers of its cells.
async function reportTables(page) {
	return page.evaluate(() => {
		const out = {};
		for (const id of ['cpu-functions', 'threads', 'thread-groups', 'locks', 'endpoints', 'requests']) {
			const rows = [...document.querySelectorAll('#' + id + ' tr[data-name]')];
			if (!document.getElementById(id))
				continue;
			out[id] = rows.map((tr) => {
				const v = {};
				for (const td of tr.querySelectorAll('td[data-v]'))
					v[td.dataset.key] = Number(td.dataset.v);
				return { name: tr.dataset.name, v: v };
			});
		}
		return out;
	});
}

// Every metric's flame graph total in the chosen range.
async function flameTotals(page) {
	const out = {};
	const names = await page.evaluate(() => [...document.querySelectorAll('#flame-metric option')]
		.map((o) => o.value));
	for (const n of names) {
		await page.selectOption('#flame-metric', n);
		out[n] = Number(await page.getAttribute('#flame-info', 'data-total'));
	}
	return out;
}

// Drag across the heap chart's plot area, from a to b seconds.
async function drag(page, a, b) {
	// in view (clicks further down scrolled the page) and below the sticky range bar
	await page.evaluate(() => window.scrollTo(0, 0));
	const box = await page.locator('#chart-heap svg').boundingBox();
	const plot = await page.evaluate(() => {
		const ax = document.querySelectorAll('#chart-heap .axis line'), r = document.getElementById('range');
		return { x0: +ax[0].getAttribute('x1'), x1: +ax[0].getAttribute('x2'),
			w: +document.querySelector('#chart-heap svg').getAttribute('width'),
			tmax: r.dataset.buckets * r.dataset.bucketNs / 1e9 };
	});
	const px = (t) => box.x + (plot.x0 + t / plot.tmax * (plot.x1 - plot.x0)) * box.width / plot.w;
	const y = box.y + box.height / 2;
	await page.mouse.move(px(a), y);
	await page.mouse.down();
	await page.mouse.move((px(a) + px(b)) / 2, y);
	await page.mouse.move(px(b), y);
	await page.mouse.up();
}

(async () => {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
	});
	const page = await browser.newPage({ viewport: { width: 1150, height: 1400 } });
	const url = 'file://' + path.resolve(page_path);
	const requests = [], errors = [];
	page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
	await page.goto(url);
	// the page unpacks its ranges before it draws
	await page.waitForSelector('body[data-ready]');
	const out = { title: await page.title(), charts: await chartInfo(page) };
	out.findings = await page.locator('.finding').count();
	out.tables = await page.evaluate(() => [...document.querySelectorAll('table')].length);
	out.whole = await siteRows(page);
	out.flame_frames = await page.locator('#flame div').count();
	out.whole_tables = await reportTables(page);
	out.whole_flames = await flameTotals(page);
	// Sorting: click the bytes column, then the first row has the most bytes.
	await page.click('#sites th[data-key="bytes"]');
	out.sorted_by_bytes = (await siteRows(page)).map((r) => r.bytes);
	if (from !== undefined) {
		await drag(page, +from, +to);
		out.since = await page.getAttribute('#range', 'data-since');
		out.until = await page.getAttribute('#range', 'data-until');
		out.range = await siteRows(page);
		out.range_flame_frames = await page.locator('#flame div').count();
		out.range_tables = await reportTables(page);
		out.range_flames = await flameTotals(page);
	}
	if (shot)
		await page.screenshot({ path: shot, fullPage: true });
	out.errors = errors;
	out.requests = requests;
	console.log(JSON.stringify(out));
	await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
