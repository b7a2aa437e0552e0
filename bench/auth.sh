#!/usr/bin/env bash
# Times a GET /v3/organizations/{id} with each authentication scheme against an
# unauthenticated operation (/healthz) on the same in-process server, on
# PostgreSQL, and prints each scheme's cost as a ratio to the unauthenticated one.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./server -run '^$' -bench 'BenchmarkRequest' -benchmem -count "${COUNT:-3}" -benchtime "${BENCHTIME:-3000x}")
echo "$out" | grep -E '^(Benchmark|cpu)'
echo "$out" | awk '
  /^BenchmarkRequest\// {
    split($1, a, "/"); name = a[2]; sub(/-[0-9]+$/, "", name)
    sum[name] += $3; n[name]++
  }
  END {
    base = sum["unauthenticated"] / n["unauthenticated"]
    printf "%-16s %12s %8s\n", "scheme", "ns/op", "ratio"
    split("unauthenticated root-bearer login-bearer x-api-key nws4", order, " ")
    for (i = 1; i <= 5; i++) {
      s = order[i]
      if (!n[s]) continue
      printf "%-16s %12.0f %8.1f\n", s, sum[s] / n[s], (sum[s] / n[s]) / base
    }
  }'
