// SPDX-License-Identifier: MIT
// Open a flame graph SVG in headless Chromium: hover, click a frame to zoom, search; print what the page shows.
'use strict';
const { chromium } = require('playwright-core');

const [svgPath, frameName, term, shot] = process.argv.slice(2);

(async () => {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
	});
	const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
	const requests = [];
	page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	await page.goto('file://' + require('path').resolve(svgPath));
	const width = () => page.evaluate((n) => {
		const g = [...document.querySelectorAll('#frames .f')].find((x) => x.dataset.n === n);
		return g && g.style.display !== 'none' ? +g.querySelector('rect').getAttribute('width') : -1;
	}, frameName);
	console.log('title ' + await page.textContent('#title'));
	console.log('frames ' + await page.locator('#frames .f').count());
	console.log('before ' + (await width()).toFixed(2));
	const frame = page.locator('#frames .f[data-n="' + frameName + '"]').first();
	await frame.hover();
	console.log('tooltip ' + await page.textContent('#tip text'));
	await frame.click();
	console.log('zoomed ' + (await width()).toFixed(2));
	console.log('reset_visible ' + await page.isVisible('#reset'));
	page.once('dialog', (d) => d.accept(term));
	await page.click('#search');
	console.log('highlighted ' + await page.locator('#frames .f.hl').count());
	console.log('matched ' + await page.textContent('#matched'));
	if (shot)
		await page.screenshot({ path: shot });
	await page.click('#reset');
	console.log('unzoomed ' + (await width()).toFixed(2));
	console.log('errors ' + errors.length + ' requests ' + requests.length);
	await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
