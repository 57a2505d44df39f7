"""request_drafts: the answers of a request being filled in, between the journey's pages

Issue 15. One new table, touching no other: a draft is found by a random key in the
browser's signed session cookie, keeps what was typed (JSON) until the request is sent,
then only its form token and reference until it expires and is purged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("form_token", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("checked_steps", sa.JSON(), nullable=False),
        sa.Column("sent_reference", sa.String(length=12), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_drafts")),
        sa.UniqueConstraint("key", name=op.f("uq_request_drafts_key")),
        sa.UniqueConstraint("form_token", name=op.f("uq_request_drafts_form_token")),
    )
    op.create_index("ix_request_drafts_expires_at", "request_drafts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_request_drafts_expires_at", table_name="request_drafts")
    op.drop_table("request_drafts")
