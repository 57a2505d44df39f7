"""Re-sends of a form that is already stored.

The person's browser (or the person, after a lost answer) sends the same filled-in form
again. That stores nothing new, so it must not count against the form's rate limit, nor
be refused by it: a refusal would hide the reference of a request we already have.
"""

from __future__ import annotations

from flask import g, request

from app.db import DATABASE_UNAVAILABLE, discard_session, get_session
from app.public.forms import token_is_well_formed
from app.requests import appointment_requests


def stored_reference(token: str) -> str | None:
    """The reference of the request already stored with this form token, if any. Looked
    up once per request: the rate limit's exemption asks before the view, the send after
    it (issue 28: one statement less on every send)."""
    if not token_is_well_formed(token):
        return None
    known = g.get("stored_for_token")
    if known is None or known[0] != token:
        known = (token, appointment_requests.reference_for_token(get_session(), token=token))
        g.stored_for_token = known
    return known[1]


def is_resend_of_stored_request() -> bool:
    try:
        return stored_reference(request.form.get("form_token", "")) is not None
    except DATABASE_UNAVAILABLE:
        # The view meets the same outage and answers "not saved yet"; until then, an
        # ordinary attempt.
        discard_session()
        return False
