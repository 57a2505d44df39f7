"""The vocabulary: one label per value, and the database takes exactly its values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Enum, text
from sqlalchemy.exc import IntegrityError

from app import vocabulary
from app.models import (
    AppointmentRequest,
    AuditEvent,
    Base,
    JourneyFunnelDay,
    OutboxMessage,
    RecordsRelease,
    RequestDocument,
    RequestDraft,
    RequestEvent,
    StaffUser,
)
from app.templating import label, reference
from tests.support.staff import make_request, make_staff

_SOON = datetime(2026, 12, 6, 12, tzinfo=UTC)

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
        "call_first",
        "form_language",
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


# The audit trail and the history are append-only (triggers refuse UPDATE), and the
# journey's funnel is keyed by its coded columns: values are tried there by adding rows,
# elsewhere by changing an existing one.
ADDED_ROWS = {"request_events", "audit_events", "journey_funnel_days"}


def _target(db, app, table: str) -> dict:
    """Where to try values: an existing row's id, or the fields of a row to add."""
    request = make_request(db)
    staff = make_staff(app, db)
    db.rollback()
    if table == "appointment_requests":
        return {"model": AppointmentRequest, "id": request.id}
    if table == "staff_users":
        return {"model": StaffUser, "id": staff.id}
    if table == "outbox_messages":
        message = OutboxMessage(kind="confirmation", token="t" * 32, locale="en", attempts=0)
        db.add(message)
        db.commit()
        return {"model": OutboxMessage, "id": message.id}
    if table == "request_documents":
        document = RequestDocument(
            request_id=request.id,
            kind="pathology",
            sha256="0" * 64,
            content_type="image/png",
            size=1,
        )
        db.add(document)
        db.commit()
        return {"model": RequestDocument, "id": document.id}
    if table == "records_releases":
        release = RecordsRelease(
            request_id=request.id,
            holders=[],
            records=[],
            signer="patient",
            signer_name="Maria Santos",
            language="en",
            text_sha256="0" * 64,
        )
        db.add(release)
        db.commit()
        return {"model": RecordsRelease, "id": release.id}
    if table == "request_drafts":
        draft = RequestDraft(
            key="k" * 32, form_token="f" * 32, answers={}, checked_steps=[], expires_at=_SOON
        )
        db.add(draft)
        db.commit()
        return {"model": RequestDraft, "id": draft.id}
    if table == "journey_funnel_days":
        row = {"day": _SOON.date(), "stage": "began", "device": "phone", "language": "en"}
        return {"model": JourneyFunnelDay, "row": {**row, "drafts": 1}}
    if table == "request_events":
        row = {"request_id": request.id, "staff_id": staff.id, "kind": "note"}
        return {"model": RequestEvent, "row": row}
    return {"model": AuditEvent, "row": {"action": "sign_in", "staff_id": staff.id}}


def _store(db, table: str, target: dict, column: str, value: str) -> None:
    """Plain SQL, past the ORM's own check, so what is tested is the database's."""
    if table in ADDED_ROWS:
        fields = {**target["row"], column: value}
        names = ", ".join(fields)
        places = ", ".join(f":{name}" for name in fields)
        db.execute(text(f"INSERT INTO {table} ({names}) VALUES ({places})"), fields)  # noqa: S608
    else:
        db.execute(
            text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),  # noqa: S608
            {"value": value, "id": target["id"]},
        )


@pytest.mark.parametrize(
    ("table", "column", "vocab"), CODED_COLUMNS, ids=[f"{t}.{c}" for t, c, _ in CODED_COLUMNS]
)
def test_the_database_takes_every_value_and_refuses_any_other(app, db, table, column, vocab):
    target = _target(db, app, table)
    for value in vocab.values():
        _store(db, table, target, column, value)
    db.commit()
    # A value nobody can label (two characters, so that it fits the shortest column).
    with pytest.raises(IntegrityError):
        _store(db, table, target, column, "zz")
    db.rollback()
