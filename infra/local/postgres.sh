#!/usr/bin/env bash
# Local PostgreSQL 15 (Debian's package) on its own port and data directory.
#   infra/local/postgres.sh install|start|stop|status
# Env: CRASHFLOW_PG_PORT (5433), CRASHFLOW_PG_USER / CRASHFLOW_PG_PASSWORD (crashflow).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PORT=${CRASHFLOW_PG_PORT:-5433}
PGUSER_NAME=${CRASHFLOW_PG_USER:-crashflow}
PGPASS=${CRASHFLOW_PG_PASSWORD:-crashflow}
PGBIN=${CRASHFLOW_PG_BIN:-/usr/lib/postgresql/15/bin}
DATA=$STATE/postgres

# The server refuses to run as root: as root, run it as Debian's unprivileged "postgres" user.
if [[ $(id -u) == 0 ]]; then
  AS=(runuser -u postgres --)
  # A state directory the postgres user cannot reach (say, under a private home) moves to /var/tmp.
  if id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
    # (named after the repository for the default state folder, as before; else after the folder)
    key=$REPO; [[ $STATE != "$REPO/.local" ]] && key=$STATE
    DATA=/var/tmp/crashflow-$(echo -n "$key" | sha256sum | cut -c1-12)/postgres
  fi
else
  AS=()
fi

install() {
  [[ -x $PGBIN/postgres ]] && return 0
  [[ $(id -u) == 0 ]] || die "PostgreSQL 15 is missing: run 'apt-get install postgresql-15' as root"
  log "installing PostgreSQL 15 from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  # Debian's package starts a cluster of its own on 5432; crashflow does not use it.
}

status() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

start() {
  install
  if status; then return 0; fi
  if [[ ! -f $DATA/PG_VERSION ]]; then
    mkdir -p "$DATA"
    local pwfile; pwfile=$(mktemp); echo "$PGPASS" > "$pwfile"
    if [[ ${#AS[@]} -gt 0 ]]; then chown -R postgres: "$(dirname "$DATA")"; chown postgres "$pwfile"; fi
    "${AS[@]}" "$PGBIN/initdb" -D "$DATA" -U "$PGUSER_NAME" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
  fi
  # After a killed postmaster, its backends take a moment to notice and exit; until then
  # PostgreSQL refuses to start on the same data directory: try again a few times.
  local try
  for try in 1 2 3 4 5 6; do
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$DATA' -c fsync=on" >/dev/null && break
    ((try < 6)) || { tail -20 "$DATA/server.log" >&2; die "PostgreSQL did not start"; }
    sleep 2
  done
  wait_for 30 postgres status || die "PostgreSQL does not answer on $PORT"
}

stop() {
  [[ -f $DATA/postmaster.pid ]] || return 0
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
}

case ${1:-} in
  install|start|stop|status) "$1" ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
