"""The SQLite default's backup: a consistent copy while the app keeps serving.

SQLite's online backup API (Python's ``sqlite3.Connection.backup``, the same thing the
``sqlite3`` shell's ``.backup`` does), in one step: the copy is the database as one read
transaction saw it, with every transaction committed before that and none after. The
app's writers carry on (WAL mode: a reader never blocks them). The copy is checked with
``PRAGMA integrity_check`` and is readable by its owner only: it is patient data.
(``flask intake backup-sqlite FILE``; docs/operations.md, Backups.)
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

# Waits for a writer's checkpoint at most this long, as the app's own connections do.
_BUSY_MS = 15000


class BackupFailed(RuntimeError):
    """The copy did not pass SQLite's integrity check; nothing was left at the destination."""


def copy(source: Path, destination: Path) -> datetime:
    """Copy ``source`` to the new file ``destination``; returns when the copy was taken."""
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        taken = datetime.now(UTC)
        # pages=-1: the whole database in one step, so in one read transaction.
        src.backup(dst, pages=-1)
        (result,) = dst.execute("PRAGMA integrity_check").fetchone()
        # A single file, whatever the source's journal mode: nothing left in a -wal file.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        src.close()
        dst.close()
    if result != "ok":
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"the copy failed SQLite's integrity check: {result}")
    partial.rename(destination)
    return taken
