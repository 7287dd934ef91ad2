#!/usr/bin/env bash
# The web UI's browser libraries (shared/crashflow/web/package.json, from npm), copied into
# shared/crashflow/web/static/vendor/ where the query function serves them (no CDN).
# Redone when package-lock.json changes.
#   infra/local/webassets.sh install
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WEB=$REPO/shared/crashflow/web
VENDOR=$WEB/static/vendor
STAMP=$VENDOR/.installed-$(sha256sum "$WEB/package-lock.json" | cut -c1-12)
# node_modules file -> the name it is served under (/static/vendor/<name>)
declare -A FILES=(
  [uplot/dist/uPlot.iife.min.js]=uplot.js
  [uplot/dist/uPlot.min.css]=uplot.css
  [uplot/LICENSE]=uplot.LICENSE
)

install() {
  [[ -f $STAMP ]] && return 0
  command -v npm >/dev/null || die "npm is missing (install Node.js 18 or later)"
  log "installing the web UI's browser libraries from npm"
  npm ci --prefix "$WEB" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  mkdir -p "$VENDOR"
  rm -f "$VENDOR"/.installed-*
  local source
  for source in "${!FILES[@]}"; do cp "$WEB/node_modules/$source" "$VENDOR/${FILES[$source]}"; done
  touch "$STAMP"
}

case ${1:-} in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
