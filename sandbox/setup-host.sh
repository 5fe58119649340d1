#!/usr/bin/env bash
# Prepare a Debian host (as root) for both sandbox backends: Docker's engine and the sandbox image, and
# the system Python packages the process sandbox offers programs; and Debian's Chromium, which the
# viewer's browser tests drive (about 20 s to install). Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
/usr/bin/python3 -c "import numpy, sympy, scipy" 2>/dev/null || need+=(python3-numpy python3-sympy python3-scipy)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  (setsid dockerd >/tmp/xolver-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /tmp/xolver-dockerd.log" >&2; exit 1; }
fi
bash "$here/build.sh"
