"""history events without a staff member: a re-send with changed answers

When someone sends their form again with different answers, the first answers are kept
and the differences are added to the request's history for intake to read. Nobody on the
staff did that, so request_events.staff_id may now be empty.

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-26 02:30:00
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


@contextmanager
def _request_events():
    # SQLite rebuilds the table (batch mode), reflecting the tables it refers to; their
    # expression indexes (lower(name)) cannot be reflected and are not touched.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("request_events") as batch_op:
            yield batch_op


def upgrade() -> None:
    with _request_events() as batch_op:
        batch_op.alter_column("staff_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Events from the public have no staff member to attribute them to: they go first.
    op.execute("DELETE FROM request_events WHERE staff_id IS NULL")
    with _request_events() as batch_op:
        batch_op.alter_column("staff_id", existing_type=sa.Integer(), nullable=False)
