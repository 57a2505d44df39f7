"""after sending: private links, documents, releases, and what the person changed

Issue 29. The person who sent a request gets a private page: where it stands, how to
reach them, records to send, or a release for the center to fetch them.

- Three new tables: request_links (a keyed hash of each link's token), request_documents
  (the files, with their virus scan; the bytes in the row by default) and
  records_releases (a signed authorization with its exact text).
- appointment_requests gains contact_changed_at, documents_added_at and
  patient_news_seen_at (plain ADD COLUMN, nullable: no rebuild).
- outbox_messages gains covers_documents_through_id (the intake alert's watermark for
  documents), and its kind CHECK takes 'request_link'.
- request_events' kind CHECK and audit_events' action CHECK take the new values.

The lists are written out here, not imported: a migration keeps meaning what it meant.
On SQLite a new CHECK rebuilds the table, and a rebuilt table loses its triggers: the
append-only triggers of migration 0006 are dropped before each rebuild and created again
after it with the same SQL, as 0009 does. PostgreSQL alters in place; its triggers stay.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

_KINDS_BEFORE = ["claim", "release", "status", "note", "reopen", "resent_changed"]
_KINDS = [*_KINDS_BEFORE, "contact_changed", "document_sent", "release_signed", "link_sent"]

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
]
_ACTIONS = [
    *_ACTIONS_BEFORE,
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
_MESSAGE_KINDS_BEFORE = ["confirmation", "intake_alert"]
_MESSAGE_KINDS = [*_MESSAGE_KINDS_BEFORE, "request_link"]
_DOCUMENT_KINDS = [
    "pathology",
    "imaging",
    "treatment",
    "referral_letter",
    "insurance_front",
    "insurance_back",
    "other",
]
_SCAN_STATUSES = ["pending", "clean", "flagged"]
_NAME_INDEXES = {
    "ix_appointment_requests_last_name_lower": "last_name",
    "ix_appointment_requests_first_name_lower": "first_name",
}
_SIGNERS = ["patient", "representative"]

# Migration 0006's SQLite triggers, as they were at that revision.
_SQLITE_EVENTS_UPDATE_ALLOWED = (
    "intake_audit_maintenance() AND NEW.note IS NULL"
    " AND NEW.id IS OLD.id AND NEW.request_id IS OLD.request_id"
    " AND NEW.staff_id IS OLD.staff_id AND NEW.kind IS OLD.kind"
    " AND NEW.from_status IS OLD.from_status AND NEW.to_status IS OLD.to_status"
    " AND NEW.close_reason IS OLD.close_reason AND NEW.created_at IS OLD.created_at"
)
_SQLITE_UPDATE_ALLOWED = {"request_events": _SQLITE_EVENTS_UPDATE_ALLOWED, "audit_events": "0"}


def _sqlite_triggers(table: str) -> list[str]:
    refuse = f"SELECT RAISE(ABORT, '{table} is append-only');"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}"
        f" WHEN NOT ({_SQLITE_UPDATE_ALLOWED[table]}) BEGIN {refuse} END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
        f" WHEN NOT intake_audit_maintenance() BEGIN {refuse} END",
    ]


def _condition(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


@contextmanager
def _rebuilt(table: str, *, append_only: bool):
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite and append_only:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    with warnings.catch_warnings():
        # SQLite reflects the tables this one refers to and cannot read their lower(name)
        # indexes; those tables are not rebuilt here, so the indexes are untouched.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table(table) as batch_op:
            yield batch_op
    if sqlite and append_only:
        for statement in _sqlite_triggers(table):
            op.execute(statement)


def _replace_check(
    table: str, constraint: str, column: str, values: list[str], *, append_only: bool
) -> None:
    name = op.f(f"ck_{table}_{constraint}")
    with _rebuilt(table, append_only=append_only) as batch_op:
        batch_op.drop_constraint(name, type_="check")
        batch_op.create_check_constraint(name, _condition(column, values))


def _enum_check(name: str, values: list[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.add_column(
        "appointment_requests",
        sa.Column("contact_changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "appointment_requests",
        sa.Column("documents_added_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "appointment_requests",
        sa.Column("patient_news_seen_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "outbox_messages", sa.Column("covers_documents_through_id", sa.Integer(), nullable=True)
    )
    op.create_table(
        "request_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_checks", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_request_links_request_id_appointment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_request_links_token_hash")),
    )
    op.create_index("ix_request_links_request", "request_links", ["request_id", "id"])
    op.create_table(
        "request_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum_check("document_kind", _DOCUMENT_KINDS), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("scan_status", _enum_check("scan_status", _SCAN_STATUSES), nullable=False),
        sa.Column("scan_detail", sa.String(length=100), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("storage_key", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_request_documents_request_id_appointment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_documents")),
    )
    op.create_index(
        "ix_request_documents_request_sha256",
        "request_documents",
        ["request_id", "sha256"],
        unique=True,
    )
    op.create_index("ix_request_documents_scan_status", "request_documents", ["scan_status", "id"])
    op.create_table(
        "records_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("holders", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("signer", _enum_check("signer", _SIGNERS), nullable=False),
        sa.Column("signer_name", sa.String(length=100), nullable=False),
        sa.Column("signer_authority", sa.String(length=100), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column(
            "signed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_records_releases_request_id_appointment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_releases")),
    )
    op.create_index("ix_records_releases_request", "records_releases", ["request_id", "id"])
    _replace_check("outbox_messages", "message_kind", "kind", _MESSAGE_KINDS, append_only=False)
    _replace_check("request_events", "kind", "kind", _KINDS, append_only=True)
    _replace_check("audit_events", "action", "action", _ACTIONS, append_only=True)


def downgrade() -> None:
    bind = op.get_bind()
    # What the new values recorded goes first: the old CHECKs would refuse it. The history
    # and the trail are append-only (0006); this is the maintenance they allow.
    if bind.dialect.name == "postgresql":
        op.execute("SELECT set_config('intake.audit_maintenance', 'on', true)")
    else:
        for table in ("request_events", "audit_events"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    new_kinds = ", ".join(repr(v) for v in _KINDS if v not in _KINDS_BEFORE)
    new_actions = ", ".join(repr(v) for v in _ACTIONS if v not in _ACTIONS_BEFORE)
    op.execute(f"DELETE FROM request_events WHERE kind IN ({new_kinds})")  # noqa: S608
    op.execute(f"DELETE FROM audit_events WHERE action IN ({new_actions})")  # noqa: S608
    op.execute("DELETE FROM outbox_messages WHERE kind = 'request_link'")
    if bind.dialect.name == "postgresql":
        op.execute("SELECT set_config('intake.audit_maintenance', 'off', true)")
    else:
        for table in ("request_events", "audit_events"):
            for statement in _sqlite_triggers(table):
                op.execute(statement)
    _replace_check("audit_events", "action", "action", _ACTIONS_BEFORE, append_only=True)
    _replace_check("request_events", "kind", "kind", _KINDS_BEFORE, append_only=True)
    _replace_check(
        "outbox_messages", "message_kind", "kind", _MESSAGE_KINDS_BEFORE, append_only=False
    )
    op.drop_index("ix_records_releases_request", table_name="records_releases")
    op.drop_table("records_releases")
    op.drop_index("ix_request_documents_scan_status", table_name="request_documents")
    op.drop_index("ix_request_documents_request_sha256", table_name="request_documents")
    op.drop_table("request_documents")
    op.drop_index("ix_request_links_request", table_name="request_links")
    op.drop_table("request_links")
    with _rebuilt("outbox_messages", append_only=False) as batch_op:
        batch_op.drop_column("covers_documents_through_id")
    # SQLite rebuilds appointment_requests to drop a column, and its reflection cannot
    # read the lower(name) indexes: they are dropped first and made again after (as 0010).
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for name in _NAME_INDEXES:
            op.drop_index(name, table_name="appointment_requests")
    with _rebuilt("appointment_requests", append_only=False) as batch_op:
        for column in ("patient_news_seen_at", "documents_added_at", "contact_changed_at"):
            batch_op.drop_column(column)
    if sqlite:
        for name, column in _NAME_INDEXES.items():
            op.create_index(name, "appointment_requests", [sa.text(f"lower({column})")])
