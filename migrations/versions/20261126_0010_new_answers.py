"""the new contact answers, Medicare Advantage and the page's language

Caregiver e-mail, who to call first, phone extensions, Medicare Advantage, the page's
language; the patient's e-mail may be empty.

- appointment_requests gains submitter_email, submitter_phone_ext, call_first (CHECK
  'patient' or 'caregiver'), phone_ext and form_language ('en' or 'es', not null, 'en'
  for every request made before: the site had only the English page).
- referrals gains physician_phone_ext.
- appointment_requests.email may be empty: it is asked only where e-mail is the way to
  reach the patient.
- insurance_type's CHECK (migration 0003) is re-created with 'medicare_advantage'.

The lists are written out here, not imported: a migration keeps meaning what it meant.
SQLite rebuilds appointment_requests (batch mode); its two lower(name) indexes are dropped
first and made again after, as in 0003 and 0004. The downgrade refuses to run while a
request has no e-mail or says Medicare Advantage: it would have to invent an answer.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 05:40:00
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INSURANCE_BEFORE = ["commercial", "medicare", "medicaid", "other", "none"]
_INSURANCE = ["commercial", "medicare", "medicare_advantage", "medicaid", "other", "none"]
_CALL_FIRST = ["patient", "caregiver"]
_FORM_LANGUAGES = ["en", "es"]

_EXTENSION_MAX = 10
_EMAIL_MAX = 254

_NAME_INDEXES = {
    "ix_appointment_requests_last_name_lower": "last_name",
    "ix_appointment_requests_first_name_lower": "first_name",
}


def _condition(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _name_indexes(*, drop: bool) -> None:
    # SQLite's reflection cannot read expression indexes: a batch rebuild would lose them.
    if not _sqlite():
        return
    for name, column in _NAME_INDEXES.items():
        if drop:
            op.drop_index(name, table_name="appointment_requests")
        else:
            op.create_index(name, "appointment_requests", [sa.text(f"lower({column})")])


def _refuse_cascading_rebuild() -> None:
    # Dropping the old table with foreign keys enforced would delete every referral.
    bind = op.get_bind()
    if _sqlite() and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("run this migration with SQLite foreign keys off (alembic's default)")


def _batch(table: str):
    return op.batch_alter_table(table)


def upgrade() -> None:
    _refuse_cascading_rebuild()
    _name_indexes(drop=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with _batch("appointment_requests") as batch_op:
            batch_op.add_column(sa.Column("submitter_phone_ext", sa.String(_EXTENSION_MAX)))
            batch_op.add_column(sa.Column("submitter_email", sa.String(_EMAIL_MAX)))
            batch_op.add_column(sa.Column("call_first", sa.String(10)))
            batch_op.add_column(sa.Column("phone_ext", sa.String(_EXTENSION_MAX)))
            batch_op.add_column(
                sa.Column("form_language", sa.String(2), nullable=False, server_default="en")
            )
            batch_op.alter_column(
                "email", existing_type=sa.String(_EMAIL_MAX), existing_nullable=False, nullable=True
            )
            batch_op.create_check_constraint(
                op.f("ck_appointment_requests_call_first"), _condition("call_first", _CALL_FIRST)
            )
            batch_op.create_check_constraint(
                op.f("ck_appointment_requests_form_language"),
                _condition("form_language", _FORM_LANGUAGES),
            )
            batch_op.drop_constraint(op.f("ck_appointment_requests_insurance_type"), type_="check")
            batch_op.create_check_constraint(
                op.f("ck_appointment_requests_insurance_type"),
                _condition("insurance_type", _INSURANCE),
            )
        with _batch("referrals") as batch_op:
            batch_op.add_column(sa.Column("physician_phone_ext", sa.String(_EXTENSION_MAX)))
    _name_indexes(drop=False)


def downgrade() -> None:
    _refuse_cascading_rebuild()
    bind = op.get_bind()
    blocking = bind.execute(
        sa.text(
            "SELECT count(*) FROM appointment_requests"
            " WHERE (email IS NULL AND purged_at IS NULL)"
            " OR insurance_type = 'medicare_advantage'"
        )
    ).scalar()
    if blocking:
        raise RuntimeError(
            f"{blocking} requests have no e-mail or say Medicare Advantage:"
            " 0009 cannot store them as they are"
        )
    # A purged request's e-mail was removed to "" before 0010 allowed none.
    op.execute("UPDATE appointment_requests SET email = '' WHERE email IS NULL")
    _name_indexes(drop=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with _batch("referrals") as batch_op:
            batch_op.drop_column("physician_phone_ext")
        with _batch("appointment_requests") as batch_op:
            batch_op.drop_constraint(op.f("ck_appointment_requests_insurance_type"), type_="check")
            batch_op.create_check_constraint(
                op.f("ck_appointment_requests_insurance_type"),
                _condition("insurance_type", _INSURANCE_BEFORE),
            )
            batch_op.drop_constraint(op.f("ck_appointment_requests_form_language"), type_="check")
            batch_op.drop_constraint(op.f("ck_appointment_requests_call_first"), type_="check")
            batch_op.alter_column(
                "email", existing_type=sa.String(_EMAIL_MAX), existing_nullable=True, nullable=False
            )
            for column in (
                "form_language",
                "phone_ext",
                "call_first",
                "submitter_email",
                "submitter_phone_ext",
            ):
                batch_op.drop_column(column)
    _name_indexes(drop=False)
