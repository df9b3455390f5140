#!/usr/bin/env bash
# Install Debian's Chromium, the browser tests/server/test_browser.py and scripts/docs/web_screenshot.py drive through
# Python playwright (`playwright install` cannot download its own browser builds here, so they launch
# /usr/bin/chromium by path). Idempotent; installs from apt (as root) only when /usr/bin/chromium is missing.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "Chromium already present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "/usr/bin/chromium not found and no apt-get: install Chromium by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "installed the chromium package, but /usr/bin/chromium is still missing" >&2
  exit 1
fi
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
