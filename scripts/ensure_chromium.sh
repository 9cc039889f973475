#!/usr/bin/env bash
# The browser tests (tests/browser) drive the system's Chromium through Playwright's
# `executable_path`: Playwright's own browsers are never downloaded. This finds Chromium
# (CALLSCRIBE_CHROMIUM, else `chromium` or `chromium-browser` on PATH); when it is missing and this
# shell may install packages (root, with apt-get), it installs Debian's `chromium`; otherwise, or
# when that install fails, it says how to get one and exits 1 (`make install` and `make test` stop).
set -euo pipefail

find_chromium() {
  if [ -n "${CALLSCRIBE_CHROMIUM:-}" ]; then
    if [ -f "$CALLSCRIBE_CHROMIUM" ] && [ -x "$CALLSCRIBE_CHROMIUM" ]; then echo "$CALLSCRIBE_CHROMIUM"; fi
    return 0
  fi
  command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true
}

fail() {
  echo "error: $1" >&2
  cat >&2 <<'MSG'
  The browser tests (tests/browser) need Chromium from the system's packages.
  Install Debian's package:   sudo apt-get install -y chromium
  or point at a Chromium or Chrome binary:   export CALLSCRIBE_CHROMIUM=/path/to/chromium
  (Playwright's own browser downloads are not used: `playwright install` is never needed.)
MSG
  exit 1
}

if [ -n "${CALLSCRIBE_CHROMIUM:-}" ]; then
  path="$(find_chromium)"
  [ -n "$path" ] || fail "CALLSCRIBE_CHROMIUM=$CALLSCRIBE_CHROMIUM is not an executable file."
else
  path="$(find_chromium)"
  if [ -z "$path" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      fail "Chromium is not installed, and this shell cannot install it (that needs root and apt-get)."
    fi
    echo "Chromium is missing: installing Debian's package (apt-get install -y chromium)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      fail "installing Debian's chromium with apt-get failed (its message is above)."
    fi
    path="$(find_chromium)"
    [ -n "$path" ] || fail "apt-get installed chromium, but no chromium is on PATH."
  fi
fi
version="$("$path" --version 2>/dev/null | head -n 1 || true)"
echo "browser tests use ${version:-Chromium} ($path)"
