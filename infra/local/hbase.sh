#!/usr/bin/env bash
# Local Apache HBase 2.6 (standalone HMaster + embedded ZooKeeper + one
# in-process RegionServer) and its Thrift1 gateway, from Maven Central jars.
#
#   infra/local/hbase.sh install   resolve the jar classpath with mvn (cached)
#   infra/local/hbase.sh start     install if needed, start both JVMs, wait until usable
#   infra/local/hbase.sh stop      clean shutdown of what `start` started
#   infra/local/hbase.sh status    exit 0 iff both are running and Thrift answers
#
# Env: CRASHFLOW_STATE (default <repo>/.local), CRASHFLOW_CACHE (~/.cache/crashflow),
#      CRASHFLOW_HBASE_HOST (127.0.0.1), CRASHFLOW_HBASE_THRIFT_PORT (9090),
#      CRASHFLOW_HBASE_ZK_PORT (2182), CRASHFLOW_HBASE_MASTER_PORT (16100),
#      CRASHFLOW_HBASE_RS_PORT (16120), CRASHFLOW_HBASE_HEAP (1g),
#      CRASHFLOW_HBASE_THRIFT_HEAP (256m), CRASHFLOW_HBASE_START_TIMEOUT (180 s),
#      JAVA (java), MVN (mvn), PYTHON (python3, stdlib only).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
INFRA=$REPO/infra/hbase
STATE=${CRASHFLOW_STATE:-$REPO/.local}/hbase
CACHE=${CRASHFLOW_CACHE:-$HOME/.cache/crashflow}/hbase
HOST=${CRASHFLOW_HBASE_HOST:-127.0.0.1}
THRIFT_PORT=${CRASHFLOW_HBASE_THRIFT_PORT:-9090}
ZK_PORT=${CRASHFLOW_HBASE_ZK_PORT:-2182}
MASTER_PORT=${CRASHFLOW_HBASE_MASTER_PORT:-16100}
RS_PORT=${CRASHFLOW_HBASE_RS_PORT:-16120}
START_TIMEOUT=${CRASHFLOW_HBASE_START_TIMEOUT:-180}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
PYTHON=${PYTHON:-python3}
CONF=$STATE/conf DATA=$STATE/data LOGS=$STATE/logs RUN=$STATE/run
STARTED=()
CP_FILE=$CACHE/classpath-$(sha256sum "$INFRA/pom.xml" | cut -c1-12).txt

# What HBase 2.6's bin/hbase adds on JDK >= 11 (add_jdk11_jvm_flags), plus the
# java.util opens from its jdk11/jdk17 test flags.
JDK_FLAGS=(
  -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
  --add-modules jdk.unsupported
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-exports java.base/sun.net.dns=ALL-UNNAMED
  --add-exports java.base/sun.net.util=ALL-UNNAMED
)

log() { echo "hbase.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

classpath_ok() {
  [[ -s $CP_FILE ]] || return 1
  local jar
  while IFS= read -r jar; do [[ -f $jar ]] || return 1; done < <(tr ':' '\n' < "$CP_FILE")
}

cmd_install() {
  if classpath_ok; then log "classpath cached: $CP_FILE"; return; fi
  mkdir -p "$CACHE"
  log "resolving HBase jars with maven (first run downloads ~140 MB)..."
  # -U: don't trust a cached "not found" from an earlier resolution attempt
  local out
  out=$("$MVN" -B -q -U -Dstyle.color=never -f "$INFRA/pom.xml" dependency:build-classpath \
    -Dmdep.outputFile="$CP_FILE.tmp" 2>&1) || { echo "$out" >&2; die "maven could not resolve $INFRA/pom.xml"; }
  rm -f "$CACHE"/classpath-*.txt   # classpaths of older pom versions
  mv "$CP_FILE.tmp" "$CP_FILE"
  classpath_ok || die "resolved classpath references missing jars: $CP_FILE"
  log "classpath cached: $CP_FILE ($(tr ':' '\n' < "$CP_FILE" | wc -l) jars)"
}

write_conf() {
  mkdir -p "$CONF" "$DATA/tmp" "$LOGS" "$RUN"
  sed -e "s#@DATA_DIR@#$DATA#g" -e "s#@HOST@#$HOST#g" -e "s#@ZK_PORT@#$ZK_PORT#g" \
      -e "s#@MASTER_PORT@#$MASTER_PORT#g" -e "s#@RS_PORT@#$RS_PORT#g" \
      -e "s#@THRIFT_PORT@#$THRIFT_PORT#g" "$INFRA/hbase-site.xml" > "$CONF/hbase-site.xml"
  cp "$INFRA/log4j2.properties" "$CONF/log4j2.properties"
}

# pid of a running role (master|thrift) started from this state dir, else fail
pid_of() {
  local f=$RUN/$1.pid pid
  [[ -f $f ]] && pid=$(<"$f") && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dcrashflow.hbase.role=$1@$STATE " &&
    echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

launch() { # role heap main-class args...
  local role=$1 heap=$2; shift 2
  : > "$LOGS/$role.out"
  [[ -f $LOGS/$role.log ]] && mv -f "$LOGS/$role.log" "$LOGS/$role.log.prev"
  STARTED+=("$role")
  setsid "$JAVA" -Xmx"$heap" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    "-Dcrashflow.hbase.role=$role@$STATE" "${JDK_FLAGS[@]}" \
    -Dlog4j2.configurationFile="file:$CONF/log4j2.properties" \
    -Dcrashflow.hbase.logfile="$LOGS/$role.log" \
    -Dhbase.log.dir="$LOGS" -Djava.io.tmpdir="$DATA/tmp" \
    -cp "$CONF:$(<"$CP_FILE")" "$@" >> "$LOGS/$role.out" 2>&1 < /dev/null 9>&- &
  echo $! > "$RUN/$role.pid"
}

# A real Thrift1 request over the unframed binary protocol (happybase's
# default): getTableNames (master reachable) and a get of the 'default' row of
# hbase:namespace (meta + namespace regions online on the regionserver).
probe() {
  "$PYTHON" - "$HOST" "$THRIFT_PORT" <<'PY'
import socket, struct, sys
def s(b): return struct.pack(">i", len(b)) + b
def call(name, args):
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15) as c:
        c.sendall(struct.pack(">I", 0x80010001) + s(name) + struct.pack(">i", 1) + args + b"\0")
        f = c.makefile("rb")
        def rd(n):
            b = f.read(n)
            if len(b) != n: raise EOFError("connection closed")
            return b
        v, = struct.unpack(">I", rd(4))
        rd(struct.unpack(">i", rd(4))[0] + 4)              # method name, seqid
        ftype, fid = struct.unpack(">bh", rd(3))
        if v & 0xff != 2 or ftype != 15 or fid != 0: sys.exit(f"{name}: no success reply")
        return struct.unpack(">bi", rd(5))[1]            # list size
call(b"getTableNames", b"")
n = call(b"getRow", b"\x0b\x00\x01" + s(b"hbase:namespace") + b"\x0b\x00\x02" + s(b"default")
         + b"\x0d\x00\x03\x0b\x0b" + struct.pack(">i", 0))
if n != 1: sys.exit("namespace table not ready")
PY
}

cmd_status() {
  local m t rc=0
  m=$(pid_of master) && log "master running (pid $m)" || { log "master not running"; rc=1; }
  t=$(pid_of thrift) && log "thrift running (pid $t) on $HOST:$THRIFT_PORT" || { log "thrift not running"; rc=1; }
  if ((rc == 0)); then
    probe 2>/dev/null && log "thrift answers: ready" || { log "thrift does not answer (yet)"; rc=1; }
  fi
  return $rc
}

fail_start() {
  log "ERROR: $1"
  local f
  for f in "$LOGS/master.out" "$LOGS/master.log" "$LOGS/thrift.out" "$LOGS/thrift.log"; do
    [[ -s $f ]] && { echo "----- tail $f" >&2; tail -n 30 "$f" >&2; }
  done
  for f in "${STARTED[@]}"; do stop_role "$f" 10; done   # don't leave half a stack behind
  exit 1
}

cmd_start() {
  if pid_of master >/dev/null && pid_of thrift >/dev/null && probe 2>/dev/null; then
    log "already running and healthy (thrift $HOST:$THRIFT_PORT)"; return
  fi
  cmd_install
  write_conf
  local t0=$SECONDS p ports=()
  pid_of master >/dev/null || ports+=("$ZK_PORT" "$MASTER_PORT" "$RS_PORT")
  pid_of thrift >/dev/null || ports+=("$THRIFT_PORT")
  for p in "${ports[@]}"; do
    port_busy "$p" && die "port $HOST:$p is already in use by something else"
  done
  if ! pid_of master >/dev/null; then
    log "starting HMaster (standalone, zk :$ZK_PORT, master :$MASTER_PORT, rs :$RS_PORT)"
    launch master "${CRASHFLOW_HBASE_HEAP:-1g}" org.apache.hadoop.hbase.master.HMaster start
  fi
  if ! pid_of thrift >/dev/null; then
    log "starting Thrift1 server on $HOST:$THRIFT_PORT"
    launch thrift "${CRASHFLOW_HBASE_THRIFT_HEAP:-256m}" org.apache.hadoop.hbase.thrift.ThriftServer \
      -threadpool -b "$HOST" -p "$THRIFT_PORT" start
  fi
  until probe 2>/dev/null; do
    pid_of master >/dev/null || fail_start "HMaster exited during startup"
    pid_of thrift >/dev/null || fail_start "Thrift server exited during startup"
    ((SECONDS - t0 < START_TIMEOUT)) || fail_start "not ready after ${START_TIMEOUT}s"
    sleep 1
  done
  log "ready in $((SECONDS - t0))s: thrift $HOST:$THRIFT_PORT (logs: $LOGS)"
}

wait_exit() { # pid seconds
  local i
  for ((i = 0; i < $2 * 5; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  return 1
}

stop_role() { # role graceful-seconds
  local pid
  pid=$(pid_of "$1") || { rm -f "$RUN/$1.pid"; return 0; }
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  wait_exit "$pid" "$2" || { log "$1 did not exit, killing"; kill -KILL "$pid" 2>/dev/null || true; wait_exit "$pid" 10 || true; }
  rm -f "$RUN/$1.pid"
}

cmd_stop() {
  stop_role thrift 30
  local pid
  if pid=$(pid_of master); then
    # like bin/stop-hbase.sh: ask the cluster to shut down (regions are closed
    # and memstores flushed) and wait. Fallback: SIGTERM (the JVM shutdown hook
    # also closes and flushes regions), then SIGKILL.
    log "shutting down HMaster (pid $pid)"
    timeout 60 "$JAVA" -Xmx256m "${JDK_FLAGS[@]}" \
      -Dlog4j2.configurationFile="file:$CONF/log4j2.properties" \
      -Dcrashflow.hbase.logfile="$LOGS/stop.log" -cp "$CONF:$(<"$CP_FILE")" \
      org.apache.hadoop.hbase.master.HMaster stop --shutDownCluster > "$LOGS/stop.out" 2>&1 < /dev/null &&
      wait_exit "$pid" 90 || log "clean shutdown failed (see $LOGS/stop.out), sending SIGTERM"
  fi
  stop_role master 30
  log "stopped"
}

lock() { mkdir -p "$RUN"; exec 9> "$RUN/.lock"; flock -w 600 9 || die "another hbase.sh holds $RUN/.lock"; }

case ${1:-} in
  install) cmd_install ;;
  start) lock; cmd_start ;;
  stop) lock; cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
