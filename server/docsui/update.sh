#!/usr/bin/env bash
# Copies the Swagger UI files that the /docs page serves from
# node_modules/swagger-ui-dist (installed by `npm ci` at the repository root,
# version pinned in package.json) into server/docsui/dist/, which is committed
# and embedded into the binary.
#
# Usage (from anywhere; `make generate` calls it):
#   npm ci && bash server/docsui/update.sh
#
# dist/ is replaced as a whole, so the script is idempotent: the same
# swagger-ui-dist version gives byte-identical files, and a file dropped from
# the list below disappears from dist/. Only what the page loads is copied (no
# source maps, no standalone preset, no ES bundles), plus the licence files
# that redistributing Swagger UI requires.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$root/node_modules/swagger-ui-dist"
dst="$here/dist"

files=(
  swagger-ui-bundle.js              # Swagger UI with React and its other dependencies
  swagger-ui.css
  favicon-32x32.png
  LICENSE                           # Apache-2.0: a copy goes with every redistribution
  NOTICE
  swagger-ui-bundle.js.LICENSE.txt  # the licences of the libraries inside the bundle
)

if [[ ! -f "$src/package.json" ]]; then
  echo "update.sh: $src is missing: run 'npm ci' at the repository root first" >&2
  exit 1
fi

# The installed version must be the one package.json pins (a stale
# node_modules would silently vendor the wrong Swagger UI).
version_of() { sed -n 's/.*"'"$2"'":[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n1; }
want="$(version_of "$root/package.json" swagger-ui-dist)"
have="$(version_of "$src/package.json" version)"
if [[ -z "$want" || "$want" != "$have" ]]; then
  echo "update.sh: node_modules has swagger-ui-dist ${have:-?}, package.json pins ${want:-?}: run 'npm ci'" >&2
  exit 1
fi

tmp="$(mktemp -d "$here/.dist.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for f in "${files[@]}"; do
  if [[ ! -f "$src/$f" ]]; then
    echo "update.sh: swagger-ui-dist $have has no $f" >&2
    exit 1
  fi
  cp "$src/$f" "$tmp/$f"
  chmod 0644 "$tmp/$f"
done
printf '%s\n' "$have" >"$tmp/VERSION"
chmod 0755 "$tmp"

rm -rf "$dst"
mv "$tmp" "$dst"
trap - EXIT
echo "server/docsui/dist: swagger-ui-dist $have (${#files[@]} files)"
