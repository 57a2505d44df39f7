"""Where the schema is, compared with where the migrations say it should be."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@cache
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def current_revisions(conn: Connection) -> frozenset[str]:
    # Read directly: alembic's MigrationContext would log two lines at every probe.
    return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
