#!/usr/bin/env bash
# Builds the console (console/, Vite + Preact on the generated client in
# clients/ts) into server/consoleui/dist/, which is committed and embedded into
# the binary. `make generate` calls it; `make check-generate` fails when the
# committed dist/ differs from a fresh build.
#
#   npm --prefix console ci && bash server/consoleui/build.sh
#
# The build type-checks first (tsc --noEmit over console/src and
# clients/ts/src), so a spec change that breaks the console fails here. Vite's
# output is the same bytes for the same sources and pinned dependencies
# (content-hashed names, no timestamps, no source maps).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for dir in console clients/ts; do
  if [[ ! -d "$root/$dir/node_modules" ]]; then
    echo "build.sh: $dir/node_modules is missing: run 'make tooling' first" >&2
    exit 1
  fi
done

cd "$root/console"
npx --no-install tsc --noEmit -p tsconfig.json
npx --no-install tsc --noEmit -p tsconfig.node.json
npx --no-install vite build
echo "server/consoleui/dist: $(cd "$here/dist" && find . -type f | wc -l) files"
