#!/usr/bin/env bash
# Installs the playground and starts it: ./scripts/serve.sh [--host H] [--port P] ...
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/playground serve "$@"
