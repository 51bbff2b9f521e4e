// SPDX-License-Identifier: MIT
// Load a speedscope JSON file into speedscope's own importer (its release page, headless Chromium); print what it shows.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [file, view] = process.argv.slice(2);
const index = path.join(path.dirname(require.resolve('speedscope/package.json')), 'dist', 'release',
	'index.html');

(async () => {
	// speedscope's command line hands a file over the same way: a script
	// that passes it to loadFileFromBase64.
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pst-ss-'));
	const loader = path.join(dir, 'load.js');
	fs.writeFileSync(loader, 'speedscope.loadFileFromBase64(' + JSON.stringify(path.basename(file)) +
		', ' + JSON.stringify(fs.readFileSync(file).toString('base64')) + ');\n');
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--allow-file-access-from-files'],
	});
	const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	await page.goto('file://' + index + '#localProfilePath=' + encodeURIComponent(loader) +
		(view ? '&view=' + view : ''));
	await page.waitForFunction(() => / - speedscope$/.test(document.title), null, { timeout: 30000 });
	console.log('title ' + document_title(await page.title()));
	// The view tabs: the active one is styled apart from the other two.
	const tabs = await page.evaluate(() => [...document.querySelectorAll('div')]
		.filter((d) => d.children.length === 1 && d.firstElementChild.tagName === 'SPAN' &&
			/^(Time Order|Left Heavy|Sandwich)$/.test(d.lastChild.textContent))
		.map((d) => [d.lastChild.textContent, d.className]));
	console.log('view ' + tabs.filter((t) => tabs.filter((u) => u[1] === t[1]).length === 1)
		.map((t) => t[0]).join(','));
	// The profile shown, "NAME (i/n)", and the list of them speedscope made
	// of the file: "i NAME WEIGHT" cells, in its profile selector.
	console.log('shown ' + await page.evaluate(() => {
		const s = [...document.querySelectorAll('span')].find((e) => e.children.length === 1 &&
			/^\(\d+\/\d+\)$/.test(e.firstElementChild.textContent));
		return s ? s.textContent : '';
	}));
	const rows = await page.evaluate(() => {
		const t = [...document.querySelectorAll('*')].find((e) =>
			/^#NameTotal Weight/.test(e.textContent) && e.children.length > 1);
		return t ? [...t.querySelectorAll('*')].filter((e) => e.children.length === 0 &&
			e.textContent).map((e) => e.textContent) : [];
	});
	console.log('list ' + rows.join(' | '));
	console.log('errors ' + errors.length + (errors.length ? ' ' + errors.join(' / ') : ''));
	await browser.close();
	fs.rmSync(dir, { recursive: true });
})().catch((e) => { console.error(e); process.exit(1); });

function document_title(t) { return t.replace(/ - speedscope$/, ''); }
