"""staff sign-in through the hospital's OpenID Connect provider

Issue 32. ``staff_users`` gains:

- ``oidc_issuer`` and ``oidc_subject``: the account's stable subject at the provider,
  linked at its first provider sign-in, unique per issuer (a unique index, so SQLite
  needs no table rebuild);
- ``role_from_groups``: an account created at a first provider sign-in from a group
  (OIDC_GROUP_ROLES); its role follows the groups at every sign-in;
- ``local_sign_in``: with OIDC_ISSUER set, only these accounts may still sign in with a
  local password. Existing accounts: the first admin (the oldest admin account, made
  from the command line) and every break-glass account keep it; everyone else signs in
  through the provider once it is configured.

No audit action is added (provider sign-ins are ``sign_in`` and ``sign_in_failed``
entries whose detail says so), so the audit CHECK lists stay as 0016 left them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_users", sa.Column("oidc_issuer", sa.String(255), nullable=True))
    op.add_column("staff_users", sa.Column("oidc_subject", sa.String(255), nullable=True))
    op.add_column(
        "staff_users",
        sa.Column("local_sign_in", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "staff_users",
        sa.Column("role_from_groups", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "uq_staff_users_oidc_subject",
        "staff_users",
        ["oidc_issuer", "oidc_subject"],
        unique=True,
    )
    op.execute(
        "UPDATE staff_users SET local_sign_in = true WHERE id IN"
        " (SELECT staff_id FROM emergency_access)"
        " OR id = (SELECT min(id) FROM staff_users WHERE role = 'admin')"
    )


def downgrade() -> None:
    op.drop_index("uq_staff_users_oidc_subject", table_name="staff_users")
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_column("role_from_groups")
        batch_op.drop_column("local_sign_in")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("oidc_issuer")
