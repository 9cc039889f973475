#!/usr/bin/env bash
# The browser tests (tests/browser) drive the system's Chromium through Playwright's
# `executable_path`: Playwright's own browsers are never downloaded. This finds Chromium
# (CALLSCRIBE_CHROMIUM, else `chromium` or `chromium-browser` on PATH); when it is missing and this
# shell may install packages (root, with apt-get), it installs Debian's `chromium`; otherwise it says
# how and fails.
set -euo pipefail

find_chromium() {
  if [ -n "${CALLSCRIBE_CHROMIUM:-}" ]; then
    if [ -x "$CALLSCRIBE_CHROMIUM" ]; then echo "$CALLSCRIBE_CHROMIUM"; fi
    return 0
  fi
  command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true
}

path="$(find_chromium)"
if [ -z "$path" ] && [ -z "${CALLSCRIBE_CHROMIUM:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing: installing Debian's package (apt-get install chromium)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  path="$(find_chromium)"
fi
if [ -z "$path" ]; then
  cat >&2 <<'MSG'
error: the browser tests need Chromium and none was found.
  Install Debian's package:   sudo apt-get install -y chromium
  or point at a Chromium or Chrome binary:   export CALLSCRIBE_CHROMIUM=/path/to/chromium
(Playwright's own browser downloads are not used: `playwright install` is never needed.)
MSG
  exit 1
fi
echo "browser tests use $("$path" --version 2>/dev/null | head -n 1) ($path)"
