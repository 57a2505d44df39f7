"""Storing a request in one INSERT that skips itself on a conflict: a reference that is
already taken is drawn again (the same token twice is covered in test_appointment_requests)."""

from __future__ import annotations

from app.public.forms import AppointmentRequestForm
from app.public.submission import to_new_request
from app.requests import appointment_requests, reference_codes
from tests.conftest import count_rows
from tests.support.forms import referral_answers


def _details(app):
    with app.test_request_context("/request-appointment", method="POST", data=referral_answers()):
        form = AppointmentRequestForm(meta={"csrf": False})
        assert form.validate(), form.errors
        return to_new_request(form, form_language="en")


def test_a_reference_already_taken_is_drawn_again(app, db, monkeypatch):
    details = _details(app)
    taken = appointment_requests.submit_request(db, details=details, token="a" * 32).reference
    draws = iter([taken, "NEWREFERENCE"])
    monkeypatch.setattr(reference_codes, "new_reference", lambda: next(draws))
    again = appointment_requests.submit_request(db, details=details, token="b" * 32)
    db.commit()
    assert again.created and again.reference == "NEWREFERENCE"
    assert count_rows(db, "appointment_requests") == 2
