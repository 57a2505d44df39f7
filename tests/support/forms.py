"""Filling in the public request journey the way a browser does: open the first page,
keep the cookie, post each step with its CSRF token (none on the page that begins a
request: that post is checked by the browser's Origin), follow each redirect, then send
from "Check your answers" (its CSRF token and the draft's one-time form token)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from app.requests.fields import STEPS, step_form_fields

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')

# Where the journey starts (its first step for a new visitor).
FORM_URL = "/request-appointment"
CHECK_URL = "/request-appointment/check"
SEND_URL = CHECK_URL
NEW_URL = "/request-appointment/new"


def step_url(step) -> str:
    return f"/request-appointment/{getattr(step, 'value', step)}"


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def begins_request(html: str) -> bool:
    """The blank first page of a browser that holds no draft: no token on it."""
    return _CSRF.search(html) is None and 'name="submitter"' in html


def page_csrf(html: str) -> str:
    """The page's CSRF token, or "" on the page that begins a request."""
    return "" if begins_request(html) else csrf_token(html)


def form_tokens(html: str) -> dict[str, str]:
    """The CSRF token and the one-time form token of the answers page."""
    token = _FORM_TOKEN.search(html)
    assert token, "the page carries a one-time form token"
    return {"csrf_token": csrf_token(html), "form_token": token.group(1)}


def valid_answers(**overrides) -> dict:
    """A complete, valid self-referred request from the patient."""
    answers = {
        "submitter": "patient",
        "first_name": "Maria",
        "last_name": "Santos-Ortiz",
        "dob_month": "3",
        "dob_day": "27",
        "dob_year": "1965",
        "sex": "female",
        "email": "Maria.Santos@Example.com",
        "phone": "(813) 555-0123",
        "contact_method": "phone",
        "best_time_to_call": "morning",
        "state": "FL",
        "zip_code": "33612",
        "language": "english",
        "interpreter_needed": "no",
        "diagnosed_metastatic": "yes",
        "metastasis_sites": ["bones", "liver"],
        "in_treatment": "yes",
        "insurance_type": "commercial",
        "insurance_carrier": "Florida Blue",
        "has_referral": "no",
        "message": "",
        "consent": "y",
    }
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def referral_answers(**overrides) -> dict:
    referral = {
        "has_referral": "yes",
        "physician_name": "Dr. Alan O'Neil",
        "physician_phone": "727-555-0142",
        "physician_practice": "Bayside Oncology",
        "physician_fax": "727 555 0199",
        "physician_email": "oneil@bayside.example",
        "physician_npi": "1234567893",
    }
    return valid_answers(**{**referral, **overrides})


def caregiver_answers(**overrides) -> dict:
    caregiver = {
        "submitter": "someone_else",
        "submitter_name": "Ana Ruiz",
        "submitter_relationship": "daughter",
        "submitter_phone": "813 555 0177",
        "call_first": "patient",
    }
    return valid_answers(**{**caregiver, **overrides})


def start(client: FlaskClient, **kwargs) -> str:
    """Open the journey as a new request (starting a new one if this browser sent one)
    and return the first page's CSRF token ("" when it begins a request: it has none)."""
    response = client.get(FORM_URL, **kwargs)
    if response.status_code == 200 and "You sent this request" in response.get_data(as_text=True):
        client.post(NEW_URL, data={"csrf_token": csrf_token(response.get_data(as_text=True))})
        response = client.get(FORM_URL, **kwargs)
    if response.status_code in (302, 303):
        response = client.get(response.headers["Location"], **kwargs)
    assert response.status_code == 200, response.status_code
    return page_csrf(response.get_data(as_text=True))


def begin(client: FlaskClient, **kwargs) -> str:
    """Begin a request (the first page sent as it is) and return the CSRF token this
    browser holds from then on, good for any post of its session."""
    start(client, **kwargs)
    post_step(client, STEPS[0], {}, "", **kwargs)
    return csrf_token(client.get(step_url(STEPS[0]), **kwargs).get_data(as_text=True))


def step_data(step, answers: dict) -> dict:
    """The answers one step posts (only its own fields)."""
    return {name: answers[name] for name in step_form_fields(step) if name in answers}


def post_step(client: FlaskClient, step, answers: dict, csrf: str, **kwargs):
    """Post one step's answers. Without a token (``csrf`` "": the first page had none), the
    token of the step's own page, as a browser that opens the page and sends it."""
    if not csrf:
        page = client.get(step_url(step), **kwargs)
        if page.status_code == 200:
            csrf = page_csrf(page.get_data(as_text=True))
    return client.post(
        step_url(step), data={**step_data(step, answers), "csrf_token": csrf}, **kwargs
    )


def fill_in(client: FlaskClient, answers: dict | None = None, **kwargs):
    """Walk every step with the answers. Returns the last answer: the "Check your answers"
    page (200) when every step was accepted; otherwise the first step's page that was not
    (its problems shown), or a 429/503 as the server gave it."""
    answers = answers if answers is not None else valid_answers()
    csrf = start(client, **kwargs)
    for step in STEPS:
        response = post_step(client, step, answers, csrf, **kwargs)
        if response.status_code != 303:
            return response
        location = response.headers["Location"]
        page = client.get(location, **kwargs)
        if page.status_code != 200:
            return page
        csrf = csrf_token(page.get_data(as_text=True))
        expected_next = STEPS.index(step) + 1
        if location.split("?")[0].endswith("/check"):
            return page
        if expected_next < len(STEPS) and not location.split("?")[0].endswith(
            STEPS[expected_next].value
        ):
            return page  # the same step again: its problems are shown
    return page


def open_form(client: FlaskClient, answers: dict | None = None, **kwargs) -> dict[str, str]:
    """Fill in every step and return the tokens the answers page sends with."""
    page = fill_in(client, answers, **kwargs)
    assert page.status_code == 200 and "Check your answers" in page.get_data(as_text=True), (
        "every step accepted"
    )
    return form_tokens(page.get_data(as_text=True))


def send(client: FlaskClient, tokens: dict, website: str | None = None, **kwargs):
    data = dict(tokens)
    if website is not None:
        data["website"] = website
    return client.post(SEND_URL, data=data, **kwargs)


def submit(client: FlaskClient, answers: dict | None = None, tokens: dict | None = None, **kwargs):
    """Fill in the steps (unless tokens of an answers page are given: then send that page
    again) and send. Returns the send's answer, or the step's answer that stopped."""
    answers = answers if answers is not None else valid_answers()
    if tokens is None:
        page = fill_in(client, answers, **kwargs)
        if page.status_code != 200 or "Check your answers" not in page.get_data(as_text=True):
            return page
        tokens = form_tokens(page.get_data(as_text=True))
    return send(client, tokens, website=answers.get("website"), **kwargs)


# -- any HTTP client: the cluster tests, the smoke script ------------------------------------

# request(method, path, data or None) -> (status, headers with lower-case names, body text);
# redirects are not followed by it (one that follows them works too: it never sees a 303).
Requester = Callable[[str, str, "dict | None"], tuple[int, dict, str]]


def walk(request: Requester, answers: dict, *, send_it: bool = True) -> tuple[int, dict, str]:
    """Every step posted in order, as a browser would, then (unless ``send_it`` is false)
    the send from "Check your answers". Stops at the first page that shows problems or
    is not a 200, and returns it; otherwise returns the send's answer (or the answers
    page)."""
    reply = _follow(request, request("GET", FORM_URL, None))
    if reply[0] == 200 and "You sent this request" in reply[2]:
        # This browser sent one before: a new request, deliberately.
        new = request("POST", NEW_URL, {"csrf_token": csrf_token(reply[2])})
        reply = _follow(request, new)
    for step in STEPS:
        status, _, body = reply
        if status != 200:
            return reply
        data = {**step_data(step, answers), "csrf_token": page_csrf(body)}
        reply = _follow(request, request("POST", step_url(step), data))
        if "data-error-summary" in reply[2]:
            return reply
    if not send_it or reply[0] != 200:
        return reply
    return request("POST", SEND_URL, form_tokens(reply[2]))


def _follow(request: Requester, reply: tuple[int, dict, str]) -> tuple[int, dict, str]:
    while reply[0] in (301, 302, 303):
        parts = urlsplit(reply[1]["location"])
        reply = request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), None)
    return reply
