#!/usr/bin/env bash
# Installs everything the tests need (dev extras, Debian's Chromium for the browser
# tests) and runs them all, the slow set included: ./scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
./scripts/install.sh dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
