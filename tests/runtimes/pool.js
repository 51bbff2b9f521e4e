// SPDX-License-Identifier: MIT
// libuv's thread pool for the threads suite (node pool.js TASKS ITERATIONS GAP_MS IDLE_MS): TASKS pbkdf2 calls of ITERATIONS on the pool, GAP_MS apart (0: all at once), then IDLE_MS idle.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const [tasks, iterations, gap, idle] = process.argv.slice(2).map(Number);
let started = 0, done = 0;

function finish() {
	setTimeout(() => console.log(`tasks=${done}`), idle);
}

function next() {
	if (started >= tasks)
		return;
	started++;
	crypto.pbkdf2('pw', 'salt', iterations, 32, 'sha512', () => {
		if (++done === tasks)
			finish();
		else if (gap)
			setTimeout(next, gap);
	});
	if (!gap)
		next();
}

// No task: one read still starts the pool's threads, which then idle.
if (tasks)
	next();
else
	fs.readFile(__filename, finish);
