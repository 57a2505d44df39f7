"""Sending the same request again (Back and Send, a reload, a second tab, a retry after a
lost answer): the same reference, even past the rate limit. Changed answers for a stored
token (only a race between two tabs could make one) are kept aside for intake."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app.models import AppointmentRequest, RequestEvent
from app.public import journey
from app.public.submission import to_new_request
from app.requests import appointment_requests
from tests.conftest import count_rows
from tests.support.forms import open_form, send, submit, valid_answers
from tests.support.html import visible_text
from tests.support.staff import signed_in_client


@pytest.fixture
def app_overrides():
    return {"FORM_RATE_LIMIT": "2 per hour", "TRUSTED_PROXY_COUNT": 1}


ADDRESS = {"X-Forwarded-For": "203.0.113.40"}


def post(client, answers, tokens):
    return send(client, tokens, headers=ADDRESS)


def fill(client, answers):
    return open_form(client, answers, headers=ADDRESS)


def test_a_resend_of_a_stored_form_shows_its_confirmation_when_the_limit_is_spent(client, db):
    tokens = fill(client, valid_answers())
    first = post(client, valid_answers(), tokens)
    assert first.status_code == 303
    # Another request fills the limit (2 per hour)...
    assert post(client, None, fill(client, valid_answers(first_name="Ana"))).status_code == 303
    assert submit(client, valid_answers(first_name="Bea"), headers=ADDRESS).status_code == 429
    # ...and yet the first request, sent again, still gets its own confirmation, many times.
    for _ in range(3):
        again = post(client, valid_answers(), tokens)
        assert again.status_code == 303
        assert again.headers["Location"] == first.headers["Location"]
    assert "Request received" in visible_text(client.get(first.headers["Location"]))
    assert count_rows(db, "appointment_requests") == 2
    # A new request from the same address is still refused: re-sends reset nothing.
    assert submit(client, valid_answers(first_name="Cy"), headers=ADDRESS).status_code == 429


def test_a_resend_with_changed_answers_keeps_the_first_and_says_how_to_correct(
    app, client, db, caplog
):
    tokens = fill(client, valid_answers(phone="813 555 0123", message="Mornings"))
    first = post(client, None, tokens)
    assert first.status_code == 303
    changed = valid_answers(
        phone="813 555 0199 ext. 7", message="Afternoons", insurance_type="medicare"
    )
    with caplog.at_level(logging.DEBUG), app.test_request_context():
        # Two tabs racing: the second sends other answers with the same token.
        details = to_new_request(journey.check(changed)[0], form_language="en")
        for _ in range(2):  # a double click of the changed form
            again = appointment_requests.submit_request(
                db, details=details, token=tokens["form_token"]
            )
            db.commit()
    assert again.changed and not again.created
    row = db.scalars(select(AppointmentRequest)).one()
    reference = row.reference
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
    # Labels, never the stored codes (app/requests/fields.py words them once).
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
    tokens = fill(client, valid_answers())
    assert post(client, valid_answers(), tokens).status_code == 303
    assert post(client, valid_answers(), tokens).status_code == 303
    assert count_rows(db, "request_events") == 0
