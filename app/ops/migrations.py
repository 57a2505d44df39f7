"""Where the schema is, compared with where the migrations say it should be."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, text

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other migration revises.

    Read from the files' ``revision`` and ``down_revision`` assignments rather than with
    alembic's ScriptDirectory: importing alembic (with mako and pygments) would add about
    11 MB to every worker for one probe. A test checks this agrees with alembic.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        values = _assignments(path, ("revision", "down_revision"))
        if isinstance(values.get("revision"), str):
            revisions.add(values["revision"])
        down = values.get("down_revision")
        revised.update([down] if isinstance(down, str) else (down or ()))
    return frozenset(revisions - revised)


def _assignments(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in names and node.value is not None:
            found[target.id] = ast.literal_eval(node.value)
    return found


def current_revisions(conn: Connection) -> frozenset[str]:
    # Read directly: alembic's MigrationContext would log two lines at every probe.
    return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
