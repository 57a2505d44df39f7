"""a CHECK constraint on every coded column

The coded answers (sex, contact method, best time, state, language, diagnosis, insurance),
the history's kinds, statuses and close reasons, and the audit trail's actions were plain
VARCHARs: the forms kept them in their lists, but nothing stopped a script, a fixture or a
later feature from storing a value nobody can label or export. Each now has a CHECK
constraint listing the values of its enum in app/vocabulary.py, the same kind the
request's status and close reason have had since 0001. The lists are written out here, not
imported: a migration must keep meaning what it meant when it ran.

A new value (a new audit action, say) needs a migration that drops and re-creates the
constraint with the longer list.

SQLite cannot add a constraint to a table, so batch mode rebuilds each table. The two
lower(name) indexes are dropped first and made again after: SQLite's reflection cannot
read expression indexes, so the rebuilt table would otherwise lose them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
    "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI"
).split()
_STATUSES = ["new", "in_progress", "contacted", "scheduled", "closed"]
_CLOSE_REASONS = ["declined", "unable_to_reach", "not_eligible", "duplicate", "other"]

# table: {column: allowed values}; the constraint is named ck_<table>_<column>.
CHECKS: dict[str, dict[str, list[str]]] = {
    "appointment_requests": {
        "sex": ["female", "male", "prefer_not_to_say"],
        "contact_method": ["phone", "email", "either"],
        "best_time_to_call": ["morning", "afternoon", "any"],
        "state": _US_STATES,
        "language": ["english", "spanish", "other"],
        "diagnosed_metastatic": ["yes", "no", "not_sure"],
        "insurance_type": ["commercial", "medicare", "medicaid", "other", "none"],
    },
    "request_events": {
        "kind": ["claim", "release", "status", "note"],
        "from_status": _STATUSES,
        "to_status": _STATUSES,
        "close_reason": _CLOSE_REASONS,
    },
    "audit_events": {
        "action": [
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
        ],
    },
}

_NAME_INDEXES = {
    "ix_appointment_requests_last_name_lower": "last_name",
    "ix_appointment_requests_first_name_lower": "first_name",
}


def _condition(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _name_indexes(*, drop: bool) -> None:
    # Every rebuild reflects appointment_requests (the other two tables refer to it).
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, column in _NAME_INDEXES.items():
        if drop:
            op.drop_index(name, table_name="appointment_requests")
        else:
            op.create_index(name, "appointment_requests", [sa.text(f"lower({column})")])


def _refuse_cascading_rebuild() -> None:
    # Dropping the old appointment_requests table with foreign keys enforced would delete
    # every referral (ON DELETE CASCADE). Alembic's own connection has them off, as SQLite
    # does by default; a connection handed over with them on must not run this.
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("run this migration with SQLite foreign keys off (alembic's default)")


def upgrade() -> None:
    _refuse_cascading_rebuild()
    _name_indexes(drop=True)
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(
                    op.f(f"ck_{table}_{column}"), _condition(column, values)
                )
    _name_indexes(drop=False)


def downgrade() -> None:
    _refuse_cascading_rebuild()
    _name_indexes(drop=True)
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column in columns:
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    _name_indexes(drop=False)
