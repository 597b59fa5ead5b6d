#!/usr/bin/env bash
# Installs everything the tests need (the dev and cluster extras, Debian's Chromium for the
# browser tests, a private PostgreSQL) and runs them all, the slow set included:
# ./scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
./scripts/install.sh dev cluster
.venv/bin/ruff check .
# The REST and websocket modules run on SQLite and on PostgreSQL (tests/conftest.py's
# BOTH_STORES), each test in a schema of its own in this server's database; a URL given
# beforehand is used as it is.
if [ -z "${PLAYGROUND_TEST_DATABASE_URL:-}" ]; then
  PLAYGROUND_TEST_DATABASE_URL=$(./scripts/postgres.sh start)
fi
export PLAYGROUND_TEST_DATABASE_URL
# One BLAS thread, as `playground serve` has: small networks gain nothing from more, and
# on a busy machine their spinning slowed the conv tests tenfold.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# Two test processes (pytest-xdist), one per core of the 2-core machine CI runs on: the
# suite waits on browsers, sockets and subprocesses as much as it computes. A test that
# needs a sequence of steps is one test: the processes share out tests, not files.
exec .venv/bin/python -m pytest -n "${PLAYGROUND_TEST_PROCESSES:-2}" "$@"
