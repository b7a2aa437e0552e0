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
kp_name=run-live.sh
# shellcheck source=../../tools/serve-keyplane.sh
source "$client_dir/../../tools/serve-keyplane.sh"

for tool in go npm node od; do
  command -v "$tool" >/dev/null || { echo "run-live.sh: $tool is not installed" >&2; exit 1; }
done

pg_url=${KEYPLANE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
schema="ts_$(random_hex 6)"
schema_created=false

kp_on_exit() {
  if $schema_created; then
    psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 ||
      echo "run-live.sh: could not drop schema $schema" >&2
  fi
}

kp_build

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
  database_url="sqlite:$kp_tmp/keyplane.db"
fi

echo "== keyplane serve"
kp_serve KEYPLANE_DATABASE_URL="$database_url"

echo "== npm test against $kp_url"
test_status=0
KEYPLANE_URL="$kp_url" KEYPLANE_TOKEN="$kp_token" npm test || test_status=$?
exit "$test_status"
