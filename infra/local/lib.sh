# Shared helpers for the local-stack scripts: paths, ports, background processes.
# Sourced, not run.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${CRASHFLOW_STATE:-$REPO/.local}
CACHE=${CRASHFLOW_CACHE:-$HOME/.cache/crashflow}
VENV=${CRASHFLOW_VENV:-$REPO/.venv}
RUN=$STATE/run
LOGS=$STATE/logs
mkdir -p "$RUN" "$LOGS" "$CACHE"

# The functions find moto through the S3/SQS endpoint setting: keep it on moto's port.
export CRASHFLOW_AWS_ENDPOINT_URL=${CRASHFLOW_AWS_ENDPOINT_URL-http://127.0.0.1:${CRASHFLOW_MOTO_PORT:-5000}}

log() { echo "${0##*/}: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive NAME: the process recorded in $RUN/NAME.pid is running.
pid_alive() {
  local pid
  [[ -f $RUN/$1.pid ]] || return 1
  pid=$(cat "$RUN/$1.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# start_bg NAME CMD...: run CMD in the background, in its own session, logging to $LOGS/NAME.log.
start_bg() {
  local name=$1; shift
  if pid_alive "$name"; then return 0; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# stop_bg NAME: stop what start_bg started (TERM to its process group, then KILL).
stop_bg() {
  local name=$1 pid i
  if ! pid_alive "$name"; then rm -f "$RUN/$name.pid"; return 0; fi
  pid=$(cat "$RUN/$name.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$RUN/$name.pid"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS DESCRIPTION CMD...: retry CMD until it succeeds or time runs out.
wait_for() {
  local seconds=$1 what=$2 i; shift 2
  for i in $(seq 1 $((seconds * 5))); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}
