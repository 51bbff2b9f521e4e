# SPDX-License-Identifier: MIT
# make bench's table: "name mode median_ns median_bytes" lines in, the issue's table (what | today | floor | heaptrack | target | met) out, markdown.
function has(n, m) { return (n, m) in t && t[n, "bare"] > 0 }
function ratio(n, m) { return t[n, m] / t[n, "bare"] }
function cell(n, m) { return has(n, m) ? sprintf("%.3fx", ratio(n, m)) : "-" }
function row(what, today, fl, ht, target, ok) {
	printf "| %-30s | %-22s | %-8s | %-9s | %-26s | %-4s |\n", what, today, fl, ht, target, ok ? "met" : "MISS"
}
# A ratio row; lim: the largest ratio that meets the target.
function ratio_row(what, n, m, lim, target) {
	if (!has(n, m))
		return
	row(what, cell(n, m), cell(n, "floor"), cell(n, "heaptrack"), target, ratio(n, m) <= lim)
}
# The sampled mode's overhead against the floor's on the same workload:
# at most 1.5 times as much; with threads, also no more than on one.
function floor_row(what, n, one) {
	if (!has(n, "sampled") || !has(n, "floor"))
		return
	lim = 1 + 1.5 * (ratio(n, "floor") - 1)
	target = sprintf("<= %.3fx (1.5 floor's)", lim)
	if (one && has("micro", "sampled") && ratio("micro", "sampled") < lim) {
		lim = ratio("micro", "sampled")
		target = sprintf("<= %.3fx (1 thread's)", lim)
	}
	ratio_row(what, n, "sampled", lim, target)
}
# A client of a server on loopback: its wall time is the round trips',
# latency bound; the target is on its CPU time (user+sys, fifth column).
function cpu_row(what, n, m, lim) {
	if (!has(n, m) || !((n, m) in c) || c[n, "bare"] <= 0)
		return
	row(what, sprintf("%.3fx CPU, %.3fx wall", c[n, m] / c[n, "bare"], ratio(n, m)), "-", "-",
	    sprintf("<= %.2fx CPU (wall: latency)", lim), c[n, m] / c[n, "bare"] <= lim)
}
{ t[$1, $2] = $3; if (NF >= 5) c[$1, $2] = $5 }
END {
	printf "| %-30s | %-22s | %-8s | %-9s | %-26s | %-4s |\n", "what", "today", "floor", "heaptrack", "target", "met"
	printf "|%s|%s|%s|%s|%s|%s|\n", "--------------------------------", "------------------------",
		"----------", "-----------", "----------------------------", "------"
	floor_row("sampled, malloc micro", "micro", 0)
	floor_row("sampled, 2 threads", "threads2", 1)
	floor_row("sampled, 8 threads", "threads8", 1)
	ratio_row("sampled, sqlite3", "sqlite3", "sampled", 1.03, "<= 1.03x")
	ratio_row("sampled, redis", "server", "sampled", 1.03, "<= 1.03x")
	cpu_row("sampled, redis-benchmark", "rclient", "sampled", 1.03)
	cpu_row("sampled, pgbench -M prepared", "pgbench", "sampled", 1.03)
	ratio_row("sampled, python", "python", "sampled", 1.03, "<= 1.03x")
	if (("mutex", "sampled") in t) {
		d = t["mutex", "sampled"] - t["mutex", "bare"]
		row("uncontended mutex lock+unlock", sprintf("%+.2f ns (%.2f bare)", d, t["mutex", "bare"]),
			"-", "-", "<= +3 ns", d <= 3)
	}
	if (has("startup", "sampled")) {
		d = (t["startup", "sampled"] - t["startup", "bare"]) / 1e6
		row("start-up, /bin/true", sprintf("%+.1f ms (%.1f bare)", d, t["startup", "bare"] / 1e6),
			has("startup", "floor") ? sprintf("%+.1f ms", (t["startup", "floor"] - t["startup", "bare"]) / 1e6) : "-",
			"-", "<= +5 ms", d <= 5)
	}
	ratio_row("sampled, make -j2 (25 files)", "make", "sampled", 1.10, "<= 1.10x")
	ratio_row("run --cpu 99 Hz", "cpu", "cpu", 1.02, "<= 1.02x")
	ratio_row("--full, sqlite3", "sqlite3", "full", 1.6, "<= 1.6x")
	split("micro threads2 threads8 server python", fw, " ")
	for (i = 1; i <= 5; i++) {
		n = fw[i]
		if (!has(n, "full") || !has(n, "heaptrack"))
			continue
		lim = n == "server" ? 1.1 : 1 + (ratio(n, "heaptrack") - 1) / 2
		ratio_row("--full, " n, n, "full", lim,
			  sprintf(n == "server" ? "<= %.2fx" : "<= %.2fx (half heaptrack's)", lim))
	}
	# BASE=DIR: the other build's --full in the same rounds, for comparison
	split("sqlite3 micro threads2 threads8 python", bw, " ")
	for (i = 1; i <= 5; i++)
		if (has(bw[i], "base"))
			row("--full of BASE, " bw[i], cell(bw[i], "base"), cell(bw[i], "floor"),
			    cell(bw[i], "heaptrack"), "-", 1)
	printf "bare seconds:"
	split("micro sqlite3 python threads2 threads8 server rclient pgbench make cpu", bw, " ")
	for (i = 1; i <= 10; i++)
		if ((bw[i], "bare") in t)
			printf " %s %.3f", bw[i], t[bw[i], "bare"] / 1e9
	printf "\n"
}
