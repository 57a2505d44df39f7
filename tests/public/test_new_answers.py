"""The newer answers (issue 15): the caregiver's own e-mail and who to call first, phone
extensions, an e-mail asked only where it is the way to reach someone, Medicare Advantage
and its company, and the page's language; stored as typed, shown to staff."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AppointmentRequest, Referral
from app.requests.appointment_requests import submit_request
from tests.support.forms import referral_answers, submit, valid_answers
from tests.support.html import parse, visible_text
from tests.support.staff import NEWER_ANSWERS, make_request, request_details, signed_in_client

CAREGIVER = {
    "submitter": "someone_else",
    "submitter_name": "Ana Ruiz",
    "submitter_relationship": "daughter",
    "submitter_phone": "727 555 0111 x 31",
    "submitter_email": "Ana.Ruiz@Example.com",
    "call_first": "caregiver",
}


def _only_request(db) -> AppointmentRequest:
    db.rollback()
    (row,) = db.scalars(select(AppointmentRequest)).all()
    return row


@pytest.mark.parametrize(
    "typed",
    [
        "813 555 0123 ext. 204",
        "(813) 555-0123 x204",
        "813-555-0123 #204",
        "813.555.0123 extension 204",
        "8135550123, Ext: 204",
    ],
)
def test_an_extension_is_kept_beside_the_number(client, db, typed):
    assert submit(client, valid_answers(phone=typed)).status_code == 303
    row = _only_request(db)
    assert (row.phone, row.phone_ext) == ("+18135550123", "204")


def test_a_number_without_an_extension_stores_none(client, db):
    assert submit(client, valid_answers(phone="813 555 0123")).status_code == 303
    assert _only_request(db).phone_ext is None


def test_a_caregiver_gives_their_own_email_and_who_to_call_first(client, db):
    # Her mother has no e-mail: the caregiver is called first, by e-mail.
    answers = valid_answers(**CAREGIVER, email="", contact_method="email")
    assert submit(client, answers).status_code == 303
    row = _only_request(db)
    assert row.email is None
    assert row.submitter_email == "Ana.Ruiz@example.com"
    assert (row.submitter_phone, row.submitter_phone_ext) == ("+17275550111", "31")
    assert row.call_first == "caregiver"


def test_the_patients_email_may_be_left_empty_when_we_contact_by_phone(client, db):
    assert submit(client, valid_answers(email="", contact_method="phone")).status_code == 303
    assert _only_request(db).email is None


def test_a_patient_filling_in_the_form_keeps_no_caregiver_answers(client, db):
    answers = valid_answers(
        submitter_email="left@example.com", call_first="caregiver", submitter_phone="727 555 0111"
    )
    assert submit(client, answers).status_code == 303
    row = _only_request(db)
    assert (row.submitter_email, row.call_first, row.submitter_phone_ext) == (None, None, None)


@pytest.mark.parametrize(
    ("insurance", "carrier", "kept"),
    [
        ("medicare_advantage", "Humana Gold Plus", "Humana Gold Plus"),
        ("medicaid", "Sunshine Health", "Sunshine Health"),
        ("medicaid", "", None),  # a Medicaid card may name no plan
        ("medicare", "Left over", None),
        ("none", "Left over", None),
    ],
)
def test_the_insurance_company_is_kept_only_where_there_is_one(
    client, db, insurance, carrier, kept
):
    answers = valid_answers(insurance_type=insurance, insurance_carrier=carrier)
    assert submit(client, answers).status_code == 303
    row = _only_request(db)
    assert (row.insurance_type, row.insurance_carrier) == (insurance, kept)


def test_the_physicians_extension_is_kept_on_the_referral(client, db):
    assert submit(client, referral_answers(physician_phone="727-555-0142 ext 9")).status_code == 303
    db.rollback()
    referral = db.scalars(select(Referral)).one()
    assert (referral.physician_phone, referral.physician_phone_ext) == ("+17275550142", "9")


def test_a_request_remembers_the_page_it_was_made_on(client, db):
    assert submit(client).status_code == 303
    assert _only_request(db).form_language == "en"
    db.rollback()
    submit_request(db, details=request_details(form_language="es"), token="t" * 32)
    db.commit()
    languages = db.scalars(select(AppointmentRequest.form_language)).all()
    assert sorted(languages) == ["en", "es"]


def test_staff_see_every_new_answer(app, db):
    row = make_request(
        db, **NEWER_ANSWERS, email=None, contact_method="email", phone="+18135550123"
    )
    client, _ = signed_in_client(app, db)
    response = client.get(f"/staff/requests/{row.reference}")
    words = visible_text(response)
    assert "(813) 555-0123 ext. 204" in words
    assert "(727) 555-0111 ext. 31" in words
    assert "Medicare Advantage: Humana Gold Plus" in words
    assert "Made on the Spanish page" in words
    assert "Call first The person filling in this form (Ana Ruiz)" in " ".join(words.split())
    links = {a["href"] for a in parse(response).find_all("a", href=True)}
    # RFC 3966: the phone dials the extension too.
    assert "tel:+18135550123;ext=204" in links
    assert "tel:+17275550111;ext=31" in links
    assert "mailto:ana@example.com" in links


def test_staff_read_which_page_an_english_request_came_from(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    words = visible_text(client.get(f"/staff/requests/{row.reference}"))
    assert "Made on the English page" in words
    assert "ext." not in words
