#!/usr/bin/env bash
# The four functions (functions-framework, gunicorn) and the trigger relay.
#   infra/local/functions.sh start|stop|status
# Env: CRASHFLOW_{COLLECT,PROCESS,AGGREGATE,QUERY}_PORT (8001..8004), CRASHFLOW_RELAY_WORKERS
#      (4: crashes the relay delivers to process at once).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

declare -A PORTS=(
  [collect]=${CRASHFLOW_COLLECT_PORT:-8001}
  [process]=${CRASHFLOW_PROCESS_PORT:-8002}
  [aggregate]=${CRASHFLOW_AGGREGATE_PORT:-8003}
  [query]=${CRASHFLOW_QUERY_PORT:-8004}
)
NAMES=(collect process aggregate query)

start() {
  local name
  for name in "${NAMES[@]}"; do
    pid_owned "$name" "--port ${PORTS[$name]} " && continue
    port_freed "${PORTS[$name]}" || die "port ${PORTS[$name]} for $name is already taken"
    # Each gunicorn its own control socket and metrics directory, under the state folder.
    start_bg "$name" "$VENV/bin/crashflow" serve --source "$REPO/functions/$name/main.py" \
      --target "$name" --host 127.0.0.1 --port "${PORTS[$name]}" \
      --control-socket "$RUN/$name.ctl" --metrics-dir "$STATE/metrics/$name"
  done
  for name in "${NAMES[@]}"; do
    wait_for 60 "$name" port_open "${PORTS[$name]}" \
      || { tail -20 "$LOGS/$name.log" >&2; die "$name did not start"; }
  done
  pid_owned relay "crashflow relay" && return 0
  # Four deliveries at once: process (one worker, eight threads) overlaps one crash's
  # stackwalk with the others' storage round trips (tests/bench/pipeline.py, 300 crashes on
  # a busy machine: with two, 9.7 searchable/s of 13.6 accepted/s; with four, 10.2 of 11.2).
  CRASHFLOW_RELAY_METRICS_HOST=127.0.0.1 start_bg relay "$VENV/bin/crashflow" relay --workers "${CRASHFLOW_RELAY_WORKERS:-4}"
  sleep 0.5
  pid_alive relay || { tail -20 "$LOGS/relay.log" >&2; die "the relay did not start"; }
}

stop() {
  local name
  stop_bg relay "crashflow relay"
  for name in "${NAMES[@]}"; do stop_bg "$name" "--port ${PORTS[$name]} "; done
}

status() {
  local name ok=0
  for name in "${NAMES[@]}"; do pid_owned "$name" "--port ${PORTS[$name]} " || ok=1; done
  pid_owned relay "crashflow relay" || ok=1
  return $ok
}

case ${1:-} in
  start|stop|status) "$1" ;;
  *) die "usage: $0 start|stop|status" ;;
esac
