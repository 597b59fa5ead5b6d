#!/usr/bin/env bash
# A base image for the Dockerfile without any container registry: Debian bookworm from
# Debian's own mirror, with its Python 3.11, imported into podman.
#   ./scripts/base-image.sh [IMAGE] [MIRROR]      (as root; needs debootstrap and podman)
#   podman build --format docker --build-arg BASE=localhost/bookworm-python -t playground .
set -euo pipefail
image=${1:-localhost/bookworm-python}
mirror=${2:-http://deb.debian.org/debian}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$mirror"
# pip in the build trusts what this machine trusts (a proxy's certificate authority too).
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import - "$image"
echo "base image: $image"
