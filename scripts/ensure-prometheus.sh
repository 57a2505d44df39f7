#!/usr/bin/env bash
# The monitoring the tests start against `make cluster` (tests/cluster/test_monitoring.py,
# deploy/monitoring.py): Debian's Prometheus (which brings promtool, used by
# tests/ops/test_prometheus.py), prometheus-nginx-exporter (nginx's stub_status) and
# prometheus-node-exporter (disks, for the disk alerts). Installed when this machine allows
# it (root with apt-get); otherwise one line says so and those tests skip, except under
# CI, where they fail. The packages' own services are not started here: the tests start
# their own processes on free ports.
set -uo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-nginx-exporter >/dev/null 2>&1 || missing+=(prometheus-nginx-exporter)
command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's ${missing[*]} for the monitoring tests"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "Could not install ${missing[*]} with apt-get: the monitoring tests will be skipped"
else
  echo "No ${missing[*]} and no root to install them (apt-get install ${missing[*]}): the monitoring tests will be skipped"
fi
exit 0
