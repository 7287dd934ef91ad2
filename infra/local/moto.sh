#!/usr/bin/env bash
# moto's server, standing in for S3 and SQS locally.
#   infra/local/moto.sh start|stop|status       Env: CRASHFLOW_MOTO_PORT (5000)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PORT=${CRASHFLOW_MOTO_PORT:-5000}

# moto's dashboard page is static: unlike data.json, it answers at once however much
# the server holds.
status() { curl -sf -m 10 -o /dev/null "http://127.0.0.1:$PORT/moto-api/"; }

start() {
  if status; then return 0; fi
  port_open "$PORT" && die "port $PORT is taken by something that is not moto"
  start_bg moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT"
  wait_for 30 moto status || { tail -20 "$LOGS/moto.log" >&2; die "moto did not start"; }
}

stop() { stop_bg moto "moto_server -H 127.0.0.1 -p $PORT "; }

case ${1:-} in
  start|stop|status) "$1" ;;
  *) die "usage: $0 start|stop|status" ;;
esac
