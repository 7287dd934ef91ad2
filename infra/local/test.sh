#!/usr/bin/env bash
# `make test`: the whole suite against real services. Services already running (say, from
# `make up`) are reused; those this script starts, it stops again when the tests end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")

"$HERE/python.sh" install
"$HERE/webassets.sh" install
# The browser tests drive Debian's Chromium through Playwright.
export CRASHFLOW_CHROMIUM=${CRASHFLOW_CHROMIUM:-$("$HERE/chromium.sh" install)}
export CRASHFLOW_STACKWALKER=${CRASHFLOW_STACKWALKER:-$("$HERE/stackwalker.sh" install)}
# dump_syms and the minidump-writer helper of the native crash test (cached after the first build).
"$HERE/native-tools.sh" install >/dev/null

# Every test run on this state folder holds a shared lock while it runs: a run stops what
# it started only when no other run still uses it (two runs share one moto, say).
mkdir -p "$RUN"
exec 7>"$RUN/tests.lock"
flock -s 7
started=()
cleanup() {
  local service
  flock -xn 7 || return 0
  for service in "${started[@]}"; do "$HERE/$service.sh" stop >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

# Most tests use moto, a throwaway S3/SQS; the end-to-end, restart and chaos tests use the
# servers `make up` runs (SeaweedFS and ElasticMQ, on CRASHFLOW_S3_PORT / _SQS_PORT).
export CRASHFLOW_AWS_ENDPOINT_URL=${CRASHFLOW_AWS_ENDPOINT_URL-http://127.0.0.1:${CRASHFLOW_MOTO_PORT:-5000}}
"$HERE/seaweedfs.sh" install >/dev/null

for service in postgres moto seaweedfs elasticmq hbase; do
  if ! "$HERE/$service.sh" status >/dev/null 2>&1; then
    # Recorded only once started: a start that fails (say, the port belongs to
    # something else) must not lead to stopping what was already there.
    "$HERE/$service.sh" start 7>&-  # a server must not hold the runs' lock
    started+=("$service")
  fi
done

cd "$REPO"
"$VENV/bin/python" -m pytest "$@"
