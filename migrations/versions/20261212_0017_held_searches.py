"""queue searches held server-side

Issue 31. A search of the queue by a patient's name is posted and answered with a redirect
to a results page (GET) whose address carries a random token, never the name:
``held_searches`` keeps the words typed, for the staff member who typed them, for a
working day at most. No enum or CHECK list changes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("search", sa.String(length=100), nullable=False),
        sa.Column(
            "held_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_held_searches_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_searches")),
        sa.UniqueConstraint("token", name=op.f("uq_held_searches_token")),
    )
    op.create_index("ix_held_searches_held_at", "held_searches", ["held_at"])


def downgrade() -> None:
    op.drop_index("ix_held_searches_held_at", table_name="held_searches")
    op.drop_table("held_searches")
