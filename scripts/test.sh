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
# One BLAS thread, as `playground serve` has: small networks gain nothing from more, and
# on a busy machine their spinning slowed the conv tests tenfold.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest "$@"
