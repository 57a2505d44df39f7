"""the coordinator's working day: stored reply-due times, callbacks, appointments, reopen

- appointment_requests gains reply_due_at and received_on (computed by the business clock
  from the settings in force when this runs, and backfilled here for every existing row),
  callback_at, appointment_on, first_contact_at and contact_business_minutes (backfilled
  from the history's first move to contacted or scheduled);
- request_events gains callback_at and appointment_on (what a move set);
- the status CHECKs take "awaiting_records", the history kinds and audit actions "reopen";
- held_notes: a note posted after its writer's session ended, offered back after sign-in;
- indexes for take-next (oldest unclaimed, not closed: partial), overdue counts and the
  metrics' period.

The value lists are written out here, not imported: a migration must keep meaning what it
meant when it ran. The backfill uses app/requests/business_clock.py with the settings of
the environment that runs it (CENTER_TIMEZONE, BUSINESS_HOURS, BUSINESS_DAYS,
CENTER_CLOSURES, REPLY_BUSINESS_DAYS); `flask intake reply-due` recomputes open requests
later if those change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 03:20:00
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD_STATUSES = ["new", "in_progress", "contacted", "scheduled", "closed"]
_NEW_STATUSES = ["new", "in_progress", "contacted", "awaiting_records", "scheduled", "closed"]
_OLD_KINDS = ["claim", "release", "status", "note"]
_NEW_KINDS = [*_OLD_KINDS, "reopen"]
_OLD_ACTIONS = [
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
]
_NEW_ACTIONS = [*_OLD_ACTIONS, "reopen"]

_NAME_INDEXES = {
    "ix_appointment_requests_last_name_lower": "last_name",
    "ix_appointment_requests_first_name_lower": "first_name",
}
_UNCLAIMED = "claimed_by_id IS NULL AND status <> 'closed'"
_BATCH = 5000


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
    bind = op.get_bind()
    if _sqlite() and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("run this migration with SQLite foreign keys off (alembic's default)")


def _checks(statuses: list[str], kinds: list[str], actions: list[str]) -> None:
    with op.batch_alter_table("appointment_requests") as batch_op:
        batch_op.drop_constraint(op.f("ck_appointment_requests_request_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_appointment_requests_request_status"), _condition("status", statuses)
        )
    with op.batch_alter_table("request_events") as batch_op:
        for column, values in (("kind", kinds), ("from_status", statuses), ("to_status", statuses)):
            batch_op.drop_constraint(op.f(f"ck_request_events_{column}"), type_="check")
            batch_op.create_check_constraint(
                op.f(f"ck_request_events_{column}"), _condition(column, values)
            )
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_events_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_audit_events_action"), _condition("action", actions)
        )


def _backfill() -> None:
    # Imported here: only the upgrade needs the clock and the settings.
    from app.requests.business_clock import from_settings
    from config import Config

    def as_utc(value):
        # Plain DateTime columns here: SQLite hands their values back naive, in UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    clock = from_settings({name: getattr(Config, name) for name in dir(Config)})
    bind = op.get_bind()
    requests = sa.table(
        "appointment_requests",
        sa.column("id", sa.Integer),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
        sa.column("reply_due_at", sa.DateTime(timezone=True)),
        sa.column("received_on", sa.Date),
        sa.column("first_contact_at", sa.DateTime(timezone=True)),
        sa.column("contact_business_minutes", sa.Integer),
    )
    events = sa.table(
        "request_events",
        sa.column("request_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("to_status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    first_contact = (
        sa.select(events.c.request_id, sa.func.min(events.c.created_at).label("at"))
        .where(events.c.kind == "status", events.c.to_status.in_(["contacted", "scheduled"]))
        .group_by(events.c.request_id)
        .subquery()
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(requests.c.id, requests.c.submitted_at, first_contact.c.at)
            .outerjoin(first_contact, first_contact.c.request_id == requests.c.id)
            .where(requests.c.id > after)
            .order_by(requests.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = []
        for request_id, submitted_at, contacted_at in rows:
            received = as_utc(submitted_at)
            minutes = None
            if contacted_at is not None:
                elapsed = clock.business_time_between(received, as_utc(contacted_at))
                minutes = int(elapsed.total_seconds() // 60)
            values.append(
                {
                    "row_id": request_id,
                    "due": clock.reply_due(received),
                    "day": clock.today(received),
                    "contact": contacted_at,
                    "minutes": minutes,
                }
            )
        bind.execute(
            requests.update()
            .where(requests.c.id == sa.bindparam("row_id"))
            .values(
                reply_due_at=sa.bindparam("due"),
                received_on=sa.bindparam("day"),
                first_contact_at=sa.bindparam("contact"),
                contact_business_minutes=sa.bindparam("minutes"),
            ),
            values,
        )
        after = rows[-1][0]


def upgrade() -> None:
    _refuse_cascading_rebuild()
    for name, kind in (
        ("reply_due_at", sa.DateTime(timezone=True)),
        ("received_on", sa.Date()),
        ("callback_at", sa.DateTime(timezone=True)),
        ("appointment_on", sa.Date()),
        ("first_contact_at", sa.DateTime(timezone=True)),
        ("contact_business_minutes", sa.Integer()),
    ):
        op.add_column("appointment_requests", sa.Column(name, kind, nullable=True))
    op.add_column(
        "request_events", sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("request_events", sa.Column("appointment_on", sa.Date(), nullable=True))
    _backfill()

    _name_indexes(drop=True)
    with op.batch_alter_table("appointment_requests") as batch_op:
        batch_op.alter_column(
            "reply_due_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.alter_column("received_on", existing_type=sa.Date(), nullable=False)
    _checks(_NEW_STATUSES, _NEW_KINDS, _NEW_ACTIONS)
    _name_indexes(drop=False)

    op.create_index(
        "ix_appointment_requests_unclaimed",
        "appointment_requests",
        ["submitted_at", "id"],
        postgresql_where=sa.text(_UNCLAIMED),
        sqlite_where=sa.text(_UNCLAIMED),
    )
    op.create_index(
        "ix_appointment_requests_status_due", "appointment_requests", ["status", "reply_due_at"]
    )
    # On PostgreSQL it carries every column the metrics read: an index-only scan.
    op.create_index(
        "ix_appointment_requests_received_on",
        "appointment_requests",
        ["received_on"],
        postgresql_include=[
            "has_referral",
            "language",
            "status",
            "reply_due_at",
            "first_contact_at",
            "contact_business_minutes",
        ],
    )
    op.create_table(
        "held_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "held_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_held_notes_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_notes")),
    )
    op.create_index("ix_held_notes_staff_reference", "held_notes", ["staff_id", "reference"])


def downgrade() -> None:
    _refuse_cascading_rebuild()
    op.drop_index("ix_held_notes_staff_reference", table_name="held_notes")
    op.drop_table("held_notes")
    op.drop_index("ix_appointment_requests_received_on", table_name="appointment_requests")
    op.drop_index("ix_appointment_requests_status_due", table_name="appointment_requests")
    op.drop_index("ix_appointment_requests_unclaimed", table_name="appointment_requests")
    bind = op.get_bind()
    # The older lists cannot hold the new values: those rows step back to their nearest.
    bind.execute(
        sa.text("UPDATE appointment_requests SET status = 'contacted' WHERE status = :s"),
        {"s": "awaiting_records"},
    )
    for column in ("from_status", "to_status"):
        bind.execute(
            sa.text(
                f"UPDATE request_events SET {column} = 'contacted' "  # noqa: S608
                f"WHERE {column} = 'awaiting_records'"
            )
        )
    bind.execute(sa.text("UPDATE request_events SET kind = 'status' WHERE kind = 'reopen'"))
    bind.execute(
        sa.text("UPDATE audit_events SET action = 'status_change' WHERE action = 'reopen'")
    )
    _name_indexes(drop=True)
    _checks(_OLD_STATUSES, _OLD_KINDS, _OLD_ACTIONS)
    with op.batch_alter_table("request_events") as batch_op:
        batch_op.drop_column("appointment_on")
        batch_op.drop_column("callback_at")
    with op.batch_alter_table("appointment_requests") as batch_op:
        for name in (
            "contact_business_minutes",
            "first_contact_at",
            "appointment_on",
            "callback_at",
            "received_on",
            "reply_due_at",
        ):
            batch_op.drop_column(name)
    _name_indexes(drop=False)
