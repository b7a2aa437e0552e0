#!/usr/bin/env bash
# Runs the TypeScript client's live tests: builds keyplane, serves it on a fresh
# PostgreSQL schema with a random root token, runs `npm test` against it, then
# stops the server and drops the schema (always, from the EXIT trap).
#
#   bash clients/ts/run-live.sh        # from the repository root (or anywhere)
#
# KEYPLANE_TEST_POSTGRES_URL: the PostgreSQL to use (default
#   postgres://postgres@127.0.0.1:5432/test?sslmode=disable, as `make test`).
#   When it is unreachable the server runs on the embedded SQLite instead,
#   except in CI (CI set), where a missing PostgreSQL is a failure.
# KEYPLANE_START_TIMEOUT: seconds to wait for the server to listen (default 60).
set -euo pipefail

client_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$client_dir/../.." && pwd)

command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
for tool in go npm node od; do
  command -v "$tool" >/dev/null || { echo "run-live.sh: $tool is not installed" >&2; exit 1; }
done

pg_url=${KEYPLANE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
start_timeout=${KEYPLANE_START_TIMEOUT:-60}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

tmp=$(mktemp -d)
schema="ts_$(random_hex 6)"
schema_created=false
server_pid=

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # SIGTERM drains in-flight requests; give it a bounded time, then kill it.
    local waited=0
    while kill -0 "$server_pid" 2>/dev/null && ((waited < 300)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "run-live.sh: keyplane did not stop within 30s of SIGTERM; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    local server_status=0
    wait "$server_pid" 2>/dev/null || server_status=$?
    if ((server_status != 0)); then
      echo "run-live.sh: keyplane exited with status $server_status after SIGTERM" >&2
    fi
  fi
  if [[ $status -ne 0 && -s $tmp/server.log ]]; then
    echo "== keyplane log (last 40 lines)" >&2
    tail -n 40 "$tmp/server.log" >&2 || true
  fi
  if $schema_created; then
    psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 ||
      echo "run-live.sh: could not drop schema $schema" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== go build ./cmd/keyplane"
(cd "$repo_root" && go build -o "$tmp/keyplane" ./cmd/keyplane)

cd "$client_dir"
if [[ ! -d node_modules ]]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi
echo "== npm run typecheck"
npm run --silent typecheck

if command -v psql >/dev/null && psql "$pg_url" -q -c 'SELECT 1' >/dev/null 2>&1; then
  echo "== PostgreSQL schema $schema"
  psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $schema" >/dev/null
  schema_created=true
  case $pg_url in
    *\?*) database_url="$pg_url&search_path=$schema" ;;
    *) database_url="$pg_url?search_path=$schema" ;;
  esac
elif [[ -n ${CI:-} ]]; then
  echo "run-live.sh: PostgreSQL is required in CI ($pg_url is not reachable)" >&2
  exit 1
else
  echo "== PostgreSQL not reachable: the embedded SQLite"
  database_url="sqlite:$tmp/keyplane.db"
fi

token="kp_root_test_$(random_hex 32)"
mkdir "$tmp/data"
echo "== keyplane serve"
KEYPLANE_ROOT_TOKEN="$token" \
  KEYPLANE_DATA_DIR="$tmp/data" \
  KEYPLANE_DATABASE_URL="$database_url" \
  "$tmp/keyplane" serve -addr 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!

# Poll stdout for "keyplane listening on http://HOST:PORT (database: …)".
url=
deadline=$((SECONDS + start_timeout))
while :; do
  line=$(grep -m1 '^keyplane listening on ' "$tmp/server.out" || true)
  if [[ $line =~ ^keyplane\ listening\ on\ (http://[^ ]+) ]]; then
    url=${BASH_REMATCH[1]}
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run-live.sh: keyplane exited before listening" >&2
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "run-live.sh: keyplane did not print its URL within ${start_timeout}s" >&2
    exit 1
  fi
  sleep 0.1
done
echo "   $line"

echo "== npm test against $url"
test_status=0
KEYPLANE_URL="$url" KEYPLANE_TOKEN="$token" npm test || test_status=$?
exit "$test_status"
