"""outbox_messages: e-mail written in the same transaction as the request it tells of

Issue 18. One table, read and written by `flask outbox work`: the worker claims due rows
with a conditional UPDATE (FOR UPDATE SKIP LOCKED on PostgreSQL), so several workers never
send one message twice. Self-contained: it touches no other table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "confirmation",
                "intake_alert",
                name="message_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                name="outbox_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=64), nullable=True),
        sa.Column("covers_through_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("recipient_hash", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["appointment_requests.id"],
            name=op.f("fk_outbox_messages_request_id_appointment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("token", name=op.f("uq_outbox_messages_token")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_messages_dedupe_key")),
    )
    op.create_index(
        "ix_outbox_messages_status_next",
        "outbox_messages",
        ["status", "next_attempt_at", "id"],
    )
    op.create_index("ix_outbox_messages_kind_id", "outbox_messages", ["kind", "id"])
    op.create_index("ix_outbox_messages_created", "outbox_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_created", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_kind_id", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_status_next", table_name="outbox_messages")
    op.drop_table("outbox_messages")
