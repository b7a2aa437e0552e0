#!/usr/bin/env bash
# Generates Go code from openapi/openapi.yaml with ogen, a second, independent
# generator, and compiles it: the check that the spec does not depend on
# oapi-codegen's quirks (`make check-ogen`, run in CI). The output is thrown
# away; only "it generates and it compiles" is checked.
#
# ogen and the runtime its output needs are pinned by go.mod and go.sum beside
# this script (a module of its own, outside the main module). The output is
# built in a temporary copy of that module, with -mod=readonly, so nothing is
# resolved anew: the only network it may need is the Go module proxy, the first
# time, to fill the module cache.
#
# Usage: bash tools/ogencheck/check.sh   (GO=path/to/go and OGEN_LOGLEVEL=warn
# to see ogen's warnings, which are hidden by default, are optional)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
go="${GO:-go}"
export GOWORK=off

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$here/go.mod" "$here/go.sum" "$tmp/"

(cd "$here" && "$go" build -mod=readonly -o "$tmp/ogen" github.com/ogen-go/ogen/cmd/ogen)
"$tmp/ogen" -loglevel "${OGEN_LOGLEVEL:-error}" -config "$here/ogen.yml" -target "$tmp/api" -package api -clean "$root/openapi/openapi.yaml"
(cd "$tmp" && "$go" build -mod=readonly ./...)
echo "ogen $(cd "$here" && "$go" list -m -f '{{.Version}}' github.com/ogen-go/ogen): openapi/openapi.yaml generates and compiles"
