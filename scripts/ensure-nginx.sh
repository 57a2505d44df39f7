#!/usr/bin/env bash
# `make cluster`, its tests (tests/cluster/) and `make bench-cluster` run Debian's nginx
# (the nginx-light package: the proxy, cache and upstream modules are all it needs).
# Install it when this machine allows it (root with apt-get); otherwise say so in one line:
# the cluster tests then skip, except under CI, where they fail. The package's own service
# is not started here (Debian's policy-rc.d in containers; the cluster starts its own nginx).
set -uo pipefail
NGINX="${NGINX_BIN:-/usr/sbin/nginx}"
[ -x "$NGINX" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "nginx is missing; installing Debian's nginx-light package for the cluster"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; then
    exit 0
  fi
  echo "Could not install nginx with apt-get: the cluster tests will be skipped"
else
  echo "No nginx at $NGINX and no root to install it (apt-get install nginx-light): the cluster tests will be skipped"
fi
exit 0
