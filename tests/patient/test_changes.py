"""What the person may change or sign on the private page: how to reach them (and nothing
else), and a release for the center to fetch their records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.models import AppointmentRequest, AuditEvent, RecordsRelease, RequestEvent
from tests.patient.conftest import link_token, open_page, post_from
from tests.support.staff import NEWER_ANSWERS, make_request, signed_in_client


def opened(app, db, **fields):
    made = make_request(db, **fields)
    reference, request_id = made.reference, made.id
    client = app.test_client()
    assert open_page(client, link_token(db, request_id)).status_code == 303
    return reference, request_id, client


CONTACT = {
    "phone": "727 555 0199 ext. 12",
    "email": "maria.new@example.com",
    "contact_method": "either",
    "best_time_to_call": "afternoon",
}


def test_a_new_phone_goes_on_the_history_as_the_person_s_and_is_marked_for_staff(app, db):
    reference, request_id, client = opened(app, db)
    response = post_from(client, "/your-request/contact", "/your-request/contact", CONTACT)
    assert response.status_code == 303 and "saved=contact" in response.headers["Location"]
    row = db.get(AppointmentRequest, request_id)
    assert (row.phone, row.phone_ext, row.email) == ("+17275550199", "12", "maria.new@example.com")
    # Nothing else changed.
    assert (row.first_name, row.date_of_birth) == ("Maria", date(1965, 3, 27))
    event = db.scalars(select(RequestEvent).where(RequestEvent.kind == "contact_changed")).one()
    assert (
        event.staff_id is None and "(813) 555-0123" in event.note and "(727) 555-0199" in event.note
    )
    audit = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "patient_contact_changed")
    ).one()
    # The trail names the answers, never their values.
    assert "phone" in audit.detail and "555" not in audit.detail and "@" not in audit.detail
    db.rollback()

    staff, _ = signed_in_client(app, db)
    assert "data-contact-changed" in staff.get("/staff/queue").get_data(as_text=True)
    page = staff.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "data-contact-changed" in page and "The person who sent the request" in page


def test_the_same_details_again_change_nothing(app, db):
    _reference, _request_id, client = opened(app, db)
    same = {
        "phone": "(813) 555-0123",
        "email": "maria@example.com",
        "contact_method": "phone",
        "best_time_to_call": "morning",
    }
    response = post_from(client, "/your-request/contact", "/your-request/contact", same)
    assert "saved=unchanged" in response.headers["Location"]
    assert db.scalars(select(RequestEvent)).all() == []


def test_a_wrong_phone_says_what_to_fix_and_keeps_what_was_typed(app, db):
    _reference, request_id, client = opened(app, db)
    response = post_from(
        client,
        "/your-request/contact",
        "/your-request/contact",
        {**CONTACT, "phone": "813-555-CALL", "email": ""},
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Enter the phone number using digits" in text and 'value="813-555-CALL"' in text
    assert "Enter an email address, or choose Phone" in text
    assert db.get(AppointmentRequest, request_id).phone == "+18135550123"


def test_a_caregiver_may_change_their_own_details_and_who_to_call_first(app, db):
    _reference, request_id, client = opened(app, db, **NEWER_ANSWERS)
    page = client.get("/your-request/contact").get_data(as_text=True)
    assert "Your phone number" in page and "Who should we call first?" in page
    response = post_from(
        client,
        "/your-request/contact",
        "/your-request/contact",
        {
            **CONTACT,
            "submitter_phone": "727 555 0111",
            "submitter_email": "",
            "call_first": "patient",
        },
    )
    assert response.status_code == 303
    row = db.get(AppointmentRequest, request_id)
    assert (row.submitter_phone, row.submitter_phone_ext, row.call_first) == (
        "+17275550111",
        None,
        "patient",
    )


def test_only_contact_answers_can_be_changed(app, db):
    _reference, request_id, client = opened(app, db)
    post_from(
        client,
        "/your-request/contact",
        "/your-request/contact",
        {**CONTACT, "first_name": "Mallory", "date_of_birth": "2000-01-01", "status": "closed"},
    )
    row = db.get(AppointmentRequest, request_id)
    assert (row.first_name, row.status) == ("Maria", "new")


RELEASE = {
    "holder_kind_1": "doctor",
    "holder_name_1": "Bayside Oncology",
    "holder_city_1": "Clearwater, FL",
    "holder_phone_1": "727 555 0142",
    "holder_kind_2": "hospital",
    "holder_name_2": "St. Joseph's Hospital",
    "holder_city_2": "Tampa, FL",
    "records": ["pathology", "imaging"],
    "signer": "patient",
    "signature": "Maria Santos",
    "agree": "y",
}


def _today(app):
    with app.app_context():
        from datetime import UTC, datetime

        return app.extensions["business_clock"].today(datetime.now(UTC))


def test_a_signed_release_keeps_its_exact_text_and_staff_print_it(app, db):
    reference, request_id, client = opened(app, db)
    today = _today(app)
    data = {
        **RELEASE,
        "signed_month": str(today.month),
        "signed_day": str(today.day),
        "signed_year": str(today.year),
    }
    page = client.get("/your-request/release").get_data(as_text=True)
    for element in (
        "Purpose:",
        "revoke",
        "does not depend on whether I sign",
        "no longer be protected",
    ):
        assert element in page
    response = post_from(client, "/your-request/release", "/your-request/release", data)
    assert response.status_code == 303
    release = db.scalars(select(RecordsRelease)).one()
    for part in (
        "Maria Santos",
        "Bayside Oncology, Clearwater, FL",
        "St. Joseph's Hospital, Tampa, FL",
        "Pathology report",
        "revoke",
        "ends on",
    ):
        assert part in release.text
    assert release.signer_name == "Maria Santos" and release.signed_on == today
    release_id = release.id
    db.rollback()
    copy = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bayside Oncology" in copy

    staff, _ = signed_in_client(app, db)
    request_page = staff.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "Bayside Oncology" in request_page
    printed = staff.get(f"/staff/requests/{reference}/releases/{release_id}")
    text = printed.get_data(as_text=True)
    assert printed.status_code == 200 and text.count('class="release-copy"') == 2
    db.rollback()
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.request_id == request_id)).all()
    assert "release_signed" in actions and "release_viewed" in actions


def test_a_release_without_a_signature_or_with_another_day_is_refused(app, db):
    _reference, _request_id, client = opened(app, db)
    data = {
        **RELEASE,
        "signature": "",
        "agree": "",
        "signed_month": "1",
        "signed_day": "2",
        "signed_year": "2001",
    }
    response = post_from(client, "/your-request/release", "/your-request/release", data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Type your full name to sign" in text
    assert "Enter today&#39;s date" in text or "Enter today's date" in text
    assert "Confirm that typing your name is your signature" in text
    assert 'value="Bayside Oncology"' in text
    assert db.scalars(select(RecordsRelease)).all() == []
