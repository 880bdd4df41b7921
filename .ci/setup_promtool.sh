#!/usr/bin/env bash
# Install promtool (from Debian's `prometheus` package) so tests/test_prom.py can run
# `promtool check metrics`. Idempotent: does nothing when promtool is already on PATH.
# Needs root (or sudo) and a Debian/Ubuntu apt. Services are not started here.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    echo "promtool already installed: $(command -v promtool)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends prometheus

if ! command -v promtool >/dev/null 2>&1; then
    echo "the prometheus package did not provide promtool on PATH" >&2
    exit 1
fi
promtool --version
