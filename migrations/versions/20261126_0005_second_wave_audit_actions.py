"""the audit actions and history kinds of the second wave of features

Migration 0003 put a CHECK constraint on every coded column, listing the values of its
enum in app/vocabulary.py. The features that came after it (audit coverage and
retention, the e-mail outbox, FHIR export, staff account security, the working day's
pages) record new kinds of audit entry; this re-creates the constraint with the longer
list. It runs before the audit trail's triggers (0006): on SQLite a new constraint means
rebuilding the table, and a rebuilt table would lose its triggers. It comes after the
working day's 0004, which re-creates the same constraint (adding "reopen") and rebuilds
request_events on SQLite: that too must happen before the triggers exist.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:20:00
"""

from __future__ import annotations

import warnings

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BEFORE = [
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
    # The coordinator's working day (0004).
    "reopen",
]
_ADDED = [
    # Audit coverage, retention and emergency access.
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
    # The e-mail outbox.
    "outbox_send_again",
    # FHIR export.
    "fhir_export",
    # Staff account security.
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


def _condition(values: list[str]) -> str:
    return f"action IN ({', '.join(repr(v) for v in values)})"


def _replace_check(values: list[str]) -> None:
    with warnings.catch_warnings():
        # On SQLite the rebuild reflects appointment_requests (audit_events refers to it)
        # and says it cannot read its lower(name) indexes; that table is not rebuilt here,
        # so they are untouched.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        with op.batch_alter_table("audit_events") as batch_op:
            batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
            batch_op.create_check_constraint(op.f("ck_audit_events_action"), _condition(values))


def upgrade() -> None:
    _replace_check(_BEFORE + _ADDED)


def downgrade() -> None:
    _replace_check(_BEFORE)
