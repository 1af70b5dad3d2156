#!/bin/sh
# Install Debian's chromium for the headless browser tests (tests/web/test_browser_checkout.py).
#
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there. Needs root (or
# passwordless sudo) on a fresh machine; apt-get runs non-interactively after an update.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install-test-browser: $CHROMIUM is missing and installing it needs root" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-browser: apt-get not found (Debian/Ubuntu only); install chromium yourself" >&2
    exit 1
fi

# env, not export: sudo would drop an exported DEBIAN_FRONTEND.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
    echo "install-test-browser: chromium installed but $CHROMIUM is still missing" >&2
    exit 1
fi
