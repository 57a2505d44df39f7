"""history events without a staff member: a re-send with changed answers

When someone sends their form again with different answers, the first answers are kept
and the differences are added to the request's history for intake to read. Nobody on the
staff did that, so request_events.staff_id may now be empty, and the history has a new
kind, ``resent_changed`` (app/vocabulary.py EventKind): the kind column's CHECK constraint
(migration 0003) is re-created with it.

On SQLite both changes rebuild request_events (batch mode), and a rebuilt table loses its
triggers: the append-only triggers of migration 0006 are dropped before the rebuild and
created again after it, with the same SQL. On PostgreSQL the table is altered in place
and its triggers stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As migration 0004 (the working day) left it.
_KINDS_BEFORE = ["claim", "release", "status", "note", "reopen"]
_KINDS = [*_KINDS_BEFORE, "resent_changed"]

# Migration 0006's SQLite triggers on request_events, copied as they were at that revision
# so this migration never changes meaning.
_SQLITE_REFUSE = "SELECT RAISE(ABORT, 'request_events is append-only');"
_SQLITE_UPDATE_ALLOWED = (
    "intake_audit_maintenance() AND NEW.note IS NULL"
    " AND NEW.id IS OLD.id AND NEW.request_id IS OLD.request_id"
    " AND NEW.staff_id IS OLD.staff_id AND NEW.kind IS OLD.kind"
    " AND NEW.from_status IS OLD.from_status AND NEW.to_status IS OLD.to_status"
    " AND NEW.close_reason IS OLD.close_reason AND NEW.created_at IS OLD.created_at"
)
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events"
    f" WHEN NOT ({_SQLITE_UPDATE_ALLOWED}) BEGIN {_SQLITE_REFUSE} END",
    "CREATE TRIGGER request_events_no_delete BEFORE DELETE ON request_events"
    f" WHEN NOT intake_audit_maintenance() BEGIN {_SQLITE_REFUSE} END",
]


def _kind_check(values: list[str]) -> str:
    return f"kind IN ({', '.join(repr(v) for v in values)})"


@contextmanager
def _request_events():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS request_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS request_events_no_delete")
    # SQLite rebuilds the table (batch mode), reflecting the tables it refers to; their
    # expression indexes (lower(name)) cannot be reflected and are not touched.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("request_events") as batch_op:
            yield batch_op
    if sqlite:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    with _request_events() as batch_op:
        batch_op.alter_column("staff_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(op.f("ck_request_events_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_request_events_kind"), _kind_check(_KINDS))


def downgrade() -> None:
    # Events from the public have no staff member to attribute them to: they go first.
    # The history is append-only (migration 0006); this is the maintenance it allows.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("SELECT set_config('intake.audit_maintenance', 'on', true)")
        op.execute("DELETE FROM request_events WHERE staff_id IS NULL")
        op.execute("SELECT set_config('intake.audit_maintenance', 'off', true)")
    with _request_events() as batch_op:
        if bind.dialect.name != "postgresql":
            # The triggers are dropped for the rebuild (above): nothing refuses the delete.
            op.execute("DELETE FROM request_events WHERE staff_id IS NULL")
        batch_op.drop_constraint(op.f("ck_request_events_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_request_events_kind"), _kind_check(_KINDS_BEFORE))
        batch_op.alter_column("staff_id", existing_type=sa.Integer(), nullable=False)
