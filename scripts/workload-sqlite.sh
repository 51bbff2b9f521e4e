#!/bin/sh
# SPDX-License-Identifier: MIT
# Print a deterministic SQL workload (inserts in transactions, an index, group-bys): scripts/workload-sqlite.sh [ROWS] | sqlite3 :memory:
set -eu

rows=${1:-300000}
case $rows in
'' | *[!0-9]*)
	echo "usage: $0 [ROWS]  (default 300000)" >&2
	exit 2
	;;
esac

awk -v rows="$rows" 'BEGIN {
	srand(1);
	split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ");
	print "CREATE TABLE item(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, tag TEXT, v REAL);";
	print "CREATE TABLE tally(tag TEXT PRIMARY KEY, n INTEGER);";
	batch = 5000;
	for (i = 1; i <= rows; i++) {
		if (i % batch == 1)
			print "BEGIN;";
		k = int(rand() * 100000);
		name = w[1 + int(rand() * 12)] "-" w[1 + int(rand() * 12)] "-" int(rand() * 1000);
		tag = "t" (k % 997);
		# 20 rows per INSERT statement, then a tally upsert
		if (i % 20 == 1)
			printf "INSERT INTO item(k, name, tag, v) VALUES";
		printf "%s(%d, \x27%s\x27, \x27%s\x27, %.3f)", i % 20 == 1 ? "" : ",", k, name, tag, rand() * 1000;
		if (i % 20 == 0 || i == rows) {
			print ";";
			printf "INSERT INTO tally(tag, n) VALUES(\x27%s\x27, 1) ON CONFLICT(tag) DO UPDATE SET n = n + 1;\n", tag;
		}
		if (i % batch == 0 || i == rows)
			print "COMMIT;";
	}
	print "CREATE INDEX item_k ON item(k);";
	print "CREATE INDEX item_name ON item(name);";
	print "SELECT tag, count(*), sum(v), max(name) FROM item GROUP BY tag ORDER BY 2 DESC LIMIT 3;";
	print "SELECT substr(name, 1, instr(name, \x27-\x27) - 1) AS w, count(*), avg(v) FROM item GROUP BY w ORDER BY w LIMIT 3;";
	print "SELECT count(*) FROM item a JOIN tally b ON a.tag = b.tag WHERE a.k < 20000 AND b.n > 0;";
	print "SELECT k / 1000, group_concat(id) IS NOT NULL FROM item WHERE k BETWEEN 5000 AND 9000 GROUP BY k / 1000 LIMIT 2;";
	print "DELETE FROM item WHERE k % 7 = 0;";
	print "SELECT count(*) FROM item;";
}'
