#!/usr/bin/env bash
# The browser tests (tests/browser/) drive Debian's Chromium through Playwright;
# Playwright's own browser download is not used. Install Chromium when this machine
# allows it (root with apt-get); otherwise say so in one line: the browser tests then
# skip, except under CI, where they fail.
set -uo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing; installing Debian's chromium package for the browser tests"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
  echo "Could not install Chromium with apt-get: the browser tests will be skipped"
else
  echo "No Chromium at $CHROMIUM and no root to install it (apt-get install chromium): the browser tests will be skipped"
fi
exit 0
