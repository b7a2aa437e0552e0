#!/usr/bin/env bash
# Runs the console's end-to-end test: builds keyplane, serves it on a fresh
# SQLite database in a temporary directory with a random root token (the
# bootstrap admin credential), then drives headless Chromium through the
# console with playwright-core (console.test.mjs, Node's test runner). The
# screenshots go to docs/console/.
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
start_timeout=${KEYPLANE_START_TIMEOUT:-60}

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

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s $tmp/server.log ]]; then
    echo "== keyplane log (last 40 lines)" >&2
    tail -n 40 "$tmp/server.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== go build ./cmd/keyplane"
(cd "$repo_root" && go build -o "$tmp/keyplane" ./cmd/keyplane)

token="kp_root_test_$(random_hex 32)"
mkdir "$tmp/data"
echo "== keyplane serve (SQLite in $tmp/data)"
# Webhooks may reach 127.0.0.1: the test receives its connector's deliveries.
KEYPLANE_ROOT_TOKEN="$token" \
  KEYPLANE_DATA_DIR="$tmp/data" \
  KEYPLANE_DATABASE_URL="sqlite:$tmp/data/keyplane.db" \
  KEYPLANE_WEBHOOK_ALLOW_PRIVATE=true \
  "$tmp/keyplane" serve -addr 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!

url=
deadline=$((SECONDS + start_timeout))
while :; do
  line=$(grep -m1 '^keyplane listening on ' "$tmp/server.out" || true)
  if [[ $line =~ ^keyplane\ listening\ on\ (http://[^ ]+) ]]; then
    url=${BASH_REMATCH[1]}
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "console e2e: keyplane exited before listening" >&2
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "console e2e: keyplane did not print its URL within ${start_timeout}s" >&2
    exit 1
  fi
  sleep 0.1
done
echo "   $line"

echo "== node --test console/e2e/console.test.mjs against $url"
cd "$repo_root"
KEYPLANE_URL="$url" KEYPLANE_TOKEN="$token" KEYPLANE_CHROMIUM="$chromium" \
  KEYPLANE_SCREENSHOTS="$repo_root/docs/console" \
  node --test --test-reporter=spec console/e2e/console.test.mjs
