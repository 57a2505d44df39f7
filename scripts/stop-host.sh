#!/bin/sh
# Stop a host without dropping anyone: drain, then stop (docs/operations.md).
#
#   DRAIN_FILE=/run/intake/drain scripts/stop-host.sh <gunicorn master pid>
#
# 1. Creates DRAIN_FILE (the same path as the app's DRAIN_FILE setting): /readyz answers 503
#    "draining", so the load balancer takes the host out of rotation.
# 2. Waits DRAIN_SECONDS (default 15: longer than the load balancer's health-check
#    interval times its failure threshold), while requests already sent are served.
# 3. Sends SIGTERM to the gunicorn master: workers finish what they hold and the
#    connections already queued, then exit. Waits for the master to be gone.
# The next start of gunicorn removes DRAIN_FILE; a `kill -HUP` reload keeps it.
set -eu
pid="${1:?usage: stop-host.sh <gunicorn master pid>}"
: "${DRAIN_FILE:?set DRAIN_FILE to the path the app reads}"
touch "$DRAIN_FILE"
sleep "${DRAIN_SECONDS:-15}"
kill -TERM "$pid"
# gunicorn gives workers GUNICORN_GRACEFUL_TIMEOUT (20 s) before killing them.
waited=0
while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $(( ${GUNICORN_GRACEFUL_TIMEOUT:-20} + 10 )) ]; then
        echo "gunicorn $pid still running after ${waited}s" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
