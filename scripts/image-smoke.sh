#!/usr/bin/env bash
# Builds the image with podman and checks what a deployment relies on: the health check
# (also with `serve --port`), the README's REST example, `podman stop` with a run going
# (clean, under 5 s, the run saved), the CPU quota, and a bind mount uid 10001 cannot write.
#   ./scripts/image-smoke.sh          (as root, with podman; BASE: see scripts/base-image.sh)
# Environment: IMAGE, BASE (build arg; empty: the Dockerfile's), BUILD_OPTS (e.g.
# "--isolation chroot"), RUN_OPTS (e.g. "--runtime runc --ulimit nofile=1024:1024"),
# SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-localhost/playground}
BASE=${BASE:-}
read -r -a build_opts <<< "${BUILD_OPTS:-}"
read -r -a run_opts <<< "${RUN_OPTS:-}"
name=playground-smoke-$$
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
work=$(mktemp -d)
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; podman logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
run() { podman run -d --name "$name" "${run_opts[@]}" "$@" >/dev/null; }
up() {  # until /healthz answers on $1 (a hang guard, not a speed check)
    for _ in $(seq 600); do curl -sf "$1/healthz" >/dev/null && return 0; sleep 0.1; done
    fail "no answer from $1"
}
healthy() { podman healthcheck run "$name" >/dev/null 2>&1 \
    || podman exec "$name" playground healthcheck || fail "health check: $1"; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    podman build --format docker "${build_opts[@]}" ${BASE:+--build-arg BASE="$BASE"} \
        -t "$IMAGE" .
fi
podman image inspect "$IMAGE" --format '{{json .Config.Healthcheck}}' | grep -q healthcheck \
    || fail "the image has no HEALTHCHECK (podman needs --format docker)"

echo "== the server, its health check, the README's REST example"
run -p "127.0.0.1:$port:8000" "$IMAGE"
up "$url"
podman exec "$name" playground healthcheck || fail "health check"
podman top "$name" pid args | grep -q "^1 .*playground serve" || fail "the server is not process 1"
created=$(curl -sf -X POST "$url/api/experiments" -H 'content-type: application/json' \
    -d '{"dataset": {"name": "xor"}, "hidden_layers": [{"units": 4}]}')
id=$(echo "$created" | json '["id"]')
auth="authorization: Bearer $(echo "$created" | json '["edit_token"]')"
trained=$(curl -sf -X POST "$url/api/experiments/$id/train" -H "$auth" \
    -H 'content-type: application/json' -d '{"epochs": 200, "wait": true}')
echo "trained: epoch $(echo "$trained" | json '["epoch"]'), test accuracy" \
    "$(echo "$trained" | json '["metrics"]["test_accuracy"]')"

echo "== podman stop with a run going"
curl -sf -X POST "$url/api/experiments/$id/train" -H "$auth" \
    -H 'content-type: application/json' -d '{}' >/dev/null
for _ in $(seq 600); do
    seen=$(curl -sf "$url/api/experiments/$id" | json '["epoch"]')
    [ "$seen" -gt 300 ] && break; sleep 0.1
done
start=$(date +%s.%N)
podman stop "$name" >/dev/null
took=$(python3 -c "import time; print(round(time.time() - $start, 2))")
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
echo "stopped in $took s, exit code $code (the run was at epoch $seen)"
[ "$code" = 0 ] || fail "exit code $code"
python3 -c "import sys; sys.exit($took >= 5)" || fail "stop took $took s"
podman logs "$name" 2>&1 | grep -q "Application shutdown complete" || fail "no clean shutdown"
podman start "$name" >/dev/null
up "$url"
after=$(curl -sf "$url/api/experiments/$id")
echo "after a restart: epoch $(echo "$after" | json '["epoch"]'), $(echo "$after" | json '["status"]')"
[ "$(echo "$after" | json '["epoch"]')" -ge "$seen" ] || fail "the run was not saved"
podman rm -f "$name" >/dev/null

echo "== serve --port: the health check follows"
run -p "127.0.0.1:$port:9000" "$IMAGE" playground serve --port 9000
up "$url"
healthy "serve --port 9000"
podman rm -f "$name" >/dev/null

echo "== --cpus 1: one training process"
run --cpus 1 "$IMAGE"
workers=$(podman exec "$name" python -c "from backend.settings import Settings; print(Settings().workers)")
echo "workers: $workers (host: $(nproc) CPUs)"
[ "$workers" = 1 ] || fail "--cpus 1 gave $workers workers"
podman rm -f "$name" >/dev/null

echo "== a bind mount uid 10001 cannot write"
mkdir -p "$work/data"
chmod 755 "$work/data"
run -v "$work/data:/data" "$IMAGE"
podman wait "$name" >/dev/null || true
podman logs "$name" 2>&1 | tail -1
podman logs "$name" 2>&1 | grep -q "chown 10001" || fail "no message that says what to do"
podman rm -f "$name" >/dev/null
run -p "127.0.0.1:$port:8000" -v "$work/data:/data:U" "$IMAGE"
up "$url"
echo "with :U it serves"
echo "all checks passed"
