"""Re-sends of a form that is already stored.

The person's browser (or the person, after a lost answer) sends the same filled-in form
again. That stores nothing new, so it must not count against the form's rate limit, nor
be refused by it: a refusal would hide the reference of a request we already have.
"""

from __future__ import annotations

from flask import request

from app.db import DATABASE_UNAVAILABLE, discard_session, get_session
from app.public.forms import token_is_well_formed
from app.requests import appointment_requests


def is_resend_of_stored_request() -> bool:
    token = request.form.get("form_token", "")
    if not token_is_well_formed(token):
        return False
    try:
        return appointment_requests.is_stored(get_session(), token=token)
    except DATABASE_UNAVAILABLE:
        # The view meets the same outage and answers "not saved yet"; until then, an
        # ordinary attempt.
        discard_session()
        return False
