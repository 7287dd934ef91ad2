#!/usr/bin/env bash
# rust-minidump's minidump-stackwalk, built once with cargo into the cache.
#   infra/local/stackwalker.sh install     prints the binary's path
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION=0.27.0  # keep in step with STACKWALKER_VERSION in shared/crashflow/settings.py
ROOT=$CACHE/mdsw-$VERSION
BIN=$ROOT/bin/minidump-stackwalk

install() {
  if [[ ! -x $BIN ]]; then
    command -v cargo >/dev/null || die "cargo is missing (install Rust with rustup)"
    log "building minidump-stackwalk $VERSION (a few minutes, once)"
    cargo install --locked --quiet minidump-stackwalk --version "$VERSION" --root "$ROOT"
  fi
  echo "$BIN"
}

case ${1:-} in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
