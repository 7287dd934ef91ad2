#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; `playwright install`
# cannot download browsers on a closed network). Installed once, as root.
#   infra/local/chromium.sh install     prints the binary's path
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BIN=${CRASHFLOW_CHROMIUM:-/usr/bin/chromium}

install() {
  if [[ ! -x $BIN ]]; then
    [[ $(id -u) == 0 ]] || die "Chromium is missing: run 'apt-get install -y chromium' as root (or set CRASHFLOW_CHROMIUM)"
    log "installing Debian's chromium package"
    # Several installs may run at once on one machine: wait for dpkg's lock rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      chromium fonts-dejavu-core >/dev/null
  fi
  echo "$BIN"
}

case ${1:-} in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
