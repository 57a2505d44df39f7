"""an account's link to the hospital's sign-in can be removed, on the record

Issue 32 follow-up. An admin can unlink an account from the hospital account that signs it
in (the hospital changed provider, or re-made the person's account there): the next
sign-in through the provider links it again by its verified e-mail, as the first one did.
``audit_events.action``'s CHECK gains ``provider_unlinked``, so the change is on the
record under its own name.

The lists are written out here, not imported: a migration keeps meaning what it meant.
On SQLite the new CHECK rebuilds ``audit_events`` (batch mode), which loses the
append-only triggers of migration 0006: they are dropped before the rebuild and made again
after it with the same SQL, as 0013 and 0016 do. On PostgreSQL the table is altered in
place and keeps its triggers.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 05:00:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# As migration 0016 left it (0017 and 0018 added no action).
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
    "journey_view",
]
_ACTIONS = [*_ACTIONS_BEFORE, "provider_unlinked"]

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
def _audit_events():
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("audit_events") as batch_op:
            yield batch_op
    if _sqlite():
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    with _audit_events() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_events_action"), _in("action", _ACTIONS))


def downgrade() -> None:
    # Entries of the new kind would break the older constraint: they cannot be removed
    # (the trail is append-only), so the downgrade refuses while there are any.
    count = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM audit_events WHERE action = 'provider_unlinked'")
    )
    if count:
        raise RuntimeError(
            f"{count} audit entries record accounts unlinked from the hospital's sign-in; "
            "the audit trail is append-only, so this migration cannot be undone"
        )
    with _audit_events() as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_audit_events_action"), _in("action", _ACTIONS_BEFORE)
        )
