#!/usr/bin/env bash
# Measures keyplane's HTTP hot path side by side with a bare Echo v4 server,
# on this machine, in one run: each server pinned to one core (GOMAXPROCS=1,
# taskset -c 0), the load on the other (wrk, or bench/load for NWS4, which
# wrk cannot sign), 16 connections, the median of RUNS runs of DUR each, on
# PostgreSQL. It prints one table: requests per second, p99 latency, and the
# ratio each point is judged by (to bare Echo, or to the root bearer on the
# same operation). PostgreSQL at KEYPLANE_BENCH_POSTGRES_URL (default: the
# machine's), in a schema of its own, dropped at the end.
#
#   bash bench/http.sh            # RUNS=3 DUR=8s
#   RUNS=1 DUR=3s bash bench/http.sh
#   ONLY='Echo|root|x-api' bash bench/http.sh   # only the points matching the regex (and bare Echo)
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${KEYPLANE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
RUNS=${RUNS:-3}
DUR=${DUR:-8s}
CONN=16
ROWS=${ROWS:-100000}
ONLY=${ONLY:-.}
for tool in wrk jq psql sqlite3 taskset; do
	command -v "$tool" >/dev/null || { echo "bench/http.sh needs $tool (apt-get install wrk jq postgresql-client sqlite3 util-linux)" >&2; exit 1; }
done

tmp=$(mktemp -d)
schema="bench_$(date +%s)_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build" >&2
go build -o "$tmp/keyplane" ./cmd/keyplane
go build -o "$tmp/echobase" ./bench/echobase
go build -o "$tmp/load" ./bench/load

psql -q "$PG" -c "CREATE SCHEMA $schema" >/dev/null
DSN="$PG&search_path=$schema"
ROOT=kp_root_bench_0123456789abcdef
KP=http://127.0.0.1:18080
BASE=http://127.0.0.1:18081
LITE=http://127.0.0.1:18082

taskset -c 0 env GOMAXPROCS=1 "$tmp/echobase" -addr 127.0.0.1:18081 >/dev/null 2>&1 &
pids+=($!)
taskset -c 0 env GOMAXPROCS=1 KEYPLANE_DATABASE_URL="$DSN" KEYPLANE_ROOT_TOKEN="$ROOT" KEYPLANE_DATA_DIR="$tmp" \
	KEYPLANE_ADDR=127.0.0.1:18080 KEYPLANE_LOG_LEVEL=error "$tmp/keyplane" serve >"$tmp/keyplane.log" 2>&1 &
pids+=($!)
mkdir "$tmp/lite"
taskset -c 0 env GOMAXPROCS=1 KEYPLANE_ROOT_TOKEN="$ROOT" KEYPLANE_DATA_DIR="$tmp/lite" \
	KEYPLANE_ADDR=127.0.0.1:18082 KEYPLANE_LOG_LEVEL=error "$tmp/keyplane" serve >"$tmp/lite.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fs "$KP/readyz" >/dev/null 2>&1 && curl -fs "$LITE/readyz" >/dev/null 2>&1 && curl -fs "$BASE/hello" >/dev/null 2>&1 && break
	sleep 0.1
done

echo "== data" >&2
H=(-H "Authorization: Bearer $ROOT" -H 'Content-Type: application/json')
post() { curl -fsS "${H[@]}" "$KP$1" -d "$2"; }
ORG=$(post /v3/organizations '{"name":"Bench"}' | jq -r .id)
WS=$(post /v3/workspaces "{\"name\":\"main\",\"organizationId\":\"$ORG\"}" | jq -r .id)
BIG=$(post /v3/workspaces "{\"name\":\"big\",\"organizationId\":\"$ORG\"}" | jq -r .id)
post /users '{"userName":"bench","password":"bench password 1234"}' >/dev/null
USER_ID=$(curl -fsS "${H[@]}" "$KP/users?userName=bench" | jq -r '.items[0].id')
curl -fsS -X PUT "${H[@]}" "$KP/v3/organizations/$ORG/members/$USER_ID" -d '{"role":"VIEWER"}' >/dev/null
LOGIN=$(curl -fsS -H 'Content-Type: application/json' "$KP/api/auth" -d '{"userName":"bench","password":"bench password 1234"}' | jq -r .tokenId)
PERMS='[{"scope":"ORGANIZATION","verbs":["READ"]},{"scope":"ASSET","verbs":["READ"]},{"scope":"DATA","verbs":["READ","CREATE"]}]'
KEY=$(post /apikeys "{\"name\":\"bench\",\"isActive\":true,\"organizationId\":\"$ORG\",\"permissions\":$PERMS}")
SECRET=$(echo "$KEY" | jq -r .clientSecret)
CLIENT=$(echo "$KEY" | jq -r .clientId)
AS_USER=$(post /apikeys "{\"name\":\"as bench\",\"isActive\":true,\"organizationId\":\"$ORG\",\"userName\":\"bench\"}" | jq -r .clientSecret)
DT=$(post /v3/device-types "{\"name\":\"t\",\"workspaceId\":\"$WS\"}" | jq -r .id)
FLOW=$(post /v3/data-flows "{\"name\":\"f\",\"workspaceId\":\"$WS\",\"deviceTypeId\":\"$DT\"}" | jq -r .id)
BIGFLOW=$(post /v3/data-flows "{\"name\":\"f\",\"workspaceId\":\"$BIG\",\"deviceTypeId\":\"$(post /v3/device-types "{\"name\":\"t\",\"workspaceId\":\"$BIG\"}" | jq -r .id)\"}" | jq -r .id)
DEV=$(post /v3/devices "{\"name\":\"d\",\"workspaceId\":\"$WS\",\"deviceId\":\"70B3D57ED0000001\",\"dataFlowId\":\"$FLOW\"}" | jq -r .id)
# $ROWS keys of the organization and $ROWS devices of one workspace, written
# straight into the tables (the API would take minutes).
PGOPTIONS="-c search_path=$schema" psql -q "$PG" >/dev/null <<SQL
INSERT INTO api_keys (id, client_id, secret_digest, secret_sealed, is_active, created_at, updated_at, name, permissions, version, organization_id)
SELECT substr(md5('id' || i), 1, 24), substr(md5('c' || i) || md5('d' || i), 1, 40), sha256(('s' || i)::bytea), '\x00'::bytea,
       i % 2 = 0, now() - i * interval '1 second', now(), 'key ' || i, '[]', 1, '$ORG'
FROM generate_series(1, $ROWS) i;
INSERT INTO devices (id, organization_id, workspace_id, device_id, data_flow_id, name, connectivity, online_timeout, properties, version, created_at, updated_at)
SELECT '02' || substr(md5('dev' || i), 1, 14), '$ORG', '$BIG', 'phys' || i, '$BIGFLOW', 'device ' || i, 'HTTP', 3600, '{}', 1, now(), now()
FROM generate_series(1, $ROWS) i;
SQL
# Settle the seed (statistics, visibility map, dirty pages flushed) so that the
# first point measured does not pay for it.
psql -q "$PG" -c "VACUUM ANALYZE $schema.api_keys" -c "VACUUM ANALYZE $schema.devices" -c "CHECKPOINT" >/dev/null
# The same devices on the SQLite default.
LORG=$(curl -fsS "${H[@]}" "$LITE/v3/organizations" -d '{"name":"Bench"}' | jq -r .id)
LWS=$(curl -fsS "${H[@]}" "$LITE/v3/workspaces" -d "{\"name\":\"big\",\"organizationId\":\"$LORG\"}" | jq -r .id)
LDT=$(curl -fsS "${H[@]}" "$LITE/v3/device-types" -d "{\"name\":\"t\",\"workspaceId\":\"$LWS\"}" | jq -r .id)
LFLOW=$(curl -fsS "${H[@]}" "$LITE/v3/data-flows" -d "{\"name\":\"f\",\"workspaceId\":\"$LWS\",\"deviceTypeId\":\"$LDT\"}" | jq -r .id)
sqlite3 "$tmp/lite/keyplane.db" >/dev/null <<SQL
PRAGMA busy_timeout = 10000;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO devices (id, organization_id, workspace_id, device_id, data_flow_id, name, connectivity, online_timeout, properties, version, created_at, updated_at)
SELECT printf('02%014x', i), '$LORG', '$LWS', 'phys' || i, '$LFLOW', 'device ' || i, 'HTTP', 3600, '{}', 1,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM n;
ANALYZE;
SQL

# measure NAME URL HEADER...: the median requests/s and its p99 over $RUNS runs of wrk.
results=()
measure() {
	local name=$1 url=$2
	shift 2
	[[ $name =~ $ONLY || $name == "bare Echo v4 hello" ]] || return 0
	local hdrs=()
	for h in "$@"; do hdrs+=(-H "$h"); done
	local runs=()
	for _ in $(seq 1 "$RUNS"); do
		local out rps p99
		out=$(taskset -c 1 wrk -t2 -c$CONN -d"$DUR" --latency "${hdrs[@]}" "$url")
		rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
		p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
		if echo "$out" | grep -q 'Non-2xx'; then echo "warning: $name answered non-2xx" >&2; fi
		runs+=("$rps $p99")
	done
	results+=("$name|$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")")
	echo "   $name: ${results[-1]#*|}" >&2
}
# measure_load NAME ARGS…: the same with bench/load (NWS4).
measure_load() {
	local name=$1
	shift
	[[ $name =~ $ONLY ]] || return 0
	local runs=()
	for _ in $(seq 1 "$RUNS"); do
		local out
		out=$(taskset -c 1 "$tmp/load" -c $CONN -d "$DUR" "$@")
		if ! echo "$out" | grep -q 'non-200 0$'; then echo "warning: $name answered non-200: $out" >&2; fi
		runs+=("$(echo "$out" | awk '{print $2, $6}')")
	done
	results+=("$name|$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")")
	echo "   $name: ${results[-1]#*|}" >&2
}

echo "== warm-up" >&2
taskset -c 1 wrk -t2 -c$CONN -d5s -H "Authorization: Bearer $ROOT" "$KP/v3/organizations/$ORG" >/dev/null
echo "== load ($RUNS × $DUR, $CONN connections)" >&2
measure "bare Echo v4 hello" "$BASE/hello"
measure "keyplane /healthz" "$KP/healthz"
measure "GET organization, root bearer" "$KP/v3/organizations/$ORG" "Authorization: Bearer $ROOT"
measure "GET organization, x-api-key" "$KP/v3/organizations/$ORG" "x-api-key: $SECRET"
measure "GET organization, key acting as a user" "$KP/v3/organizations/$ORG" "x-api-key: $AS_USER"
measure "GET organization, login bearer" "$KP/v3/organizations/$ORG" "Authorization: Bearer $LOGIN"
measure_load "GET organization, NWS4 (Go signer)" -url "$KP/v3/organizations/$ORG" -client-id "$CLIENT" -secret "$SECRET"
measure "GET device, x-api-key" "$KP/v3/devices/$DEV" "x-api-key: $SECRET"
measure "GET /apikeys isActive=true, -createdAt, \$take=100 ($ROWS keys)" "$KP/apikeys?isActive=true&\$sort=-createdAt&\$take=100" "Authorization: Bearer $ROOT"
measure "GET /apikeys, the same with \$skipTotal" "$KP/apikeys?isActive=true&\$sort=-createdAt&\$take=100&\$skipTotal=true" "Authorization: Bearer $ROOT"
measure "GET /v3/assets size=25, name ($ROWS devices)" "$KP/v3/assets?workspaceId=$BIG&size=25&sort=name,asc" "Authorization: Bearer $ROOT"
measure "GET /v3/assets, the same with skipTotal" "$KP/v3/assets?workspaceId=$BIG&size=25&sort=name,asc&skipTotal=true" "Authorization: Bearer $ROOT"
measure "GET /v3/assets size=25, name, SQLite ($ROWS devices)" "$LITE/v3/assets?workspaceId=$LWS&size=25&sort=name,asc" "Authorization: Bearer $ROOT"

echo
printf '| %s | %s | %s | %s |\n' "point" "req/s" "p99" "ratio"
printf '|---|---|---|---|\n'
value() { for r in "${results[@]}"; do [[ ${r%%|*} == "$1" ]] && { echo "${r#*|}" | awk '{print $1}'; return; }; done; }
echo_base=$(value "bare Echo v4 hello")
root=$(value "GET organization, root bearer")
for r in "${results[@]}"; do
	name=${r%%|*}
	read -r rps p99 <<<"${r#*|}"
	case $name in
	"keyplane /healthz" | "GET organization, root bearer") ratio=$(awk -v a="$rps" -v b="$echo_base" 'BEGIN {printf "%.2f × bare Echo", a / b}') ;;
	"GET organization, "*) ratio=$(awk -v a="$rps" -v b="$root" 'BEGIN {printf "%.2f × root bearer", a / b}') ;;
	*) ratio="" ;;
	esac
	printf '| %s | %.0f | %s | %s |\n' "$name" "$rps" "$p99" "$ratio"
done
