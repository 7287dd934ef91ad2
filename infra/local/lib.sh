# Shared helpers for the local-stack scripts: paths, ports, background processes.
# Sourced, not run.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${CRASHFLOW_STATE:-$REPO/.local}
CACHE=${CRASHFLOW_CACHE:-$HOME/.cache/crashflow}
VENV=${CRASHFLOW_VENV:-$REPO/.venv}
RUN=$STATE/run
LOGS=$STATE/logs
mkdir -p "$RUN" "$LOGS" "$CACHE"

log() { echo "${0##*/}: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_alive NAME: the process recorded in $RUN/NAME.pid is running (a zombie, killed but
# not yet reaped by its parent, is not).
pid_alive() {
  local pid stat
  [[ -f $RUN/$1.pid ]] || return 1
  pid=$(cat "$RUN/$1.pid")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ ${stat##*) } != Z* ]]
}

# pid_owned NAME TEXT: as pid_alive, and the process's command line holds TEXT (a pid
# file that outlived a reboot may name someone else's process).
pid_owned() {
  pid_alive "$1" || return 1
  tr '\0' ' ' < "/proc/$(cat "$RUN/$1.pid")/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# start_bg NAME CMD...: run CMD in the background, in its own session, logging to $LOGS/NAME.log.
# It gets none of this shell's other open files: a server outlives the command that started
# it, and an inherited descriptor would keep, say, a caller's flock(1) lock held for as long.
start_bg() {
  local name=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null
  ) &
  echo $! > "$RUN/$name.pid"
}

# stop_bg NAME [TEXT]: stop what start_bg started (TERM to its process group, then KILL);
# with TEXT, only if its command line holds TEXT (see pid_owned).
stop_bg() {
  local name=$1 pid i
  if ! pid_owned "$name" "${2:-}"; then rm -f "$RUN/$name.pid"; return 0; fi
  pid=$(cat "$RUN/$name.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$RUN/$name.pid"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# port_freed PORT: nothing listens on PORT, or stops within 30 s. A server killed a moment
# ago (say, `kill -9` then `make up`) keeps its ports until all its threads have exited,
# which on a loaded machine takes a while after its main thread is gone.
port_closed() { ! port_open "$1"; }
port_freed() { wait_for 30 "port $1" port_closed "$1"; }

# wait_for SECONDS DESCRIPTION CMD...: retry CMD until it succeeds or time runs out.
wait_for() {
  local seconds=$1 what=$2 i; shift 2
  for i in $(seq 1 $((seconds * 5))); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}

# maven_classpath POM FILE: resolve POM's runtime classpath with Maven into FILE, once
# (kept while every jar it names is still in the local Maven repository).
maven_classpath() {
  local pom=$1 file=$2 jar out
  if [[ -s $file ]]; then
    while IFS= read -r jar; do [[ -f $jar ]] || { jar=missing; break; }; done < <(tr ':' '\n' < "$file")
    [[ $jar != missing ]] && return 0
  fi
  mkdir -p "$(dirname "$file")"
  log "resolving $(basename "$(dirname "$pom")") jars with Maven (downloads once)..."
  out=$("${MVN:-mvn}" -B -q -U -Dstyle.color=never -f "$pom" dependency:build-classpath \
    -Dmdep.outputFile="$file.tmp" 2>&1) || { echo "$out" >&2; die "Maven could not resolve $pom"; }
  mv "$file.tmp" "$file"
}

# stop_pid NAME SECONDS [TEXT]: TERM the process of $RUN/NAME.pid (with TEXT, only if its
# command line holds TEXT), wait up to SECONDS for it to exit (a clean shutdown), then KILL it.
stop_pid() {
  local pid i
  if ! pid_owned "$1" "${3:-}"; then rm -f "$RUN/$1.pid"; return 0; fi
  pid=$(cat "$RUN/$1.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 5; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$1 did not stop in $2 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$1.pid"
}

# await_start NAME SECONDS CMD...: wait until CMD succeeds; else show NAME's log, stop what
# was started and fail.
await_start() {
  local name=$1 seconds=$2; shift 2
  wait_for "$seconds" "$name" "$@" && return 0
  tail -30 "$LOGS/$name.log" >&2
  stop_pid "$name" 10
  die "$name did not start in $seconds s"
}
