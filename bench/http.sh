#!/usr/bin/env bash
# Measures keyplane's HTTP hot path side by side with a bare Echo v4 server,
# on this machine, in one run: each server pinned to one core (GOMAXPROCS=1,
# taskset -c 0), the load on the other (wrk, or bench/load for NWS4, which
# wrk cannot sign), 16 connections, the median of RUNS runs of DUR each, on
# PostgreSQL. It prints one table: requests per second, p99 latency, and the
# ratio each point is judged by (to bare Echo, or to the root bearer on the
# same operation), the median of ratios each taken against a run of the
# reference made just before. PostgreSQL at KEYPLANE_BENCH_POSTGRES_URL (default: the
# machine's), in a schema of its own, dropped at the end.
#
#   bash bench/http.sh            # RUNS=3 DUR=6s
#   RUNS=1 DUR=3s bash bench/http.sh
#   ONLY='healthz|NWS4' bash bench/http.sh   # only the points matching the regex
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${KEYPLANE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
RUNS=${RUNS:-3}
DUR=${DUR:-6s}
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

# wrk_run URL HEADER…: one wrk run, "requests/s p99".
wrk_run() {
	local url=$1
	shift
	local hdrs=()
	for h in "$@"; do hdrs+=(-H "$h"); done
	local out
	out=$(taskset -c 1 wrk -t2 -c$CONN -d"$DUR" --latency "${hdrs[@]}" "$url")
	if echo "$out" | grep -q 'Non-2xx'; then echo "warning: $url answered non-2xx" >&2; fi
	echo "$out" | awk '/^Requests\/sec/ {r = $2} $1 == "99%" {p = $2} END {print r, p}'
}
# load_run ARGS…: one run of bench/load (NWS4, which wrk cannot sign).
load_run() {
	local out
	out=$(taskset -c 1 "$tmp/load" -c $CONN -d "$DUR" "$@")
	if ! echo "$out" | grep -q 'non-200 0$'; then echo "warning: NWS4 answered non-200: $out" >&2; fi
	echo "$out" | awk '{print $2, $6}'
}
# The references the ratios are taken against.
bare() { wrk_run "$BASE/hello"; }
root_get() { wrk_run "$KP/v3/organizations/$ORG" "Authorization: Bearer $ROOT"; }
median() { sort -n | sed -n "$(((RUNS + 1) / 2))p"; }

# point NAME REF COMMAND…: $RUNS runs of COMMAND, each right after a run of
# its reference REF (bare, root_get, or none); the median requests/s and p99,
# and the median of the per-pair ratios. The machine's speed drifts over
# minutes here (±20 %), so a point is compared with a reference measured
# beside it, not with one measured at the start.
results=()
point() {
	local name=$1 ref=$2
	shift 2
	[[ $name =~ $ONLY ]] || return 0
	local runs=() ratios=() r p
	for _ in $(seq 1 "$RUNS"); do
		r=""
		if [[ $ref != none ]]; then r=$($ref); fi
		p=$("$@")
		runs+=("$p")
		if [[ -n $r ]]; then ratios+=("$(awk -v a="${p%% *}" -v b="${r%% *}" 'BEGIN {printf "%.3f", a / b}')"); fi
	done
	local ratio=""
	if [[ ${#ratios[@]} -gt 0 ]]; then
		ratio=$(printf '%s\n' "${ratios[@]}" | median)
		case $ref in
		bare) ratio="$(printf '%.2f' "$ratio") × bare Echo" ;;
		root_get) ratio="$(printf '%.2f' "$ratio") × root bearer" ;;
		esac
	fi
	results+=("$name|$(printf '%s\n' "${runs[@]}" | median)|$ratio")
	echo "   $name: ${results[-1]#*|}" >&2
}

echo "== warm-up" >&2
taskset -c 1 wrk -t2 -c$CONN -d5s -H "Authorization: Bearer $ROOT" "$KP/v3/organizations/$ORG" >/dev/null
echo "== load ($RUNS × $DUR per point and per reference, $CONN connections)" >&2
point "bare Echo v4 hello" none bare
point "keyplane /healthz" bare wrk_run "$KP/healthz"
point "GET organization, root bearer" bare root_get
point "GET organization, x-api-key" root_get wrk_run "$KP/v3/organizations/$ORG" "x-api-key: $SECRET"
point "GET organization, key acting as a user" root_get wrk_run "$KP/v3/organizations/$ORG" "x-api-key: $AS_USER"
point "GET organization, login bearer" root_get wrk_run "$KP/v3/organizations/$ORG" "Authorization: Bearer $LOGIN"
point "GET organization, NWS4 (Go signer)" root_get load_run -url "$KP/v3/organizations/$ORG" -client-id "$CLIENT" -secret "$SECRET"
point "GET device, x-api-key" none wrk_run "$KP/v3/devices/$DEV" "x-api-key: $SECRET"
point "GET /apikeys isActive=true, -createdAt, \$take=100 ($ROWS keys)" none wrk_run "$KP/apikeys?isActive=true&\$sort=-createdAt&\$take=100" "Authorization: Bearer $ROOT"
point "GET /apikeys, the same with \$skipTotal" none wrk_run "$KP/apikeys?isActive=true&\$sort=-createdAt&\$take=100&\$skipTotal=true" "Authorization: Bearer $ROOT"
point "GET /v3/assets size=25, name ($ROWS devices)" none wrk_run "$KP/v3/assets?workspaceId=$BIG&size=25&sort=name,asc" "Authorization: Bearer $ROOT"
point "GET /v3/assets, the same with skipTotal" none wrk_run "$KP/v3/assets?workspaceId=$BIG&size=25&sort=name,asc&skipTotal=true" "Authorization: Bearer $ROOT"
point "GET /v3/assets size=25, name, SQLite ($ROWS devices)" none wrk_run "$LITE/v3/assets?workspaceId=$LWS&size=25&sort=name,asc" "Authorization: Bearer $ROOT"

echo
printf '| %s | %s | %s | %s |\n' "point" "req/s" "p99" "ratio"
printf '|---|---|---|---|\n'
for r in "${results[@]}"; do
	IFS='|' read -r name measured ratio <<<"$r"
	read -r rps p99 <<<"$measured"
	printf '| %s | %.0f | %s | %s |\n' "$name" "$rps" "$p99" "$ratio"
done
