"""Sending the same filled-in form again: the same reference, even past the rate limit;
changed answers are kept aside for intake and the person is told how to correct them."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app.models import AppointmentRequest, RequestEvent
from tests.conftest import count_rows
from tests.support.forms import FORM_URL, open_form, valid_answers
from tests.support.html import visible_text
from tests.support.staff import signed_in_client


@pytest.fixture
def app_overrides():
    return {"FORM_RATE_LIMIT": "2 per hour", "TRUSTED_PROXY_COUNT": 1}


ADDRESS = {"X-Forwarded-For": "203.0.113.40"}


def post(client, answers, tokens):
    return client.post(FORM_URL, data={**answers, **tokens}, headers=ADDRESS)


def test_a_resend_of_a_stored_form_shows_its_confirmation_when_the_limit_is_spent(client, db):
    tokens = open_form(client)
    first = post(client, valid_answers(), tokens)
    assert first.status_code == 303
    # Another form fills the limit (2 per hour)...
    assert post(client, valid_answers(first_name="Ana"), open_form(client)).status_code == 303
    assert post(client, valid_answers(first_name="Bea"), open_form(client)).status_code == 429
    # ...and yet the first form, sent again, still gets its own confirmation, many times.
    for _ in range(3):
        again = post(client, valid_answers(), tokens)
        assert again.status_code == 303
        assert again.headers["Location"] == first.headers["Location"]
    assert "Request received" in visible_text(client.get(first.headers["Location"]))
    assert count_rows(db, "appointment_requests") == 2
    # A new form from the same address is still refused: re-sends did not reset anything.
    assert post(client, valid_answers(first_name="Cy"), open_form(client)).status_code == 429


def test_a_resend_with_changed_answers_keeps_the_first_and_says_how_to_correct(
    app, client, db, caplog
):
    tokens = open_form(client)
    first = post(client, valid_answers(phone="813 555 0123", message="Mornings"), tokens)
    assert first.status_code == 303
    changed = valid_answers(
        phone="813 555 0199 ext. 7", message="Afternoons", insurance_type="medicare"
    )
    with caplog.at_level(logging.DEBUG):
        again = post(client, changed, tokens)
        post(client, changed, tokens)  # a double click of the changed form
    assert again.status_code == 200
    words = visible_text(again)
    row = db.scalars(select(AppointmentRequest)).one()
    reference = row.reference
    shown = f"{reference[:4]}-{reference[4:8]}-{reference[8:]}"
    assert f"first version of this form under reference number {shown}" in words
    assert "To correct your request" in words and "1-888-663-3488" in words
    # The first answers stand.
    assert row.phone == "+18135550123" and row.message == "Mornings"
    assert count_rows(db, "appointment_requests") == 1
    # Intake sees what changed, once, on the request's history...
    events = db.scalars(select(RequestEvent).where(RequestEvent.request_id == row.id)).all()
    assert [e.kind for e in events] == ["resent_changed"]
    assert events[0].staff_id is None
    assert "Phone number: +18135550123 → +18135550199" in events[0].note
    assert "Message: Mornings → Afternoons" in events[0].note
    assert "Insurance company: Florida Blue → (blank)" in events[0].note
    assert "Phone number: extension: (blank) → 7" in events[0].note
    # Labels, never the stored codes (app/request_fields.py words them once).
    assert "Insurance: Commercial or employer insurance → Medicare" in events[0].note
    assert "commercial →" not in events[0].note
    staff_client, _ = signed_in_client(app, db)
    page = visible_text(staff_client.get(f"/staff/requests/{reference}"))
    assert "The person who sent the request" in page
    assert "Sent the form again with different answers" in page
    assert "+18135550199" in page
    # ...and never in a log.
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "5550199" not in logged and "Afternoons" not in logged


def test_an_unchanged_resend_adds_nothing_to_the_history(client, db):
    tokens = open_form(client)
    assert post(client, valid_answers(), tokens).status_code == 303
    assert post(client, valid_answers(), tokens).status_code == 303
    assert count_rows(db, "request_events") == 0
