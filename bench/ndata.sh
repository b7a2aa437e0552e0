#!/usr/bin/env bash
# Compares the NData list path of GET /apikeys with the same queries written by
# hand in SQL, over 100k rows on PostgreSQL, and prints the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./store -run '^$' -bench 'BenchmarkAPIKeysList' -benchmem -count "${COUNT:-5}" -benchtime "${BENCHTIME:-2s}")
echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu)'
echo "$out" | awk '
  /BenchmarkAPIKeysList\/ndata/   { n += $3; nc++ }
  /BenchmarkAPIKeysList\/handsql/ { h += $3; hc++ }
  END {
    if (!nc || !hc) { print "no results"; exit 1 }
    printf "ndata   %10.0f ns/op (mean of %d)\n", n / nc, nc
    printf "handsql %10.0f ns/op (mean of %d)\n", h / hc, hc
    printf "ratio ndata/handsql = %.3f\n", (n / nc) / (h / hc)
  }'
