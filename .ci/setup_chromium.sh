#!/usr/bin/env bash
# Install headless Chromium (Debian's `chromium` package) so tests/test_report_browser.py
# can screenshot the HTML report. Idempotent: does nothing when chromium is already on PATH.
# Needs root (or sudo) and a Debian/Ubuntu apt.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(command -v chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core

if ! command -v chromium >/dev/null 2>&1; then
    echo "the chromium package did not provide chromium on PATH" >&2
    exit 1
fi
chromium --version
