"""name indexes usable by prefix search on PostgreSQL

The queue's name search asks for lower(name) LIKE 'word%'. PostgreSQL uses a btree index
for that only when the index compares bytes (the C collation or text_pattern_ops); under
the databases' usual C.UTF-8 or en_US collations the two lower(name) indexes could not
serve it, and a search for a name nobody has read the whole table (about 90 ms at 100,000
requests). The same indexes with text_pattern_ops serve the prefix search and the
duplicate check's equality alike. SQLite's indexes are left as they were.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_appointment_requests_last_name_lower": "last_name",
    "ix_appointment_requests_first_name_lower": "first_name",
}


def _recreate(opclass: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, column in _INDEXES.items():
        op.drop_index(name, table_name="appointment_requests")
        op.create_index(
            name, "appointment_requests", [sa.text(f"lower({column}) {opclass}".strip())]
        )


def upgrade() -> None:
    _recreate("text_pattern_ops")


def downgrade() -> None:
    _recreate("")
