"""Whether this instance should be sent traffic: not draining, the database answers, takes
writes, and its schema is at the migrations' head."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from app.db import DATABASE_UNAVAILABLE
from app.ops import migrations


@dataclass(frozen=True)
class Readiness:
    ready: bool
    details: dict[str, str] = field(default_factory=dict)


def check(engine: Engine, *, drain_file: str | None) -> Readiness:
    if drain_file and os.path.exists(drain_file):
        # Checked first and without the database: a host being stopped leaves the load
        # balancer's rotation whatever the database's state.
        return Readiness(False, {"draining": "yes"})
    try:
        with engine.connect() as conn:
            writable = _takes_writes(conn)
            current = migrations.current_revisions(conn)
    except DATABASE_UNAVAILABLE:
        return Readiness(False, {"database": "unreachable"})
    if not writable:
        # A replica promoted wrong, a disk remounted read-only: every form sent here would
        # get the "not saved yet" page. Out of rotation until it takes writes again.
        return Readiness(False, {"database": "read-only"})
    if current != migrations.head_revisions():
        return Readiness(False, {"database": "ok", "schema": "not at head"})
    return Readiness(True, {"database": "ok", "schema": "at head"})


def _takes_writes(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        # "on" in a hot standby, under default_transaction_read_only, or in a database
        # whose disk is full and set read-only by an operator.
        return conn.scalar(text("SHOW transaction_read_only")) == "off"
    database = make_url(str(conn.engine.url)).database
    if not database or database == ":memory:":
        return True
    path = Path(database)
    # SQLite writes the file and, in WAL mode, its directory (the -wal and -shm files).
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
