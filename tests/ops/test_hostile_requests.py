"""Requests no browser sends get a 4xx and the site's error page, never a 5xx; answers to
questions that do not apply are dropped, never stored as posted."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app.models import AppointmentRequest
from app.requests.fields import Step
from tests.conftest import count_rows
from tests.support.forms import (
    begin,
    open_form,
    post_step,
    send,
    step_data,
    step_url,
    submit,
    valid_answers,
)
from tests.support.html import error_summary
from tests.support.staff import csrf_from, make_request, signed_in_client


def stored(db) -> AppointmentRequest:
    db.rollback()
    return db.scalars(select(AppointmentRequest)).one()


@pytest.mark.parametrize("insurance", ["medicare", "none"])
@pytest.mark.parametrize("carrier", ["\x00", "x" * 500, "Blue\u202eCross", "\x07bell"])
def test_an_insurance_company_where_there_is_none_is_dropped(client, db, insurance, carrier):
    answers = valid_answers(insurance_type=insurance, insurance_carrier=carrier)
    assert submit(client, answers).status_code == 303
    assert stored(db).insurance_carrier is None


@pytest.mark.parametrize("carrier", ["\x00", "x" * 500, "Blue\u202eCross", "\x07bell"])
def test_a_medicaid_plans_company_is_checked_like_any_text(client, db, carrier):
    # Asked (optional) for Medicaid: a managed-care plan has a company.
    answers = valid_answers(insurance_type="medicaid", insurance_carrier=carrier)
    page = submit(client, answers)  # the insurance step, with its problem
    assert page.status_code == 200
    assert "insurance_carrier" in error_summary(page)
    assert count_rows(db, "appointment_requests") == 0


@pytest.mark.parametrize("diagnosed", ["not_sure", "no"])
def test_places_for_a_diagnosis_not_confirmed_are_dropped(client, db, diagnosed):
    sites = ["<b>x</b>", "\x00", "y" * 50_000, "bones"]
    answers = valid_answers(diagnosed_metastatic=diagnosed, metastasis_sites=sites)
    assert submit(client, answers).status_code == 303
    assert stored(db).metastasis_sites == []


def test_places_are_stored_once_each(client, db):
    answers = valid_answers(metastasis_sites=["bones"] * 1000 + ["liver", "bones"])
    assert submit(client, answers).status_code == 303
    assert stored(db).metastasis_sites == ["bones", "liver"]


def test_a_file_in_a_text_field_reads_as_nothing_typed(client, db):
    csrf = begin(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    data = {**step_data(Step.PATIENT, valid_answers()), "csrf_token": csrf}
    data["first_name"] = (io.BytesIO(b"Maria"), "name.txt")
    data["last_name"] = (io.BytesIO(b"\x00" * 100), "name.bin")
    response = client.post(step_url(Step.PATIENT), data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    page = client.get(step_url(Step.PATIENT)).get_data(as_text=True)
    assert "Enter your first name" in page and "Enter your last name" in page
    assert count_rows(db, "appointment_requests") == 0


def test_a_json_body_is_not_a_form(client, db):
    body = {**valid_answers(), "csrf_token": begin(client), "first_name": ["a", {"b": 1}]}
    response = client.post(
        step_url(Step.WHO), data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert count_rows(db, "appointment_requests") == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data", "multipart/form-data; boundary=x"],
)
def test_a_wrong_or_broken_content_type_gets_a_4xx(client, content_type):
    # From a browser that holds a draft: the token cannot be read from such a body. (A
    # first page sent that way: test_beginning_a_request.py.)
    begin(client)
    response = client.post(step_url(Step.WHO), data=b"--x\r\nbroken", content_type=content_type)
    assert 400 <= response.status_code < 500
    assert "<title>" in response.get_data(as_text=True)


def test_duplicate_keys_use_the_first_value(client, db):
    tokens = open_form(client)
    csrf = tokens["csrf_token"]
    pairs = [*step_data(Step.PATIENT, valid_answers()).items(), ("first_name", "Second")]
    body = urlencode([*pairs, ("csrf_token", csrf)])
    response = client.post(
        step_url(Step.PATIENT), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 303
    assert send(client, tokens).status_code == 303
    assert stored(db).first_name == "Maria"


@pytest.mark.parametrize(
    "url",
    [
        "/staff/queue?after=9223372036854775808",
        "/staff/queue?after=99999999999999999999999",
        "/staff/queue?after=-1",
        "/staff/queue?after=%00",
        "/staff/audit?before=9223372036854775808",
        "/staff/audit?before=18446744073709551616",
        "/staff/requests/%00",
        "/staff/requests/%00/claim",
        "/staff/queue?status=%00",
        "/staff/requests/ABCD%0AEFGH",
    ],
)
def test_hostile_staff_urls_get_a_4xx_or_the_page(app, db, url):
    staff_client, _ = signed_in_client(app, db, role="admin")
    make_request(db)
    response = staff_client.get(url)
    assert response.status_code in (200, 400, 404, 405), response.status_code


def test_a_file_in_a_staff_note_is_refused_with_a_message(app, db):
    staff_client, _ = signed_in_client(app, db)
    row = make_request(db)
    page = staff_client.get(f"/staff/requests/{row.reference}").get_data(as_text=True)
    response = staff_client.post(
        f"/staff/requests/{row.reference}/notes",
        data={"csrf_token": csrf_from(page), "note": (io.BytesIO(b"note"), "note.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert count_rows(db, "request_events") == 0


def test_a_file_as_the_sign_in_password_is_refused(app, db):
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    response = client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_from(page),
            "email": (io.BytesIO(b"casey@example.org"), "e.txt"),
            "password": (io.BytesIO(b"x"), "p.txt"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 400)
