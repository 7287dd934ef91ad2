#!/usr/bin/env bash
# The project's virtualenv (.venv) with crashflow installed editable, redone when
# pyproject.toml changes; pip's own cache keeps reinstalls fast.
#   infra/local/python.sh install
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PYTHON=${PYTHON:-python3}
STAMP=$VENV/.installed-$(sha256sum "$REPO/pyproject.toml" | cut -c1-12)

install() {
  [[ -f $STAMP ]] && return 0
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "crashflow needs Python >= 3.11"
  [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
  log "installing Python dependencies into $VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$REPO[dev]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
}

case ${1:-} in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
