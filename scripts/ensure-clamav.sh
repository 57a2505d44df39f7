#!/usr/bin/env bash
# The records tests (tests/patient/, issue 29) start Debian's clamd once per test session
# on a socket of their own, with a signature database they write (the EICAR test string):
# install the clamav-daemon package when this machine allows it (root with apt-get);
# otherwise say so in one line: those tests then skip, except under CI, where they fail.
# The package's own service and freshclam are not started here (production runs them:
# docs/production.md); the tests need neither.
set -uo pipefail
CLAMD="${CLAMD_PATH:-/usr/sbin/clamd}"
[ -x "$CLAMD" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "clamd is missing; installing Debian's clamav-daemon package for the records tests"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon >/dev/null; then
    exit 0
  fi
  echo "Could not install clamav-daemon with apt-get: the records tests will be skipped"
else
  echo "No clamd at $CLAMD and no root to install it (apt-get install clamav-daemon): the records tests will be skipped"
fi
exit 0
