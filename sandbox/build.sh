#!/usr/bin/env bash
# Build the sandbox image `xolver-sandbox:latest` with no image registry: debootstrap a minimal Debian,
# import it as a base image, then add Python and numpy/sympy/scipy from Debian's packages.
# Needs root, a running Docker engine, and Debian's package mirror. Idempotent: an existing image is kept
# unless FORCE=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${XOLVER_SANDBOX_IMAGE:-xolver-sandbox:latest}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "sandbox image $image already built"; exit 0
fi
if ! docker image inspect xolver-sandbox-base:bookworm >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  tar -C "$root" -c . | docker import - xolver-sandbox-base:bookworm >/dev/null
fi
docker build -q -t "$image" -f "$here/Dockerfile.offline" "$here" >/dev/null
echo "built sandbox image $image"
