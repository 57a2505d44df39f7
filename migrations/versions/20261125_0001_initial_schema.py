"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:37:02.387599
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "intake",
                "admin",
                name="staff_role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_nonce", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_users_email")),
    )
    op.create_table(
        "appointment_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("submission_token", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "in_progress",
                "contacted",
                "scheduled",
                "closed",
                name="request_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("submitted_by_patient", sa.Boolean(), nullable=False),
        sa.Column("submitter_name", sa.String(length=100), nullable=True),
        sa.Column("submitter_relationship", sa.String(length=100), nullable=True),
        sa.Column("submitter_phone", sa.String(length=16), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("contact_method", sa.String(length=10), nullable=False),
        sa.Column("best_time_to_call", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("zip_code", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("language_other", sa.String(length=100), nullable=True),
        sa.Column("interpreter_needed", sa.Boolean(), nullable=False),
        sa.Column("diagnosed_metastatic", sa.String(length=10), nullable=False),
        sa.Column("metastasis_sites", sa.JSON(), nullable=False),
        sa.Column("in_treatment", sa.Boolean(), nullable=False),
        sa.Column("insurance_type", sa.String(length=20), nullable=False),
        sa.Column("insurance_carrier", sa.String(length=100), nullable=True),
        sa.Column("has_referral", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("consent_to_contact", sa.Boolean(), nullable=False),
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "closed_reason",
            sa.Enum(
                "declined",
                "unable_to_reach",
                "not_eligible",
                "duplicate",
                "other",
                name="close_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_by_id"],
            ["staff_users.id"],
            name=op.f("fk_appointment_requests_claimed_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_appointment_requests_reference")),
        sa.UniqueConstraint(
            "submission_token", name=op.f("uq_appointment_requests_submission_token")
        ),
    )
    # Expression indexes for case-insensitive name search (autogenerate on SQLite
    # cannot see them, so they are written by hand).
    op.create_index(
        "ix_appointment_requests_last_name_lower",
        "appointment_requests",
        [sa.text("lower(last_name)")],
        unique=False,
    )
    op.create_index(
        "ix_appointment_requests_first_name_lower",
        "appointment_requests",
        [sa.text("lower(first_name)")],
        unique=False,
    )
    with op.batch_alter_table("appointment_requests", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_requests_claimed_by", ["claimed_by_id"], unique=False)
        batch_op.create_index("ix_appointment_requests_dob", ["date_of_birth"], unique=False)
        batch_op.create_index("ix_appointment_requests_email", ["email"], unique=False)
        batch_op.create_index("ix_appointment_requests_phone", ["phone"], unique=False)
        batch_op.create_index(
            "ix_appointment_requests_status_submitted",
            ["status", "submitted_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_appointment_requests_submitted", ["submitted_at", "id"], unique=False
        )

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("from_value", sa.String(length=40), nullable=True),
        sa.Column("to_value", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_audit_events_request_id_appointment_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_audit_events_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_request", ["request_id", "id"], unique=False)
        batch_op.create_index("ix_audit_events_staff", ["staff_id", "id"], unique=False)

    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("physician_name", sa.String(length=100), nullable=False),
        sa.Column("physician_phone", sa.String(length=16), nullable=False),
        sa.Column("practice", sa.String(length=100), nullable=True),
        sa.Column("fax", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("npi", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_referrals_request_id_appointment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("request_id", name=op.f("uq_referrals_request_id")),
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_request_events_request_id_appointment_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_request_events_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.create_index("ix_request_events_request", ["request_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.drop_index("ix_request_events_request")

    op.drop_table("request_events")
    op.drop_table("referrals")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_staff")
        batch_op.drop_index("ix_audit_events_request")

    op.drop_table("audit_events")
    op.drop_index("ix_appointment_requests_first_name_lower", table_name="appointment_requests")
    op.drop_index("ix_appointment_requests_last_name_lower", table_name="appointment_requests")
    with op.batch_alter_table("appointment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_requests_submitted")
        batch_op.drop_index("ix_appointment_requests_status_submitted")
        batch_op.drop_index("ix_appointment_requests_phone")
        batch_op.drop_index("ix_appointment_requests_email")
        batch_op.drop_index("ix_appointment_requests_dob")
        batch_op.drop_index("ix_appointment_requests_claimed_by")

    op.drop_table("appointment_requests")
    op.drop_table("staff_users")
