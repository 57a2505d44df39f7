"""A valid request is stored once, in stored form, and confirmed to its own browser only."""

from datetime import date

from sqlalchemy import select

from app.models import AppointmentRequest, Referral, RequestStatus
from app.requests.reference_codes import ALPHABET
from tests.conftest import count_rows
from tests.support.forms import (
    CHECK_URL,
    FORM_URL,
    SEND_URL,
    caregiver_answers,
    open_form,
    referral_answers,
    submit,
    valid_answers,
)
from tests.support.html import parse, visible_text


def _only_request(db) -> AppointmentRequest:
    db.rollback()
    rows = db.scalars(select(AppointmentRequest)).all()
    assert len(rows) == 1
    return rows[0]


def test_a_self_referred_request_is_stored_and_queued(client, db):
    response = submit(client, valid_answers(message="  Please call after 10.  "))
    assert response.status_code == 303
    row = _only_request(db)
    assert response.headers["Location"] == f"/request-appointment/received/{row.reference}"
    assert row.status is RequestStatus.NEW
    assert row.submitted_at is not None
    assert len(row.reference) == 12 and set(row.reference) <= set(ALPHABET)
    assert row.first_name == "Maria" and row.last_name == "Santos-Ortiz"
    assert row.date_of_birth == date(1965, 3, 27)
    assert row.email == "Maria.Santos@example.com"  # domain normalized, local part kept
    assert row.phone == "+18135550123"
    assert row.state == "FL" and row.zip_code == "33612"
    assert row.metastasis_sites == ["bones", "liver"]
    assert row.interpreter_needed is False and row.in_treatment is True
    assert row.has_referral is False
    assert row.message == "Please call after 10."
    assert row.consent_to_contact is True
    assert row.submitted_by_patient is True and row.submitter_name is None
    assert count_rows(db, "referrals") == 0


def test_a_referred_request_stores_the_physician(client, db):
    response = submit(client, referral_answers(zip_code="336129416"))
    assert response.status_code == 303
    row = _only_request(db)
    assert row.has_referral is True
    assert row.zip_code == "33612-9416"
    referral = db.scalars(select(Referral)).one()
    assert referral.request_id == row.id
    assert referral.physician_name == "Dr. Alan O'Neil"
    assert referral.physician_phone == "+17275550142"
    assert referral.fax == "+17275550199"
    assert referral.email == "oneil@bayside.example"
    assert referral.npi == "1234567893"
    assert referral.practice == "Bayside Oncology"


def test_optional_referral_details_may_be_left_out(client, db):
    answers = referral_answers(
        physician_practice="", physician_fax="", physician_email="", physician_npi=""
    )
    assert submit(client, answers).status_code == 303
    referral = db.scalars(select(Referral)).one()
    assert (referral.practice, referral.fax, referral.email, referral.npi) == (None,) * 4


def test_referral_details_are_not_stored_without_a_referral(client, db):
    # Someone fills in the physician, then changes the answer to "no".
    answers = referral_answers(has_referral="no", physician_npi="not checked")
    assert submit(client, answers).status_code == 303
    assert _only_request(db).has_referral is False
    assert count_rows(db, "referrals") == 0


def test_a_caregiver_request_stores_who_filled_it_in(client, db):
    answers = caregiver_answers(
        submitter_phone="+1 727 555 0111",
        language="other",
        language_other="Tagalog",
        interpreter_needed="yes",
        insurance_type="none",
        insurance_carrier="ignored",
        diagnosed_metastatic="not_sure",
        metastasis_sites=[],
        sex="",
    )
    assert submit(client, answers).status_code == 303
    row = _only_request(db)
    assert row.submitted_by_patient is False
    assert (row.submitter_name, row.submitter_relationship) == ("Ana Ruiz", "daughter")
    assert row.submitter_phone == "+17275550111"
    assert (row.language, row.language_other, row.interpreter_needed) == ("other", "Tagalog", True)
    assert row.insurance_type == "none" and row.insurance_carrier is None
    assert row.metastasis_sites == [] and row.sex is None


def test_the_patient_answering_for_themselves_stores_no_caregiver(client, db):
    answers = valid_answers(submitter_name="Left Over", submitter_relationship="x")
    assert submit(client, answers).status_code == 303
    row = _only_request(db)
    assert row.submitter_name is None and row.submitter_relationship is None


def test_the_same_form_sent_twice_is_stored_once_with_one_confirmation(client, db):
    tokens = open_form(client)
    first = submit(client, valid_answers(), tokens)
    second = submit(client, valid_answers(), tokens)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_rows(db, "appointment_requests") == 1
    assert client.get(second.headers["Location"]).status_code == 200


def test_two_separate_forms_are_two_requests(client, db):
    assert submit(client).status_code == 303
    assert submit(client).status_code == 303
    assert count_rows(db, "appointment_requests") == 2


def test_a_tampered_form_token_stores_nothing(client, db):
    tokens = {**open_form(client), "form_token": "<bad token>"}
    response = submit(client, valid_answers(), tokens)
    # Back to this browser's answers, to send them from there.
    assert response.status_code == 303
    assert response.headers["Location"] == CHECK_URL
    assert count_rows(db, "appointment_requests") == 0


def test_the_confirmation_shows_the_reference_and_what_happens_next(client, db):
    response = submit(client)
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    row = _only_request(db)
    text = visible_text(page)
    shown = parse(page).select_one("[data-reference]").get_text()
    assert shown.replace("-", "") == row.reference
    assert "within 2 business days" in text
    assert "1-888-663-3488" in text
    assert "911" in text
    for private in ["Maria", "Santos", "1965", "example.com", "555-0123", "Florida Blue"]:
        assert private not in page.get_data(as_text=True)


def test_the_confirmation_does_not_open_in_another_browser(app, client):
    location = submit(client).headers["Location"]
    other_browser = app.test_client()
    elsewhere = other_browser.get(location)
    # The same page for a real reference and a made-up one: nothing about the request,
    # not even whether it exists; how to ask about it by phone.
    guessed = other_browser.get("/request-appointment/received/ABCDEFGHJKMN")
    assert elsewhere.status_code == guessed.status_code == 200
    assert elsewhere.get_data() == guessed.get_data() or visible_text(elsewhere) == visible_text(
        guessed
    )
    words = visible_text(elsewhere)
    assert "kept safely" in words and "1-888-663-3488" in words
    assert "Request received" not in words
    # The reference is in the page's own address, which the language switch and hreflang
    # links repeat (the same page in the other language), and nowhere else.
    reference = location.rsplit("/", 1)[1]
    page = elsewhere.get_data(as_text=True)
    for twin in (location, "/es" + location):
        page = page.replace(f'href="{twin}"', "")
    assert reference not in page
    assert "Request received" in visible_text(client.get(location))


def test_a_guessed_confirmation_address_shows_nothing_of_a_request(client):
    submit(client)
    page = client.get("/request-appointment/received/ABCDEFGHJKMN")
    assert page.status_code == 200
    assert "Request received" not in visible_text(page)
    # Only the page's own address (its language switch and hreflang links) holds it.
    html = page.get_data(as_text=True)
    for twin in ("/request-appointment/received/", "/es/request-appointment/received/"):
        html = html.replace(f'href="{twin}ABCDEFGHJKMN"', "")
    assert "ABCD" not in html


def test_a_post_without_csrf_token_is_refused_and_stores_nothing(client, db):
    client.get(FORM_URL)
    tokens = open_form(client)
    data = {**valid_answers(), "form_token": tokens["form_token"]}
    response = client.post(SEND_URL, data=data)
    assert response.status_code == 400
    assert "Your form could not be sent" in visible_text(response)
    assert count_rows(db, "appointment_requests") == 0


def test_a_post_with_a_wrong_csrf_token_is_refused(client, db):
    tokens = {**open_form(client), "csrf_token": "forged"}
    response = submit(client, valid_answers(), tokens)
    assert response.status_code == 400
    assert "nothing was saved" in visible_text(response)
    assert count_rows(db, "appointment_requests") == 0


def test_a_csrf_token_from_another_browser_is_refused(app, client, db):
    tokens = open_form(app.test_client())
    response = submit(client, valid_answers(), tokens)
    assert response.status_code == 400
    assert count_rows(db, "appointment_requests") == 0


def test_an_oversized_body_gets_413_and_stores_nothing(client, db):
    answers = valid_answers(message="x" * (70 * 1024))
    response = submit(client, answers)
    assert response.status_code == 413
    assert "too much" in visible_text(response)
    assert count_rows(db, "appointment_requests") == 0
