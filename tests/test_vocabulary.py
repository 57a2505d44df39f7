"""The vocabulary: one label per value, and the database takes exactly its values."""

from __future__ import annotations

import pytest
from sqlalchemy import Enum, insert, select, update
from sqlalchemy.exc import IntegrityError

from app import vocabulary
from app.models import AppointmentRequest, AuditEvent, Base, RequestEvent, StaffUser
from app.templating import label, reference
from tests.support.staff import make_request, make_staff

CODED_COLUMNS = [
    (table.name, column.name, column.type.enum_class)
    for table in Base.metadata.sorted_tables
    for column in table.columns
    if isinstance(column.type, Enum)
]


@pytest.mark.parametrize("vocab", vocabulary.BY_NAME.values(), ids=lambda v: v.__name__)
def test_every_value_has_a_label_of_its_own(vocab):
    values = [member.value for member in vocab]
    labels = [member.label for member in vocab]
    assert all(labels) and len(set(labels)) == len(labels)
    assert len(set(values)) == len(values)
    assert vocab.choices() == list(zip(values, labels, strict=True))


def test_every_coded_column_of_the_patient_answers_is_checked():
    checked = {(table, column) for table, column, _ in CODED_COLUMNS}
    for column in (
        "sex",
        "contact_method",
        "best_time_to_call",
        "state",
        "language",
        "diagnosed_metastatic",
        "insurance_type",
        "status",
        "closed_reason",
    ):
        assert ("appointment_requests", column) in checked
    for column in ("kind", "from_status", "to_status", "close_reason"):
        assert ("request_events", column) in checked
    assert ("audit_events", "action") in checked


def test_labels_and_references_as_templates_show_them():
    assert label(vocabulary.RequestStatus.IN_PROGRESS) == "In progress"
    assert label("bones", "MetastasisSite") == "Bones"
    assert label("nowhere", "MetastasisSite") == ""
    assert label(None) == ""
    assert reference("K7QM4XPD9RTA") == "K7QM-4XPD-9RTA"


def _row_for(db, app, table: str) -> dict:
    """Where to try values: an existing row's id for each table."""
    request = make_request(db)
    staff = make_staff(app, db)
    db.rollback()
    if table == "appointment_requests":
        return {"model": AppointmentRequest, "id": request.id}
    if table == "staff_users":
        return {"model": StaffUser, "id": staff.id}
    if table == "request_events":
        db.execute(
            insert(RequestEvent).values(request_id=request.id, staff_id=staff.id, kind="note")
        )
        model = RequestEvent
    else:
        db.execute(insert(AuditEvent).values(action="sign_in", staff_id=staff.id))
        model = AuditEvent
    db.commit()
    return {"model": model, "id": db.scalar(select(model.id))}


@pytest.mark.parametrize(
    ("table", "column", "vocab"), CODED_COLUMNS, ids=[f"{t}.{c}" for t, c, _ in CODED_COLUMNS]
)
def test_the_database_takes_every_value_and_refuses_any_other(app, db, table, column, vocab):
    target = _row_for(db, app, table)
    model, row_id = target["model"], target["id"]
    raw = model.__table__
    for value in vocab.values():
        db.execute(update(raw).where(raw.c.id == row_id).values({column: value}))
    db.commit()
    # Past the ORM's own check, straight to the database's: a value nobody can label
    # (two characters, so that it fits the shortest column).
    with pytest.raises(IntegrityError):
        db.connection().exec_driver_sql(
            f"UPDATE {table} SET {column} = 'zz' WHERE id = {row_id}"  # noqa: S608
        )
    db.rollback()
