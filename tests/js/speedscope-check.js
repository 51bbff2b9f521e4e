// SPDX-License-Identifier: MIT
// Validate a speedscope JSON file against speedscope's published file-format schema (from its npm package).
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');

const schemaPath = path.join(path.dirname(require.resolve('speedscope/package.json')),
	'dist', 'release', 'file-format-schema.json');
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
if (!ajv.validate(schema, doc)) {
	console.log('invalid ' + ajv.errorsText(ajv.errors));
	process.exit(1);
}
const frames = doc.shared.frames;
for (const p of doc.profiles) {
	console.log('profile ' + p.type + ' ' + p.unit + ' ' + p.startValue + ' ' + p.endValue +
		' samples ' + p.samples.length);
	p.samples.forEach((s, i) => console.log('sample ' + p.weights[i] + ' ' +
		s.map((k) => frames[k].name + '@' + (frames[k].file || '') + ':' +
			(frames[k].line || 0)).join(';')));
}
console.log('valid');
