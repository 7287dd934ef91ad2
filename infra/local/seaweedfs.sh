#!/usr/bin/env bash
# SeaweedFS: the local stack's S3-compatible object store (Apache-2.0), built once with Go
# from the Go module proxy into the cache. One `weed server` process runs its master, a
# volume server, a filer (metadata in LevelDB) and the S3 gateway, all on 127.0.0.1, with
# every object on disk under the state folder.
#
#   infra/local/seaweedfs.sh install   build weed (once; prints its path)
#   infra/local/seaweedfs.sh start     install if needed, start, wait until S3 answers
#   infra/local/seaweedfs.sh stop      clean shutdown (SIGTERM; SIGKILL after 30 s)
#   infra/local/seaweedfs.sh status    exit 0 iff ours is running and S3 answers
#
# Env: CRASHFLOW_STATE, CRASHFLOW_CACHE, CRASHFLOW_S3_PORT (8333),
#      CRASHFLOW_SEAWEEDFS_MASTER_PORT (9333), _VOLUME_PORT (8336), _FILER_PORT (8888)
#      (each also uses its port + 10000 for gRPC), CRASHFLOW_AWS_ACCESS_KEY_ID /
#      CRASHFLOW_AWS_SECRET_ACCESS_KEY (testing / testing: the one identity S3 accepts).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# A pseudo-version: SeaweedFS's release tags are not semantic versions the module proxy
# serves. Go >= 1.26 builds it.
VERSION=v0.0.0-20261109003541-7506e5f91cd6
MODULE=github.com/seaweedfs/seaweedfs
BIN=$CACHE/seaweedfs-$VERSION/bin/weed
HOST=127.0.0.1
S3_PORT=${CRASHFLOW_S3_PORT:-8333}
MASTER_PORT=${CRASHFLOW_SEAWEEDFS_MASTER_PORT:-9333}
VOLUME_PORT=${CRASHFLOW_SEAWEEDFS_VOLUME_PORT:-8336}
FILER_PORT=${CRASHFLOW_SEAWEEDFS_FILER_PORT:-8888}
HOME_DIR=$STATE/seaweedfs
DATA=$HOME_DIR/data

install() {
  if [[ ! -x $BIN ]]; then
    command -v go >/dev/null || die "Go is missing (SeaweedFS is built from the Go module proxy)"
    log "building SeaweedFS $VERSION (several minutes, once)"
    # `go install module@version` refuses a module whose go.mod has replace directives,
    # as SeaweedFS's has: build in a copy of the downloaded module instead.
    local source work
    source=$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -d $source ]] || die "could not download $MODULE@$VERSION"
    work=$(mktemp -d)
    cp -r "$source/." "$work"
    chmod -R u+w "$work"
    mkdir -p "$(dirname "$BIN")"
    (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" ./weed) || { rm -rf "$work"; die "building weed failed"; }
    rm -rf "$work"
    mv "$BIN.tmp" "$BIN"
  fi
  echo "$BIN"
}

# A real S3 request, signed with the stack's keys: the gateway is up and its filer answers.
answers() {
  curl -s -m 5 -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:${CRASHFLOW_AWS_REGION:-us-east-1}:s3" \
    --user "${CRASHFLOW_AWS_ACCESS_KEY_ID:-testing}:${CRASHFLOW_AWS_SECRET_ACCESS_KEY:-testing}" \
    "http://$HOST:$S3_PORT/" | grep -q '^200$'
}

status() { pid_owned seaweedfs "-dir=$DATA" && answers; }

start() {
  if status; then return 0; fi
  install >/dev/null
  pid_owned seaweedfs "-dir=$DATA" && die "SeaweedFS (pid $(cat "$RUN/seaweedfs.pid")) runs but S3 does not answer on $S3_PORT"
  local port
  for port in "$S3_PORT" "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT"; do
    port_freed "$port" || die "port $port is taken by something that is not this stack's SeaweedFS"
    port_freed $((port + 10000)) || die "port $((port + 10000)) (gRPC) is taken"
  done
  mkdir -p "$DATA"
  # The S3 gateway's one identity is the stack's key pair (SeaweedFS reads it from AWS_*):
  # requests are checked against it, as AWS would. Telemetry (on by default) and the
  # Iceberg and Lance catalogue ports are turned off; the run directory is the working
  # directory, so that no stray filer.toml or master.toml is picked up.
  # A new bucket (a collection) takes one volume, not SeaweedFS's default seven: with
  # -volume.max=0 the volume slots are the free disk in GB, so seven a bucket left room for
  # only a few buckets (56 slots: 8 buckets here), and then every write to a new bucket
  # failed with InternalError ("No writable volumes and no free volumes left").
  (cd "$HOME_DIR" && start_bg seaweedfs env WEED_MASTER_VOLUME_GROWTH_COPY_1=1 AWS_ACCESS_KEY_ID="${CRASHFLOW_AWS_ACCESS_KEY_ID:-testing}" \
    AWS_SECRET_ACCESS_KEY="${CRASHFLOW_AWS_SECRET_ACCESS_KEY:-testing}" "$BIN" server -dir="$DATA" -ip="$HOST" -ip.bind="$HOST" \
      -master.port="$MASTER_PORT" -master.port.grpc=$((MASTER_PORT + 10000)) \
      -master.telemetry=false -master.volumeSizeLimitMB=1024 -volume.max=0 \
      -volume.port="$VOLUME_PORT" -volume.port.grpc=$((VOLUME_PORT + 10000)) \
      -filer -filer.port="$FILER_PORT" -filer.port.grpc=$((FILER_PORT + 10000)) \
      -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) \
      -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false)
  await_start seaweedfs 120 status
}

stop() { stop_pid seaweedfs 30 "-dir=$DATA"; }

case ${1:-} in
  install|start|stop|status) "$1" ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac
