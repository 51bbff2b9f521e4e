// SPDX-License-Identifier: MIT
// Decode a gzipped pprof profile with the pprof-format package; print its header and one line per sample.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const { Profile } = require('pprof-format');

const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(process.argv[2])));
const str = (i) => p.stringTable.strings[Number(i)];
const byId = (list) => new Map(list.map((x) => [String(x.id), x]));
const funcs = byId(p.function), locs = byId(p.location), maps = byId(p.mapping);

console.log('string0 ' + JSON.stringify(str(0)));
for (const t of p.sampleType)
	console.log('sample_type ' + str(t.type) + ' ' + str(t.unit));
console.log('period_type ' + str(p.periodType.type) + ' ' + str(p.periodType.unit));
console.log('period ' + p.period + ' duration ' + p.durationNanos + ' time ' + p.timeNanos);
for (const m of p.mapping)
	console.log('mapping ' + m.id + ' ' + str(m.filename) + ' build_id ' + str(m.buildId) +
		' functions ' + m.hasFunctions + ' lines ' + m.hasLineNumbers);
for (const s of p.sample) {
	// location ids are leaf first; each location's lines innermost first.
	const frames = [];
	for (const id of s.locationId) {
		const l = locs.get(String(id));
		const m = maps.get(String(l.mappingId));
		for (const ln of l.line) {
			const f = funcs.get(String(ln.functionId));
			frames.push(str(f.name) + '@' + str(f.filename) + ':' + ln.line + '/start=' +
				f.startLine + (m ? '' : '/nomap'));
		}
	}
	console.log('sample ' + s.value.map(String).join(',') + ' ' + frames.join(' <- '));
}
