#!/usr/bin/env bash
# The backup drill (`make drill`, tests/ops/test_backup_drill.py, deploy/drill.py) takes
# and restores PostgreSQL backups with Debian's pgBackRest, the tool docs/operations.md
# gives for production. Installed when this machine allows it (root with apt-get);
# otherwise one line says so and the drill's PostgreSQL half is skipped, except under CI,
# where it fails. PostgreSQL itself (initdb, pg_ctl) is scripts/ensure-services.sh's.
set -uo pipefail
command -v pgbackrest >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's pgbackrest for the backup drill"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbackrest >/dev/null; then
    exit 0
  fi
  echo "Could not install pgbackrest with apt-get: the drill's PostgreSQL half will be skipped"
else
  echo "No pgbackrest and no root to install it (apt-get install pgbackrest): the drill's PostgreSQL half will be skipped"
fi
exit 0
