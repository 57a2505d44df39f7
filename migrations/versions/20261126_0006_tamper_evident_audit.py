"""tamper-evident audit trail, emergency access

The audit trail and the request history are append-only in the database itself, not
only through the ORM: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)
on ``audit_events`` and ``request_events``. One narrow exception, for retention (and
for emptying a test database): inside a transaction that has switched on "audit
maintenance" (PostgreSQL: the transaction-local setting ``intake.audit_maintenance``;
SQLite: the per-connection function ``intake_audit_maintenance()`` the app registers),
audit rows may be deleted and a history note may be blanked (set to NULL, nothing
else changed). Anyone who can run SQL as the app's role can switch it on, so this is a
guard against mistakes and casual tampering, not a privilege boundary: the hash chain
(``prev_hash``/``row_hash``, a keyed HMAC) is what shows a deliberate change.

Audit rows written before this migration are chained here, before the triggers exist,
with the key the app uses (AUDIT_HASH_KEY, or one derived from SECRET_KEY); if neither
is set they are left unchained and `flask audit verify` reports where the chain starts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64

# One function per table: PL/pgSQL resolves NEW.note even where the IF could not reach it.
_PG_FUNCTIONS = {
    "audit_events": """
CREATE OR REPLACE FUNCTION intake_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND coalesce(current_setting('intake.audit_maintenance', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""",
    "request_events": """
CREATE OR REPLACE FUNCTION intake_request_events_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('intake.audit_maintenance', true), '') = 'on' THEN
        IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
            RETURN OLD;
        END IF;
        IF NEW.note IS NULL
           AND (NEW.id, NEW.request_id, NEW.staff_id, NEW.kind, NEW.created_at)
               IS NOT DISTINCT FROM (OLD.id, OLD.request_id, OLD.staff_id, OLD.kind, OLD.created_at)
           AND (NEW.from_status, NEW.to_status, NEW.close_reason)
               IS NOT DISTINCT FROM (OLD.from_status, OLD.to_status, OLD.close_reason) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'request_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
""",
}

_TABLES = ("audit_events", "request_events")


def _sqlite_triggers(table: str) -> list[str]:
    refuse = f"SELECT RAISE(ABORT, '{table} is append-only');"
    update_allowed = "0"
    if table == "request_events":
        update_allowed = (
            "intake_audit_maintenance() AND NEW.note IS NULL"
            " AND NEW.id IS OLD.id AND NEW.request_id IS OLD.request_id"
            " AND NEW.staff_id IS OLD.staff_id AND NEW.kind IS OLD.kind"
            " AND NEW.from_status IS OLD.from_status AND NEW.to_status IS OLD.to_status"
            " AND NEW.close_reason IS OLD.close_reason AND NEW.created_at IS OLD.created_at"
        )
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}"
        f" WHEN NOT ({update_allowed}) BEGIN {refuse} END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
        f" WHEN NOT intake_audit_maintenance() BEGIN {refuse} END",
    ]


def _chain_key() -> bytes | None:
    key = os.environ.get("AUDIT_HASH_KEY", "").strip()
    if key:
        return key.encode()
    secret = os.environ.get("SECRET_KEY", "").strip()
    if not secret:
        return None
    return hmac.new(secret.encode(), b"intake audit hash key v1", hashlib.sha256).digest()


def _backfill(bind) -> None:
    """Chain the rows that exist already (a copy of app/audit/chain.py's
    digest as it was at this revision, so the migration never changes meaning)."""
    key = _chain_key()
    if key is None:
        return
    rows = bind.execute(
        sa.text(
            "SELECT id, occurred_at, staff_id, actor_email, action, request_id, from_value,"
            " to_value, detail, client_ip, emergency FROM audit_events ORDER BY id"
        )
    ).all()
    previous = _GENESIS
    for row in rows:
        occurred = row.occurred_at
        if isinstance(occurred, str):
            from datetime import datetime

            occurred = datetime.fromisoformat(occurred)
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        content = json.dumps(
            [
                occurred.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                row.staff_id,
                row.actor_email,
                row.action,
                row.request_id,
                row.from_value,
                row.to_value,
                row.detail,
                row.client_ip,
                bool(row.emergency),
            ],
            separators=(",", ":"),
        )
        digest = hmac.new(key, f"{previous}\n{content}".encode(), hashlib.sha256).hexdigest()
        bind.execute(
            sa.text("UPDATE audit_events SET prev_hash = :p, row_hash = :h WHERE id = :id"),
            {"p": previous, "h": digest, "id": row.id},
        )
        previous = digest


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place (batch mode would rebuild the table).
    op.add_column(
        "audit_events",
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("row_hash", sa.String(length=64), nullable=True))

    op.create_table(
        "emergency_access",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_emergency_access_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_emergency_access")),
    )

    bind = op.get_bind()
    _backfill(bind)
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(_PG_FUNCTIONS[table])
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                f" FOR EACH ROW EXECUTE FUNCTION intake_{table}_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION intake_{table}_append_only()"
            )
    elif bind.dialect.name == "sqlite":
        for table in _TABLES:
            for statement in _sqlite_triggers(table):
                op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS intake_{table}_append_only()")
    elif bind.dialect.name == "sqlite":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("emergency_access")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("emergency")
