#!/usr/bin/env bash
# Store-level list benchmarks against the same queries written by hand, in one
# run, and their ratios:
#   - GET /apikeys' NData path (filter isActive + userName IN + createdAt range,
#     sort -createdAt, take 100, with its count) over 100k keys, PostgreSQL;
#   - the unfiltered assets page (size 25, sort name, exact total from the row
#     counters) over 100k devices, against the page by hand with count(*) and
#     the page alone, on PostgreSQL and SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./store -run '^$' -bench 'BenchmarkAPIKeysList|BenchmarkAssetsPage' -benchmem -count "${COUNT:-5}" -benchtime "${BENCHTIME:-2s}")
echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu)'
echo "$out" | awk '
  /^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name); sum[name] += $3; n[name]++ }
  function mean(k) { return sum[k] / n[k] }
  function ratio(label, a, b) {
    if (!n[a] || !n[b]) { print "no results for " a " or " b; bad = 1; return }
    printf "%-58s %10.0f / %10.0f ns/op = %.3f\n", label, mean(a), mean(b), mean(a) / mean(b)
  }
  END {
    ratio("apikeys list: ndata / handsql", "BenchmarkAPIKeysList/ndata", "BenchmarkAPIKeysList/handsql")
    for (i = 1; i <= 2; i++) {
      db = i == 1 ? "postgres" : "sqlite"
      p = "BenchmarkAssetsPage/" db "/"
      ratio("assets page, " db ": keyplane / hand page with count(*)", p "keyplane", p "handsql-count")
      ratio("assets page, " db ": keyplane / hand page alone", p "keyplane", p "handsql-page")
    }
    exit bad
  }'
