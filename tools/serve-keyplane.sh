# Sourced, never run, by the scripts that test against the built binary
# (clients/ts/run-live.sh, console/e2e/run.sh): builds keyplane into a
# temporary directory, serves it on 127.0.0.1 with a random root token, and,
# when the script exits, stops it (SIGTERM, then SIGKILL after 30 s), shows
# the end of its log if the script failed, and removes the directory.
#
# Before sourcing, the script sets
#   kp_name     how messages name it ("run-live.sh")
# and may define a function kp_on_exit, run at exit while the server's
# temporary directory still exists (e.g. to drop a database schema).
#
# It then calls
#   kp_build                       go build ./cmd/keyplane
#   kp_serve [NAME=value …]        keyplane serve with these variables added
#                                  to its environment; waits until it listens
# and reads
#   kp_tmp                         the temporary directory
#   kp_token                       the root token (KEYPLANE_ROOT_TOKEN)
#   kp_url                         the server's URL, once kp_serve returns
#
# KEYPLANE_START_TIMEOUT: seconds to wait for the server to listen (default 60).

kp_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kp_start_timeout=${KEYPLANE_START_TIMEOUT:-60}

command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

kp_tmp=$(mktemp -d)
kp_token="kp_root_test_$(random_hex 32)"
kp_url=
kp_server_pid=

kp_stop() {
  [[ -n $kp_server_pid ]] && kill -0 "$kp_server_pid" 2>/dev/null || return 0
  kill -TERM "$kp_server_pid" 2>/dev/null || true
  # SIGTERM drains in-flight requests; give it a bounded time, then kill it.
  local waited=0
  while kill -0 "$kp_server_pid" 2>/dev/null && ((waited < 300)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$kp_server_pid" 2>/dev/null; then
    echo "$kp_name: keyplane did not stop within 30s of SIGTERM; killing it" >&2
    kill -KILL "$kp_server_pid" 2>/dev/null || true
  fi
  local server_status=0
  wait "$kp_server_pid" 2>/dev/null || server_status=$?
  if ((server_status != 0)); then
    echo "$kp_name: keyplane exited with status $server_status after SIGTERM" >&2
  fi
}

kp_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  kp_stop
  if [[ $status -ne 0 && -s $kp_tmp/server.log ]]; then
    echo "== keyplane log (last 40 lines)" >&2
    tail -n 40 "$kp_tmp/server.log" >&2 || true
  fi
  if declare -F kp_on_exit >/dev/null; then
    kp_on_exit || true
  fi
  rm -rf "$kp_tmp"
  exit "$status"
}
trap kp_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

kp_build() {
  echo "== go build ./cmd/keyplane"
  (cd "$kp_repo_root" && go build -o "$kp_tmp/keyplane" ./cmd/keyplane)
}

kp_serve() {
  mkdir -p "$kp_tmp/data"
  env KEYPLANE_ROOT_TOKEN="$kp_token" KEYPLANE_DATA_DIR="$kp_tmp/data" "$@" \
    "$kp_tmp/keyplane" serve -addr 127.0.0.1:0 >"$kp_tmp/server.out" 2>"$kp_tmp/server.log" &
  kp_server_pid=$!

  # Poll stdout for "keyplane listening on http://HOST:PORT (database: …)".
  local line deadline=$((SECONDS + kp_start_timeout))
  while :; do
    line=$(grep -m1 '^keyplane listening on ' "$kp_tmp/server.out" || true)
    if [[ $line =~ ^keyplane\ listening\ on\ (http://[^ ]+) ]]; then
      kp_url=${BASH_REMATCH[1]}
      break
    fi
    if ! kill -0 "$kp_server_pid" 2>/dev/null; then
      echo "$kp_name: keyplane exited before listening" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$kp_name: keyplane did not print its URL within ${kp_start_timeout}s" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "   $line"
}
