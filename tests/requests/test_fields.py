"""The patient's field list agrees with the form, the stored shape and the tables."""

from __future__ import annotations

from dataclasses import fields

from app.models import AppointmentRequest, Referral
from app.public.forms import AppointmentRequestForm
from app.requests.appointment_requests import NewRequest, ReferralDetails
from app.requests.fields import (
    FIELDS,
    FORM_ORDER,
    identifying_columns,
    referral_columns,
    stored_columns,
)

# Not questions: the tokens, and the day and year boxes that share the month's messages.
NOT_IN_THE_LIST = {"csrf_token", "form_token", "dob_day", "dob_year"}


def test_the_list_has_every_question_of_the_form_in_its_order(app):
    with app.test_request_context():
        asked = [f.name for f in AppointmentRequestForm() if f.name not in NOT_IN_THE_LIST]
    assert asked == list(FORM_ORDER)


def test_the_list_stores_exactly_what_the_service_takes():
    # The page's language is not an answer: the view says which page the form was on.
    request_columns = {f.name for f in fields(NewRequest)} - {"referral", "form_language"}
    assert set(stored_columns()) == request_columns
    assert set(referral_columns()) == {f.name for f in fields(ReferralDetails)}


def test_every_stored_answer_has_a_column():
    for field in FIELDS:
        table = Referral.__table__ if field.on_referral else AppointmentRequest.__table__
        for column in (field.column, field.extension_column):
            if column is not None:
                assert column in table.c, field.name


def test_the_purge_removes_who_the_patient_is_and_keeps_the_coded_answers():
    removed = set(identifying_columns())
    assert {"first_name", "last_name", "date_of_birth", "email", "phone", "message"} <= removed
    # The newer answers that say who someone is, and where to reach them.
    assert {"submitter_email", "submitter_phone_ext", "phone_ext"} <= removed
    assert not removed & {"state", "insurance_type", "contact_method", "language"}
    assert not removed & {"call_first", "form_language"}
