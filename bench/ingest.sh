#!/usr/bin/env bash
# Ingest against the database's own bulk path, in one run, and their ratios
# (issue 11: ≥ 0.8 on PostgreSQL): ingest.Service.Store of 10,000 samples per
# op (envelope already decoded; schema checks, the idempotency hash and key,
# delivery planning, the streamed write) against writing the same rows into
# the same tables by hand —
#   - PostgreSQL: pgx CopyFrom in a transaction (Store streams with CopyFrom);
#   - SQLite: one prepared single-row INSERT per row in a transaction (Store
#     uses multi-row INSERTs of 16 rows);
# each with samples only and with a webhook connector (a delivery per sample).
# ratio is the median over the ops of baseline time / Store time, so 1.0 means
# as fast as the hand-written write. The machine may be shared: the two are
# measured alternately in every op, and only the ratio compares.
# BenchmarkBackfillBulkHTTP does the same through the whole server.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./ingest -run '^$' -bench 'BenchmarkIngestVsCopy' -count "${COUNT:-3}" -benchtime "${BENCHTIME:-8x}")
echo "$out" | grep -E '^(Benchmark|goos|goarch|cpu)'
echo "$out" | awk '
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkIngestVsCopy\//, "", name)
    for (i = 3; i < NF; i += 2) {
      if ($(i+1) == "ratio") { r[name] = r[name] " " $i; sum[name] += $i; n[name]++ }
      if ($(i+1) == "store-samples/s") s[name] += $i
      if ($(i+1) == "baseline-samples/s") c[name] += $i
    }
    if (!(name in seen)) { seen[name] = 1; order[++k] = name }
  }
  END {
    if (!k) { print "no results"; exit 1 }
    printf "%-26s %14s %14s %7s  %s\n", "store / hand-written", "store/s", "baseline/s", "ratio", "(per run)"
    for (j = 1; j <= k; j++) {
      m = order[j]
      printf "%-26s %14.0f %14.0f %7.3f  (%s )\n", m, s[m] / n[m], c[m] / n[m], sum[m] / n[m], r[m]
    }
  }'
# The same over HTTP: a bulk backfill through the whole server (gate, handler,
# Store) against pgx CopyFrom of as many rows, PostgreSQL.
http=$(go test ./server -run '^$' -bench 'BenchmarkBackfillBulkHTTP' -count "${COUNT:-3}" -benchtime "${BENCHTIME:-8x}")
echo "$http" | grep -E '^Benchmark'
echo "$http" | awk '
  /^Benchmark/ { for (i = 3; i < NF; i += 2) if ($(i+1) == "ratio") { sum += $i; n++; r = r " " $i } }
  END { if (!n) { print "no results"; exit 1 } printf "%-26s %38.3f  (%s )\n", "http bulk backfill / copy", sum / n, r }'
