"""the journey's funnel, counted without patient data; the audit action for viewing it

Issue 30. Admins see how far people get through the request journey (the "Journey" page),
counted without patient data:

- ``journey_funnel_days``: one row per day (the center's date), stage, device class and
  language, with how many drafts begun that day reached that stage. Nothing in it names a
  visitor.
- ``request_drafts`` gains the furthest stage the draft was counted at (so a page reached
  twice is counted once) and the day, device class and language it began with. Drafts
  begun before this migration have none and are not counted.
- ``audit_events.action``'s CHECK (migrations 0003, 0004, 0005) is re-created with
  ``journey_view``: who looked at the center's figures is on the record, as for the
  access metrics.

The lists are written out here, not imported: a migration keeps meaning what it meant.
On SQLite the new CHECKs rebuild ``request_drafts`` and ``audit_events`` (batch mode);
a rebuilt ``audit_events`` loses the append-only triggers of migration 0006, so they are
dropped before the rebuild and made again after it with the same SQL, as 0009 does for
``request_events``. On PostgreSQL the tables are altered in place and keep their triggers.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_STAGES = ["began", "patient", "contact", "diagnosis", "insurance", "consent", "check", "sent"]
_DEVICES = ["phone", "computer"]
_LANGUAGES = ["en", "es"]

# As migration 0005 left it.
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
    # Migration 0013 (issue 26).
    "second_factor_wait",
    "second_factor_set_up_begun",
    # Migration 0015 (issue 29).
    "patient_link_issued",
    "patient_link_checked",
    "patient_link_refused",
    "patient_contact_changed",
    "document_received",
    "document_held",
    "document_scanned",
    "document_previewed",
    "document_downloaded",
    "release_signed",
    "release_viewed",
    "patient_news_seen",
]
_ACTIONS = [*_ACTIONS_BEFORE, "journey_view"]

# Migration 0006's SQLite triggers on audit_events, copied as they were at that revision.
_SQLITE_REFUSE = "SELECT RAISE(ABORT, 'audit_events is append-only');"
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
    f" WHEN NOT (0) BEGIN {_SQLITE_REFUSE} END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events"
    f" WHEN NOT intake_audit_maintenance() BEGIN {_SQLITE_REFUSE} END",
]


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


@contextmanager
def _rebuilt(table: str):
    """batch_alter_table, quiet about the expression indexes SQLite cannot reflect on the
    tables it reads (appointment_requests' lower(name) ones, not rebuilt here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table(table) as batch_op:
            yield batch_op


@contextmanager
def _audit_events():
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with _rebuilt("audit_events") as batch_op:
        yield batch_op
    if _sqlite():
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "journey_funnel_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("device", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("drafts", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("stage", _STAGES), name=op.f("ck_journey_funnel_days_stage")),
        sa.CheckConstraint(_in("device", _DEVICES), name=op.f("ck_journey_funnel_days_device")),
        sa.CheckConstraint(
            _in("language", _LANGUAGES), name=op.f("ck_journey_funnel_days_language")
        ),
        sa.PrimaryKeyConstraint(
            "day", "stage", "device", "language", name=op.f("pk_journey_funnel_days")
        ),
    )
    with _rebuilt("request_drafts") as batch_op:
        batch_op.add_column(sa.Column("funnel_stage", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("funnel_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("funnel_device", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("funnel_language", sa.String(length=2), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_request_drafts_funnel_stage"), _in("funnel_stage", _STAGES)
        )
        batch_op.create_check_constraint(
            op.f("ck_request_drafts_funnel_device"), _in("funnel_device", _DEVICES)
        )
        batch_op.create_check_constraint(
            op.f("ck_request_drafts_funnel_language"), _in("funnel_language", _LANGUAGES)
        )
    with _audit_events() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_events_action"), _in("action", _ACTIONS))


def downgrade() -> None:
    # Entries of the new kind would break the older constraint: they cannot be removed
    # (the trail is append-only), so the downgrade refuses while there are any.
    count = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM audit_events WHERE action = 'journey_view'")
    )
    if count:
        raise RuntimeError(
            f"{count} audit entries record views of the journey page; the audit trail is "
            "append-only, so this migration cannot be undone"
        )
    with _audit_events() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_audit_events_action"), _in("action", _ACTIONS_BEFORE)
        )
    with _rebuilt("request_drafts") as batch_op:
        batch_op.drop_constraint(op.f("ck_request_drafts_funnel_language"), type_="check")
        batch_op.drop_constraint(op.f("ck_request_drafts_funnel_device"), type_="check")
        batch_op.drop_constraint(op.f("ck_request_drafts_funnel_stage"), type_="check")
        batch_op.drop_column("funnel_language")
        batch_op.drop_column("funnel_device")
        batch_op.drop_column("funnel_day")
        batch_op.drop_column("funnel_stage")
    op.drop_table("journey_funnel_days")
