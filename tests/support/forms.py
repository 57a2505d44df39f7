"""Filling in the public request form the way a browser does: fetch it, keep the cookie,
send back its CSRF token and one-time form token."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')

FORM_URL = "/request-appointment"


def form_tokens(html: str) -> dict[str, str]:
    csrf = _CSRF.search(html)
    token = _FORM_TOKEN.search(html)
    assert csrf and token, "the form carries a CSRF token and a one-time form token"
    return {"csrf_token": csrf.group(1), "form_token": token.group(1)}


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


def open_form(client: FlaskClient) -> dict[str, str]:
    response = client.get(FORM_URL)
    assert response.status_code == 200
    return form_tokens(response.get_data(as_text=True))


def submit(client: FlaskClient, answers: dict | None = None, tokens: dict | None = None):
    """Open the form (unless tokens are given) and post the answers."""
    tokens = tokens or open_form(client)
    data = {**(answers if answers is not None else valid_answers()), **tokens}
    return client.post(FORM_URL, data=data)
