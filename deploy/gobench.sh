#!/usr/bin/env bash
# The Go benchmarks of every package, then one table row per benchmark with
# the median of the runs (BENCH_COUNT, default 3) of each figure.
#
#   deploy/gobench.sh                        # everything
#   deploy/gobench.sh ./adapters/prom/ Scrape  # packages, then a -bench pattern
#
# Raw output goes to BENCH_OUT (default ./perf-results/gobench.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=${1:-./...}
pattern=${2:-.}
out=${BENCH_OUT:-perf-results/gobench.txt}
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2086
go test -run '^$' -bench "$pattern" -benchmem -count "${BENCH_COUNT:-3}" $pkgs | tee "$out" >&2
awk '
function median(list,   n, v, i, j, t) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
/^pkg: / { pkg = $2; sub(/^ddn\//, "", pkg) }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	key = pkg " " name
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	runs[key]++
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		if (!((key, unit) in vals)) units[key] = units[key] " " unit
		vals[key, unit] = vals[key, unit] " " $i
	}
}
END {
	print "| package | benchmark | runs | ns/op | B/op | allocs/op | other |"
	print "|---|---|---|---|---|---|---|"
	for (k = 1; k <= n; k++) {
		key = order[k]; split(key, p, " ")
		other = ""
		m = split(units[key], u, " ")
		for (i = 1; i <= m; i++) if (u[i] != "ns/op" && u[i] != "B/op" && u[i] != "allocs/op") other = other sprintf("%s %s ", median(vals[key, u[i]]), u[i])
		ns = (key, "ns/op") in vals ? median(vals[key, "ns/op"]) : "-"
		b = (key, "B/op") in vals ? median(vals[key, "B/op"]) : "-"
		a = (key, "allocs/op") in vals ? median(vals[key, "allocs/op"]) : "-"
		printf "| %s | %s | %d | %s | %s | %s | %s |\n", p[1], p[2], runs[key], ns, b, a, other
	}
}' "$out"
