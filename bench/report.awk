# report.awk: summarises bench/run.sh's raw lines
#   round conc target rps p50_us p99_us cpu_us redis_cpu_us errors upstream_cpu_us machine_us
# into one row per concurrency and target: medians over rounds, the median
# of the per-round ratios to the bare proxy of the same round, and the
# median of the per-round differences of the machine's CPU per request to
# the bare proxy's (what the target adds to the machine's budget).
function median(a, n,    i, j, x) {
	for (i = 2; i <= n; i++) {
		x = a[i]
		for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
		a[j + 1] = x
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	k = $2 SUBSEP $3
	rps[k, $1] = $4; p50[k, $1] = $5; p99[k, $1] = $6; cpu[k, $1] = $7; rcpu[k, $1] = $8; err[k] += $9
	ucpu[k, $1] = $10; mach[k, $1] = $11
	rounds[$1] = 1; concs[$2] = 1
}
END {
	nt = split(order, targets, " ")
	printf "%-5s %-9s %9s %8s %8s %7s %7s %7s %8s %6s %7s %7s %8s %7s\n", "conns", "target", "rps", "p50 ms", "p99 ms", "cpu µs", "redis", "upstr", "machine", "errors", "÷ bare", "Δp99 ms", "cpu÷bare", "+µs"
	for (c in concs) cl[++nc] = c + 0
	median(cl, nc)
	for (ci = 1; ci <= nc; ci++) {
		c = cl[ci]
		for (ti = 1; ti <= nt; ti++) {
			t = targets[ti]; k = c SUBSEP t; b = c SUBSEP "bare"; n = 0
			for (r in rounds) if ((k, r) in rps) {
				n++
				a1[n] = rps[k, r]; a2[n] = p50[k, r]; a3[n] = p99[k, r]; a4[n] = cpu[k, r]; a5[n] = rcpu[k, r]
				a6[n] = ucpu[k, r]; a7[n] = mach[k, r]
				q1[n] = ((b, r) in rps) ? rps[k, r] / rps[b, r] : 0
				q2[n] = ((b, r) in rps) ? (p99[k, r] - p99[b, r]) / 1000 : 0
				q3[n] = ((b, r) in rps) ? cpu[k, r] / cpu[b, r] : 0
				q4[n] = ((b, r) in rps) ? mach[k, r] - mach[b, r] : 0
			}
			if (!n) continue
			printf "%-5s %-9s %9.0f %8.2f %8.2f %7.0f %7.0f %7.0f %8.0f %6d %7.2f %7.2f %8.2f %7.0f\n", c, t, median(a1, n), median(a2, n) / 1000, median(a3, n) / 1000, median(a4, n), median(a5, n), median(a6, n), median(a7, n), err[k], median(q1, n), median(q2, n), median(q3, n), median(q4, n)
		}
	}
}
