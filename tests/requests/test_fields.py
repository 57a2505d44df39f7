"""The patient's field list agrees with the form, the stored shape and the tables."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import fields
from datetime import UTC, datetime

from app.fhir.bundle import FhirSettings, request_bundle
from app.models import AppointmentRequest, Referral
from app.public.forms import AppointmentRequestForm
from app.requests import csv_export, request_work
from app.requests.appointment_requests import NewRequest, ReferralDetails
from app.requests.fields import (
    FIELDS,
    FORM_ORDER,
    identifying_columns,
    referral_columns,
    stored_columns,
)
from app.requests.intake_queue import QueueFilters, StatusFilter
from tests.support.staff import NEWER_ANSWERS, a_referral, make_request

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


def test_every_question_reaches_the_csv_export_and_the_fhir_answers(app, db):
    # A caregiver's request with a referral and every optional answer given: each question
    # of the list must come out of both, never be dropped on the way.
    row = make_request(
        db,
        **{**NEWER_ANSWERS, "language": "other", "language_other": "Tagalog"},
        message="Mornings, please",
        referral=dataclasses.replace(
            a_referral(), physician_phone_ext="9", fax="+17275550199", email="dr@example.org"
        ),
    )
    exported = csv_export.export_rows(
        db, filters=QueueFilters(status=StatusFilter.ALL), viewer_id=0, now=datetime.now(UTC)
    )
    (line,) = csv.DictReader(io.StringIO("".join(csv_export.queue_csv(exported))))
    for field in FIELDS:
        assert line.get(field.name), f"{field.name} is not in the CSV export"
        if field.extension_column:
            assert line.get(field.extension_column), f"{field.extension_column} is not in it"
    bundle = request_bundle(
        request_work.find_request(db, reference=row.reference),
        settings=FhirSettings(system_base="https://intake.example.org/fhir"),
    )
    (answers,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    ]
    answered = {item["linkId"] for item in answers["item"]}
    missing = [f.name for f in FIELDS if f.name not in answered]
    assert missing == [], "missing from the FHIR QuestionnaireResponse"
