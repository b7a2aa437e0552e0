#!/usr/bin/env bash
# Runs the console's end-to-end test: builds keyplane, serves it on a fresh
# SQLite database in a temporary directory with a random root token (the
# bootstrap admin credential), then drives headless Chromium through the
# console with playwright-core (console.test.mjs, Node's test runner). Its
# screenshots go to a temporary directory, or, with
# KEYPLANE_UPDATE_SCREENSHOTS=1 (`make screenshots`), to docs/console/: a
# test run leaves the tree as it was.
#
#   bash console/e2e/run.sh       # from anywhere; `make test-console` runs it
#
# Without /usr/bin/chromium the test is skipped with a message, except in CI
# (CI set), where a missing browser is a failure.
# KEYPLANE_CHROMIUM: the browser (default /usr/bin/chromium).
# KEYPLANE_START_TIMEOUT: seconds to wait for the server to listen (default 60).
set -euo pipefail

e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$e2e_dir/../.." && pwd)
chromium=${KEYPLANE_CHROMIUM:-/usr/bin/chromium}

command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
if [[ ! -x $chromium ]]; then
  if [[ -n ${CI:-} ]]; then
    echo "console e2e: $chromium is missing, and CI needs it (apt-get install chromium)" >&2
    exit 1
  fi
  echo "console e2e: skipped: $chromium is not installed (apt-get install chromium to run it)"
  exit 0
fi
for tool in go node od; do
  command -v "$tool" >/dev/null || { echo "console e2e: $tool is not installed" >&2; exit 1; }
done
if [[ ! -d $repo_root/console/node_modules/playwright-core ]]; then
  echo "console e2e: console/node_modules is missing: run 'make tooling'" >&2
  exit 1
fi

kp_name="console e2e"
# shellcheck source=../../tools/serve-keyplane.sh
source "$repo_root/tools/serve-keyplane.sh"
kp_build

echo "== keyplane serve (SQLite in $kp_tmp/data)"
# Webhooks may reach 127.0.0.1: the test receives its connector's deliveries.
kp_serve KEYPLANE_DATABASE_URL="sqlite:$kp_tmp/data/keyplane.db" KEYPLANE_WEBHOOK_ALLOW_PRIVATE=true

echo "== node --test console/e2e/console.test.mjs against $kp_url"
cd "$repo_root"
shots="$kp_tmp/screenshots"
if [[ ${KEYPLANE_UPDATE_SCREENSHOTS:-} == 1 ]]; then shots="$repo_root/docs/console"; fi
KEYPLANE_URL="$kp_url" KEYPLANE_TOKEN="$kp_token" KEYPLANE_CHROMIUM="$chromium" \
  KEYPLANE_SCREENSHOTS="$shots" \
  node --test --test-reporter=spec console/e2e/console.test.mjs
