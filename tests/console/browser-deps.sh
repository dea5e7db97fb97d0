#!/usr/bin/env bash
# Install Debian's chromium for the console browser tests (tests/console), when missing.
# Playwright cannot download its own browser here; the tests drive /usr/bin/chromium.
# Used by `make browser-deps` and .ci/run. Idempotent; needs root (or sudo) and apt.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q --no-install-recommends chromium \
  || ($SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium)
/usr/bin/chromium --version
