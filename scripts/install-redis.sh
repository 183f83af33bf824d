#!/bin/sh
# Installs redis-server (Debian's package) for the terasort.vs_redis benchmark,
# unless one is already on PATH. Needs root (or sudo) and apt.
#   sh scripts/install-redis.sh
set -eu
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server already installed: $(redis-server --version)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y redis-server
# Debian's package starts a system-wide redis on port 6379; the benchmark
# starts its own on a free port and does not need that one.
redis-server --version
