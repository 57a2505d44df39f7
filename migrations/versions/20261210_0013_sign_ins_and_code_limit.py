"""sign-ins in progress on the server, wrong codes limited per account, set-up by link

Issue 26.

- ``staff_sign_ins``: a sign-in between a right password and a right code, or between a
  set-up link and the first code of a new authenticator app. It used to be a signed
  cookie that worked for ten minutes from anywhere and could not be ended; now the
  cookie holds a random key and the server the key's hash, so a sign-in is used once and
  ended by a finished sign-in, by too many wrong codes or by a newer set-up. A set-up
  carries the authenticator secret drawn for it.
- ``staff_users.failed_sign_ins`` and ``locked_until`` (unused since issue 13 stopped
  locking accounts on wrong passwords) become ``wrong_codes`` and ``codes_wait_until``:
  wrong second-factor codes from any address, and until when the account's code step
  waits after too many. Renamed in place (``ALTER TABLE ... RENAME COLUMN``, which both
  PostgreSQL and SQLite 3.25+ do without rebuilding the table); the counts start at 0.
- ``staff_invitations.sets_password``: whether a link sets a new password (true for
  every link made before: they all did) or only the second factor, asking for the
  account's password (accounts made on the command line, second-factor resets).
- Authenticator apps set up but never confirmed are forgotten: their secret belonged to
  the account, so anyone who had signed in with its password may have seen it. Those
  accounts set up through a link (``flask staff reset-second-factor`` prints one).
- The audit action CHECK gains ``second_factor_wait`` and ``second_factor_set_up_begun``.
  On SQLite that rebuilds ``audit_events``, which loses its triggers: migration 0006's
  triggers are dropped before and created again after, with the same SQL (as 0009 does
  for ``request_events``). PostgreSQL alters in place; its triggers stay.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

# Every value of the CHECK as migration 0005 left it, written out: a migration keeps
# meaning what it meant.
_ACTIONS_BEFORE = [
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "view_request",
    "claim",
    "release",
    "status_change",
    "note",
    "export",
    "purge_patient_data",
    "reopen",
    "queue_view",
    "queue_search",
    "my_work_view",
    "metrics_view",
    "metrics_export",
    "access_denied",
    "sign_in_required",
    "account_created",
    "password_set",
    "account_deactivated",
    "emergency_account_created",
    "retention_run",
    "stale_request",
    "audit_entries_removed",
    "outbox_send_again",
    "fhir_export",
    "second_factor_failed",
    "second_factor_enrolled",
    "recovery_code_used",
    "sign_in_throttled",
    "sign_in_storm",
    "session_expired",
    "proof_confirmed",
    "password_changed",
    "account_link_issued",
    "account_link_used",
    "role_changed",
    "account_reactivated",
    "second_factor_reset",
    "sessions_ended",
    "passkey_added",
    "passkey_removed",
    "passkey_used",
    "passkey_failed",
]
_ACTIONS = [*_ACTIONS_BEFORE, "second_factor_wait", "second_factor_set_up_begun"]

# Migration 0006's SQLite triggers on audit_events, as they were at that revision.
_SQLITE_REFUSE = "SELECT RAISE(ABORT, 'audit_events is append-only');"
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
    f" WHEN NOT (0) BEGIN {_SQLITE_REFUSE} END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events"
    f" WHEN NOT intake_audit_maintenance() BEGIN {_SQLITE_REFUSE} END",
]


def _condition(values: list[str]) -> str:
    return f"action IN ({', '.join(repr(v) for v in values)})"


@contextmanager
def _audit_events():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with warnings.catch_warnings():
        # SQLite's rebuild reflects appointment_requests (audit_events refers to it), whose
        # lower(name) indexes it cannot read; that table is not rebuilt, so they stay.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("audit_events") as batch_op:
            yield batch_op
    if sqlite:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def _replace_check(values: list[str]) -> None:
    with _audit_events() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_events_action"), _condition(values))


def upgrade() -> None:
    op.create_table(
        "staff_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_sign_ins_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sign_ins")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_staff_sign_ins_key_hash")),
    )
    op.create_index("ix_staff_sign_ins_staff", "staff_sign_ins", ["staff_id"])

    op.execute("ALTER TABLE staff_users RENAME COLUMN failed_sign_ins TO wrong_codes")
    op.execute("ALTER TABLE staff_users RENAME COLUMN locked_until TO codes_wait_until")
    op.execute("UPDATE staff_users SET wrong_codes = 0, codes_wait_until = NULL")

    op.add_column(
        "staff_invitations",
        sa.Column("sets_password", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.execute("DELETE FROM staff_second_factors WHERE confirmed_at IS NULL")

    _replace_check(_ACTIONS)


def downgrade() -> None:
    # The audit trail is append-only and chained: a downgrade never deletes entries. It
    # refuses while the trail holds an action the older CHECK would not allow.
    new = [v for v in _ACTIONS if v not in _ACTIONS_BEFORE]
    used = (
        op.get_bind()
        .execute(
            sa.text("SELECT count(*) FROM audit_events WHERE action IN :actions").bindparams(
                sa.bindparam("actions", expanding=True)
            ),
            {"actions": new},
        )
        .scalar()
    )
    if used:
        raise RuntimeError(
            f"{used} audit entries record {' or '.join(new)}: a downgrade would have to "
            "remove them from the chained trail. Not done."
        )
    _replace_check(_ACTIONS_BEFORE)
    with op.batch_alter_table("staff_invitations") as batch_op:
        batch_op.drop_column("sets_password")
    op.execute("ALTER TABLE staff_users RENAME COLUMN codes_wait_until TO locked_until")
    op.execute("ALTER TABLE staff_users RENAME COLUMN wrong_codes TO failed_sign_ins")
    op.drop_index("ix_staff_sign_ins_staff", table_name="staff_sign_ins")
    op.drop_table("staff_sign_ins")
