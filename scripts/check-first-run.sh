#!/usr/bin/env bash
# The README's first command, tried as a newcomer would: clone the commit being tested into
# a temporary folder (no .venv, no instance/), run `make run` there on a free port, and use
# the site (scripts/smoke.py). Stops everything it started, by process group. On any
# failure it says which step failed and prints the server's last log lines.
#
#   bash scripts/check-first-run.sh [REPO_DIR]
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d /tmp/first-run.XXXXXX)
log="$work/make-run.log"
pgid=""

finish() {
  status=$?
  if [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    echo "first run: FAILED; the last lines of make run's output:" >&2
    tail -n 40 "$log" >&2 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT

git clone --quiet --no-hardlinks "$repo" "$work/clone"
git -C "$work/clone" checkout --quiet "$commit"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "first run: make run on port $port in a fresh clone of $commit"

# Its own session, so one signal to the group stops make, gunicorn and every worker.
# DATABASE_URL and APP_ENV are unset: the newcomer's default is the embedded SQLite.
(cd "$work/clone" && exec env -u DATABASE_URL -u APP_ENV setsid make run PORT="$port") >"$log" 2>&1 &
pgid=$!

# A fresh clone installs everything first: allow a few minutes.
deadline=$((SECONDS + 600))
until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
  if ! kill -0 "$pgid" 2>/dev/null; then
    echo "first run: make run exited before the server answered" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "first run: the server did not answer on port $port within 10 minutes" >&2
    exit 1
  fi
  sleep 1
done

"$work/clone/.venv/bin/python" "$work/clone/scripts/smoke.py" "http://127.0.0.1:$port"
echo "first run: passed"
