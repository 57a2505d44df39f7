"""`flask intake purge --closed-before DATE`."""

from datetime import UTC, datetime

from sqlalchemy import select

from app.models import (
    AppointmentRequest,
    AuditEvent,
    CloseReason,
    Referral,
    RequestEvent,
    RequestStatus,
    StaffRole,
    StaffUser,
)
from app.requests.retention import PURGE_ACTION
from tests.support.forms import referral_answers, submit


def make_request(client, db, *, closed_at=None, first_name="Maria"):
    answers = referral_answers(
        first_name=first_name,
        phone="813 555 0123 ext. 204",
        submitter="someone_else",
        submitter_name="Ana Ruiz",
        submitter_relationship="daughter",
        submitter_phone="727 555 0111 x31",
        submitter_email="ana@example.com",
        call_first="caregiver",
    )
    response = submit(client, answers)
    assert response.status_code == 303
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    row = db.scalars(
        select(AppointmentRequest).where(AppointmentRequest.reference == reference)
    ).one()
    if closed_at:
        row.status = RequestStatus.CLOSED
        row.closed_reason = CloseReason.DECLINED
        row.closed_at = closed_at
    db.commit()
    return row


def test_purge_removes_patient_data_of_requests_closed_before_the_date(app, client, db):
    staff = StaffUser(
        email="coord@center.example", name="Coordinator", role=StaffRole.INTAKE, password_hash="x"
    )
    db.add(staff)
    db.commit()
    old = make_request(client, db, closed_at=datetime(2025, 1, 10, tzinfo=UTC))
    recent = make_request(client, db, closed_at=datetime(2026, 6, 1, tzinfo=UTC))
    still_open = make_request(client, db)
    db.add(
        RequestEvent(
            request_id=old.id, staff_id=staff.id, kind="note", note="Maria's daughter called"
        )
    )
    db.commit()

    result = app.test_cli_runner().invoke(args=["intake", "purge", "--closed-before", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "1 closed request" in result.output

    db.expire_all()
    purged = db.get(AppointmentRequest, old.id)
    assert purged.reference == old.reference
    assert purged.status == RequestStatus.CLOSED
    assert purged.purged_at is not None
    assert (purged.first_name, purged.last_name, purged.phone) == ("", "", "")
    assert purged.email is None  # may be empty since the e-mail is not always asked
    # The caregiver's answers and the extensions say who someone is, too.
    assert (purged.submitter_name, purged.submitter_phone, purged.submitter_email) == (
        None,
        None,
        None,
    )
    assert (purged.phone_ext, purged.submitter_phone_ext) == (None, None)
    # Coded answers identify nobody and stay for the figures.
    assert purged.call_first == "caregiver" and purged.form_language == "en"
    assert purged.date_of_birth is None
    assert purged.message is None and purged.insurance_carrier is None
    assert purged.metastasis_sites == []
    assert db.scalars(select(Referral).where(Referral.request_id == old.id)).first() is None
    event = db.scalars(select(RequestEvent).where(RequestEvent.request_id == old.id)).one()
    assert event.note is None and event.kind == "note", "the history stays, its note goes"
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == PURGE_ACTION)).all()
    assert [a.request_id for a in audit] == [old.id]

    for kept in (recent, still_open):
        row = db.get(AppointmentRequest, kept.id)
        assert row.first_name == "Maria" and row.date_of_birth is not None
        assert (row.phone_ext, row.submitter_email) == ("204", "ana@example.com")
        assert row.purged_at is None
        assert db.scalars(select(Referral).where(Referral.request_id == kept.id)).first()

    again = app.test_cli_runner().invoke(args=["intake", "purge", "--closed-before", "2026-01-01"])
    assert "0 closed request" in again.output


def test_purge_needs_a_real_past_date(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["intake", "purge", "--closed-before", "01/01/2026"]).exit_code != 0
    assert runner.invoke(args=["intake", "purge"]).exit_code != 0
    assert runner.invoke(args=["intake", "purge", "--closed-before", "2999-01-01"]).exit_code != 0
