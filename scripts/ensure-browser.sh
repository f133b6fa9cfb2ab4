#!/bin/sh
# Make sure the headless Chromium the console's browser tests drive is installed: Debian's
# `chromium` package (Playwright drives it; it never downloads a browser of its own).
# Idempotent; `make setup-dev` runs it. Needs root (or sudo) for apt when Chromium is missing.
# LEMBED_CHROMIUM overrides the path (default /usr/bin/chromium).
set -eu
CHROMIUM="${LEMBED_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-browser: no $CHROMIUM and no apt-get; install Chromium and set LEMBED_CHROMIUM" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
echo "ensure-browser: installing Debian's chromium (for tests/server/test_console_browser.py)" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
"$CHROMIUM" --version
