#!/usr/bin/env bash
# A private PostgreSQL for the tests and the cluster benchmark: installs Debian's server if
# missing, starts one instance on 127.0.0.1 (as the postgres user, in its own directory)
# and prints its URL. ./scripts/postgres.sh [start|stop]; PLAYGROUND_PG_PORT (5433) and
# PLAYGROUND_PG_DIR (/tmp/playground-pg) choose where.
set -euo pipefail
PORT=${PLAYGROUND_PG_PORT:-5433}
DIR=${PLAYGROUND_PG_DIR:-/tmp/playground-pg}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }
elif [ "$(id -un)" = postgres ]; then as_pg() { "$@"; }
else as_pg() { sudo -u postgres "$@"; }; fi
if [ "${1:-start}" = stop ]; then
  as_pg "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
if [ ! -f "$DIR/PG_VERSION" ]; then
  $SUDO mkdir -p "$DIR"
  $SUDO chown postgres "$DIR"
  as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! as_pg "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/log" -w -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
fi
as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'playground'" | grep -q 1 || \
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres playground
echo "postgresql://postgres@127.0.0.1:$PORT/playground"
