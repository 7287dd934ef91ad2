#!/usr/bin/env bash
# ElasticMQ: the local stack's SQS-compatible queue server (Apache-2.0, jars from Maven
# Central), keeping its queues and messages in an H2 database file under the state folder.
#
#   infra/local/elasticmq.sh install   resolve the jar classpath with Maven (cached)
#   infra/local/elasticmq.sh start     install if needed, start, wait until it answers
#   infra/local/elasticmq.sh stop      clean shutdown (SIGTERM; SIGKILL after 30 s)
#   infra/local/elasticmq.sh status    exit 0 iff ours is running and answers SQS calls
#
# Env: CRASHFLOW_STATE, CRASHFLOW_CACHE, CRASHFLOW_SQS_PORT (9324),
#      CRASHFLOW_SQS_HEAP (256m), CRASHFLOW_AWS_REGION (us-east-1), JAVA (java), MVN (mvn).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HOST=127.0.0.1
PORT=${CRASHFLOW_SQS_PORT:-9324}
INFRA=$REPO/infra/elasticmq
HOME_DIR=$STATE/elasticmq
CONF=$HOME_DIR/conf
CP_FILE=$CACHE/elasticmq/classpath-$(sha256sum "$INFRA/pom.xml" | cut -c1-12).txt
# Marks the JVM as this state folder's queue server (see pid_owned).
MARK=-Dcrashflow.role=elasticmq@$STATE

install() { maven_classpath "$INFRA/pom.xml" "$CP_FILE"; }

# A real SQS call in the JSON protocol: the server is up and its queues are restored.
answers() {
  curl -sf -m 5 -o /dev/null -X POST "http://$HOST:$PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.ListQueues' -d '{}'
}

status() { pid_owned elasticmq "$MARK" && answers; }

# How many queues the database holds (0 without one). ElasticMQ answers requests before it
# has restored them: start() waits until it logged each as restored, so that nothing (say,
# `crashflow setup` creating a queue) races the restore.
persisted_queues() {
  [[ -f $HOME_DIR/data/queues.mv.db ]] || { echo 0; return; }
  "${JAVA:-java}" -cp "$(<"$CP_FILE")" org.h2.tools.Shell -url "jdbc:h2:$HOME_DIR/data/queues" \
    -user "" -password "" -sql "SELECT COUNT(*) FROM queue" 2>/dev/null | sed -n 2p | grep -E '^[0-9]+$' || echo 0
}

restored() { # LOG-OFFSET QUEUES
  status && (($(tail -c +"$(($1 + 1))" "$LOGS/elasticmq.log" | grep -c 'Restored [0-9]* messages in queue') >= $2))
}

start() {
  if status; then return 0; fi
  install
  pid_owned elasticmq "$MARK" && die "ElasticMQ (pid $(cat "$RUN/elasticmq.pid")) runs but does not answer on $PORT"
  port_freed "$PORT" || die "port $PORT is taken by something that is not this stack's ElasticMQ"
  mkdir -p "$CONF" "$HOME_DIR/data"
  sed -e "s#@HOST@#$HOST#g" -e "s#@PORT@#$PORT#g" -e "s#@DATA_DIR@#$HOME_DIR/data#g" \
      -e "s#@REGION@#${CRASHFLOW_AWS_REGION:-us-east-1}#g" "$INFRA/elasticmq.conf" > "$CONF/elasticmq.conf"
  cp "$INFRA/logback.xml" "$CONF/logback.xml"
  local queues offset
  queues=$(persisted_queues)
  offset=$(stat -c %s "$LOGS/elasticmq.log" 2>/dev/null || echo 0)
  # C1 only and the serial collector: on a small machine shared with everything else, the
  # C2 compiler's and G1's threads cost more CPU than they save a queue server (measured:
  # 2-3 ms of CPU per SendMessage after its first thousand requests, 6-11 ms with the
  # defaults, which were still compiling).
  start_bg elasticmq "${JAVA:-java}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Xmx"${CRASHFLOW_SQS_HEAP:-256m}" -XX:+ExitOnOutOfMemoryError "$MARK" \
    -Dconfig.file="$CONF/elasticmq.conf" -Dlogback.configurationFile="$CONF/logback.xml" \
    -Djava.io.tmpdir="$HOME_DIR/data" \
    -cp "$(<"$CP_FILE")" org.elasticmq.server.Main
  await_start elasticmq 90 restored "$offset" "$queues"
}

# SIGTERM runs ElasticMQ's shutdown hook; the database is consistent either way.
stop() { stop_pid elasticmq 30 "$MARK"; }

case ${1:-} in
  install|start|stop|status) "$1" ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
