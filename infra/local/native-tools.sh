#!/usr/bin/env bash
# The native tools of the end-to-end crash test, built once with cargo into the cache
# (like minidump-stackwalk): Mozilla's dump_syms (crates.io) and crashflow's own test
# helper tests/native/crashdump (rust-minidump's minidump-writer), rebuilt when its source
# changes.
#   infra/local/native-tools.sh install     prints "dump_syms <path>" and "crashdump <path>"
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DUMP_SYMS_VERSION=2.3.9
DUMP_SYMS=$CACHE/dump_syms-$DUMP_SYMS_VERSION/bin/dump_syms
CRASHDUMP_SOURCE=$REPO/tests/native/crashdump
# Compiled dependencies are kept between helper versions.
CRASHDUMP_TARGET=$CACHE/cargo-target/crashdump

install() {
  command -v cargo >/dev/null || die "cargo is missing (install Rust with rustup)"
  # One build at a time, whoever else (another worktree's make test) asks meanwhile.
  exec 9>"$CACHE/.native-tools.lock"
  flock 9
  if [[ ! -x $DUMP_SYMS ]]; then
    log "building dump_syms $DUMP_SYMS_VERSION (a few minutes, once)"
    # Without the default http feature: symbol files are made from local binaries only.
    cargo install --locked --quiet dump_syms --version "$DUMP_SYMS_VERSION" \
      --no-default-features --features cli --root "$CACHE/dump_syms-$DUMP_SYMS_VERSION"
  fi
  echo "dump_syms $DUMP_SYMS"

  # The helper reads x86-64 registers (see its source).
  [[ $(uname -m) == x86_64 ]] || return 0
  local hash root
  hash=$(cat "$CRASHDUMP_SOURCE/Cargo.toml" "$CRASHDUMP_SOURCE/Cargo.lock" "$CRASHDUMP_SOURCE"/src/*.rs | sha256sum | cut -c1-12)
  root=$CACHE/crashdump-$hash
  if [[ ! -x $root/bin/crashdump ]]; then
    log "building the minidump-writer test helper (a minute or two, once per change)"
    CARGO_TARGET_DIR=$CRASHDUMP_TARGET cargo install --locked --quiet --path "$CRASHDUMP_SOURCE" --root "$root"
  fi
  echo "crashdump $root/bin/crashdump"
}

case ${1:-} in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
