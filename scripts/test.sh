#!/usr/bin/env bash
# Installs everything the tests need (dev extras, Debian's Chromium) and runs them all,
# the slow set included: ./scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
