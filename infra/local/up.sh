#!/usr/bin/env bash
# `make up`: install what is missing, start the whole local stack, create buckets, queues,
# tables and schema, and say where everything listens. Every part keeps its data under the
# state folder; parts already running are left as they are, so `make up` also restarts
# whatever stopped or was killed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")

"$HERE/python.sh" install
"$HERE/webassets.sh" install
export CRASHFLOW_STACKWALKER=${CRASHFLOW_STACKWALKER:-$("$HERE/stackwalker.sh" install)}
"$HERE/postgres.sh" start
"$HERE/seaweedfs.sh" start
"$HERE/elasticmq.sh" start
"$HERE/hbase.sh" start
"$VENV/bin/crashflow" setup
"$HERE/functions.sh" start

cat <<MSG

crashflow is up (state and logs in $STATE):
  collect     http://127.0.0.1:${CRASHFLOW_COLLECT_PORT:-8001}/submit
  process     http://127.0.0.1:${CRASHFLOW_PROCESS_PORT:-8002}/
  aggregate   http://127.0.0.1:${CRASHFLOW_AGGREGATE_PORT:-8003}/
  query       http://127.0.0.1:${CRASHFLOW_QUERY_PORT:-8004}/api/
  PostgreSQL  127.0.0.1:${CRASHFLOW_PG_PORT:-5433} (user crashflow)
  HBase       Thrift1 127.0.0.1:${CRASHFLOW_HBASE_THRIFT_PORT:-9090}
  S3          http://127.0.0.1:${CRASHFLOW_S3_PORT:-8333} (SeaweedFS)
  SQS         http://127.0.0.1:${CRASHFLOW_SQS_PORT:-9324} (ElasticMQ)
  relay       queues -> process, schedules -> aggregate
Stop it all with: make down
MSG
