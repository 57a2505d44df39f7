"""Each rule of the request form: a bad value gets a message on its field and in the
summary (linking to the field), what was typed stays, and nothing is stored."""

import pytest

from app.requests.fields import STEPS
from tests.conftest import count_rows
from tests.support.forms import (
    page_csrf,
    post_step,
    referral_answers,
    start,
    step_url,
    submit,
    valid_answers,
)
from tests.support.html import error_summary, inline_error, parse, value_of

_CAREGIVER = {
    "submitter": "someone_else",
    "submitter_name": "Ana Ruiz",
    "submitter_relationship": "daughter",
    "submitter_phone": "727 555 0111",
    "call_first": "patient",
}

CASES = [
    # (answers changed, summary link target, message)
    ({"submitter": None}, "submitter-0", "Select whether you are the patient"),
    ({"submitter": "someone_else"}, "submitter_name", "Enter your full name"),
    (
        {"submitter": "someone_else", "submitter_name": "Ana Ruiz"},
        "submitter_relationship",
        "Enter your relationship to the patient",
    ),
    (
        {
            "submitter": "someone_else",
            "submitter_name": "Ana Ruiz",
            "submitter_relationship": "daughter",
        },
        "submitter_phone",
        "Enter your phone number",
    ),
    ({**_CAREGIVER, "call_first": None}, "call_first-0", "Select who we should call first"),
    (
        {**_CAREGIVER, "submitter_phone": "727 555 CALL"},
        "submitter_phone",
        "Enter the phone number using digits",
    ),
    (
        {**_CAREGIVER, "call_first": "caregiver", "contact_method": "email", "email": ""},
        "submitter_email",
        "Enter your email address, or choose Phone as the way to contact you",
    ),
    ({**_CAREGIVER, "submitter_email": "ana@"}, "submitter_email", "Enter an email address"),
    ({"first_name": "   "}, "first_name", "Enter your first name"),
    ({"first_name": "M4ria"}, "first_name", "First name can only include letters"),
    ({"last_name": "Smith<script>"}, "last_name", "Last name can only include letters"),
    ({"last_name": "x" * 101}, "last_name", "Use 100 characters or fewer"),
    ({"first_name": "Ma\x00ria"}, "first_name", "Remove the special characters"),
    (
        {"dob_month": "", "dob_day": "", "dob_year": ""},
        "dob_month",
        "Enter your date of birth",
    ),
    ({"dob_year": ""}, "dob_month", "Date of birth must include a year"),
    ({"dob_month": "2", "dob_day": "30"}, "dob_month", "Date of birth must be a real date"),
    ({"dob_month": "ab"}, "dob_month", "Date of birth must be a real date"),
    ({"dob_year": "65"}, "dob_month", "Enter the year of birth with 4 digits"),
    ({"dob_year": "2999"}, "dob_month", "Date of birth must be in the past"),
    ({"dob_year": "1890"}, "dob_month", "cannot be older than 120"),
    (
        {"email": "", "contact_method": "email"},
        "email",
        "Enter your email address, or choose Phone as the way to contact you",
    ),
    ({"email": "", "contact_method": "either"}, "email", "Enter your email address"),
    ({"email": "maria@"}, "email", "Enter an email address, like name@example.com"),
    ({"email": "maria santos@example.com"}, "email", "Enter an email address"),
    ({"phone": ""}, "phone", "Enter your phone number"),
    ({"phone": "555-0123"}, "phone", "Enter a phone number, like 813 555 0123"),
    ({"phone": "call me"}, "phone", "Enter the phone number using digits, like 813 555 0123"),
    # Letters are never turned into digits ("CALL" is not 2255).
    ({"phone": "813-555-CALL"}, "phone", "Enter the phone number using digits"),
    ({"phone": "813 555 0123 ext. 12345678901"}, "phone", "Enter an extension of 10 digits"),
    ({"contact_method": "pigeon"}, "contact_method-0", "Not a valid choice"),
    ({"contact_method": None}, "contact_method-0", "Select how we should contact"),
    ({"best_time_to_call": None}, "best_time_to_call-0", "Select the best time to call"),
    ({"state": ""}, "state", "Select the state where you live"),
    ({"state": "XX"}, "state", "Not a valid choice"),
    ({"zip_code": ""}, "zip_code", "Enter your ZIP code"),
    ({"zip_code": "3361"}, "zip_code", "Enter a 5-digit ZIP code"),
    ({"zip_code": "33612-94"}, "zip_code", "Enter a 5-digit ZIP code"),
    ({"language": None}, "language-0", "Select the preferred language"),
    ({"language": "other"}, "language_other", "Enter the preferred language"),
    ({"interpreter_needed": None}, "interpreter_needed-0", "Select whether an interpreter"),
    (
        {"diagnosed_metastatic": None},
        "diagnosed_metastatic-0",
        "Select whether you have been diagnosed",
    ),
    ({"metastasis_sites": []}, "metastasis_sites-0", "Select where the cancer has spread"),
    ({"metastasis_sites": ["lungs", "not_sure"]}, "metastasis_sites-0", "not both"),
    ({"metastasis_sites": ["spleen"]}, "metastasis_sites-0", "not a valid choice"),
    ({"in_treatment": None}, "in_treatment-0", "Select whether you are being treated"),
    ({"insurance_type": None}, "insurance_type-0", "Select your insurance"),
    ({"insurance_carrier": ""}, "insurance_carrier", "Enter the name of the insurance company"),
    (
        {"insurance_type": "medicare_advantage", "insurance_carrier": ""},
        "insurance_carrier",
        "Enter the name of the insurance company",
    ),
    (
        {"insurance_type": "medicaid", "insurance_carrier": "x" * 101},
        "insurance_carrier",
        "Use 100 characters or fewer",
    ),
    ({"has_referral": None}, "has_referral-0", "Select whether a physician has referred"),
    ({"has_referral": "yes"}, "physician_name", "Enter the referring physician's name"),
    ({"message": "x" * 2001}, "message", "Use 2,000 characters or fewer"),
    ({"message": "Hello\x07there"}, "message", "Remove the special characters"),
    ({"consent": None}, "consent", "Confirm that we may contact you"),
]

REFERRAL_CASES = [
    ({"physician_phone": ""}, "physician_phone", "Enter the referring physician's phone number"),
    ({"physician_phone": "12"}, "physician_phone", "Enter a phone number"),
    ({"physician_npi": "1234567890"}, "physician_npi", "Enter the 10-digit NPI number"),
    ({"physician_npi": "12345"}, "physician_npi", "Enter the 10-digit NPI number"),
    ({"physician_email": "oneil@"}, "physician_email", "Enter an email address"),
    ({"physician_fax": "fax me"}, "physician_fax", "Enter the fax number using digits"),
    ({"physician_fax": "727 555 019"}, "physician_fax", "Enter a fax number, like 813 555 0199"),
    ({"physician_fax": "727 555 0199 x12"}, "physician_fax", "without an extension"),
    ({"physician_phone": "727-555-DOCS"}, "physician_phone", "Enter the phone number using digits"),
    ({"physician_name": "Dr. 0'Neil"}, "physician_name", "can only include letters"),
]


def _check_rejected(client, db, answers, target, message):
    response = submit(client, answers)
    assert response.status_code == 200
    summary = error_summary(response)
    assert target in summary, summary
    assert message.lower() in summary[target].lower()
    assert message.lower() in (inline_error(response, target) or "").lower()
    assert parse(response).title.get_text().startswith("Error: ")
    assert count_rows(db, "appointment_requests") == 0
    assert count_rows(db, "referrals") == 0
    return response


@pytest.mark.parametrize(("changes", "target", "message"), CASES)
def test_a_bad_answer_is_explained_and_nothing_is_stored(client, db, changes, target, message):
    _check_rejected(client, db, valid_answers(**changes), target, message)


@pytest.mark.parametrize(("changes", "target", "message"), REFERRAL_CASES)
def test_bad_referral_details_are_explained(client, db, changes, target, message):
    _check_rejected(client, db, referral_answers(**changes), target, message)


def test_what_was_typed_stays_on_the_form(client, db):
    answers = valid_answers(
        email="not-an-email",
        first_name="  Zoë  ",
        last_name="Ōtsuka-Brandt",
        message='Line one\nLine <two> & "three"',
        zip_code="33612",
        state="FL",
        language="other",
        language_other="Tagalog",
    )
    response = _check_rejected(client, db, answers, "email", "Enter an email address")
    assert value_of(response, "email") == "not-an-email"
    assert value_of(response, "language_other") == "Tagalog"
    soup = parse(response)
    assert soup.find("input", id="language-2").has_attr("checked")
    # The earlier steps keep theirs too.
    patient = client.get(step_url(STEPS[1]))
    assert value_of(patient, "first_name") == "Zoë"  # trimmed
    assert value_of(patient, "last_name") == "Ōtsuka-Brandt"
    assert value_of(patient, "state") == "FL"
    # Fixed, the later steps keep what is typed as well, and markup typed into a field
    # comes back as text, never as markup.
    csrf = page_csrf(response.get_data(as_text=True))
    post_step(client, STEPS[2], {**answers, "email": "zoe@example.com"}, csrf)
    post_step(client, STEPS[3], answers, csrf)
    post_step(client, STEPS[4], answers, csrf)
    post_step(client, STEPS[5], {k: v for k, v in answers.items() if k != "consent"}, csrf)
    last = client.get(step_url(STEPS[5]))
    assert value_of(last, "message").strip() == 'Line one\nLine <two> & "three"'
    assert "<two>" not in last.get_data(as_text=True)
    diagnosis = parse(client.get(step_url(STEPS[3])))
    assert diagnosis.find("input", attrs={"name": "metastasis_sites", "value": "bones"}).has_attr(
        "checked"
    )


def test_a_phone_with_letters_is_kept_as_typed_with_its_message(client, db):
    answers = valid_answers(phone="813-555-CALL", physician_fax=None)
    response = _check_rejected(client, db, answers, "phone", "using digits")
    assert value_of(response, "phone") == "813-555-CALL"


def test_every_field_with_an_error_is_marked_invalid_for_assistive_technology(client, db):
    # Each step sent empty: its own problems, linked, and its fields marked.
    csrf = start(client)
    links = {}
    for step in STEPS:
        response = client.post(step_url(step), data={"csrf_token": csrf})
        assert response.status_code == 303
        page = client.get(step_url(step))
        csrf = page_csrf(page.get_data(as_text=True))
        soup = parse(page)
        summary = error_summary(page)
        assert summary, f"{step}: an empty page has problems"
        for target in summary:
            assert soup.find(id=target) is not None, f"summary links to missing #{target}"
        links.update(summary)
        # Answered, to go on to the next step.
        post_step(client, step, valid_answers(), csrf)
    assert len(links) >= 15
    # No e-mail is needed until e-mail is chosen as the way to contact the patient.
    assert "email" not in links
    for name in ["first_name", "phone", "zip_code", "state"]:
        assert name in links
    assert count_rows(db, "appointment_requests") == 0


def test_a_field_with_an_error_is_described_by_its_message(client, db):
    csrf = start(client)
    post_step(client, STEPS[0], valid_answers(), csrf)
    post_step(client, STEPS[1], {}, csrf)
    soup = parse(client.get(step_url(STEPS[1])))
    for name in ["first_name", "zip_code", "state"]:
        field = soup.find(id=name)
        assert field["aria-invalid"] == "true"
        assert f"{name}-error" in field["aria-describedby"]


@pytest.mark.parametrize(
    "name",
    [
        "José María",
        "Nguyễn Thị Minh",
        "O'Brien",
        "Mary-Kate",
        "St. John",
        "Łukasz",
        "張偉",
        "محمد",
        "Zoë D’Arcy",
    ],
)
def test_names_in_any_language_are_accepted(client, db, name):
    response = submit(client, valid_answers(first_name=name, last_name=name))
    assert response.status_code == 303, error_summary(response)


def test_an_overlong_date_part_is_explained(client, db):
    _check_rejected(client, db, valid_answers(dob_day="12345"), "dob_month", "must be a real date")
