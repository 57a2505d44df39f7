"""Fuzzing every field of the request form: any Unicode, control characters, very long
values, markup and SQL. Never a 5xx; never a stored row that breaks the rules; what was
typed comes back escaped.

2,000 examples by default (the CI profile); HYPOTHESIS_PROFILE=dev runs 200.
"""

from __future__ import annotations

import os
import re
from datetime import date

import pytest
from email_validator import validate_email
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import vocabulary
from app.common.validation import PersonName, has_control_characters, npi_is_valid
from app.models import AppointmentRequest, Referral
from app.public.forms import MAX_AGE_YEARS
from tests.conftest import make_test_app
from tests.support.databases import migrate_to_head, postgres_url, prepare_postgres
from tests.support.forms import fill_in, form_tokens, send, valid_answers

pytestmark = pytest.mark.slow

# 1,000 examples on PostgreSQL and 500 on SQLite: past a few hundred the new examples are
# variations of ones already tried (each a whole journey, about 0.13 s on PostgreSQL), and
# the suite must stay under 30 minutes (README).
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=200)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

TEXT_FIELDS = [
    "submitter_name", "submitter_relationship", "submitter_phone", "first_name", "last_name",
    "dob_month", "dob_day", "dob_year", "email", "phone", "zip_code", "language_other",
    "insurance_carrier", "physician_name", "physician_phone", "physician_practice",
    "physician_fax", "physician_email", "physician_npi", "message",
]  # fmt: skip
CHOICE_FIELDS = [
    "submitter", "sex", "contact_method", "best_time_to_call", "state", "language",
    "interpreter_needed", "diagnosed_metastatic", "metastasis_sites", "in_treatment",
    "insurance_type", "has_referral", "consent",
]  # fmt: skip
NASTY = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'; DROP TABLE x; --",
    "' OR '1'='1", "{{ 7*7 }}", "{% raw %}", "&amp;&lt;", "\u202eevil", "\x00", "\r\n",
    "Robert'); --", "O'Brien", "José Ñúñez", "李小龙", "🙂", " ", "0", "-1", "99999",
    "12/31/1999", "+1 (813) 555-0123", "a@b", "name@example.com", "1234567893",
]  # fmt: skip

fuzz_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Mn"]), max_size=10),
    st.text(min_size=90, max_size=2100),
    st.sampled_from(NASTY),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=10), st.sampled_from(NASTY),
              st.text(max_size=10)),
)  # fmt: skip
choice_value = st.one_of(
    st.sampled_from(["yes", "no", "not_sure", "someone_else", "other", "FL", "y", ""]),
    fuzz_text,
    st.lists(st.sampled_from(["lungs", "bones", "not_sure", "x"]), max_size=3),
)
# Near-valid answers too, so that many examples get stored and their rows checked.
padding = st.sampled_from(["", " ", "  ", "\t", "\u00a0"])
name_text = st.text(st.characters(categories=["L", "M"]) | st.sampled_from(" -'.’"),
                    min_size=1, max_size=110)  # fmt: skip
printable = st.text(st.characters(exclude_categories=["Cc", "Cs", "Co", "Cn"]), max_size=2100)
phone_text = st.sampled_from(["813 555 0123", "+44 20 7946 0958", "(727) 555-0199", "5550123",
                              "+1 813 555 0123 ext 5", "1-800-FLOWERS"])  # fmt: skip


def padded(strategy):
    return st.builds(lambda p, v, q: p + v + q, padding, strategy, padding)


plausible = st.fixed_dictionaries(
    {},
    optional={
        "first_name": padded(name_text),
        "last_name": padded(name_text),
        "submitter_name": padded(name_text),
        "physician_name": padded(name_text),
        "email": padded(st.emails()),
        "physician_email": padded(st.emails()),
        "phone": padded(phone_text),
        "physician_fax": padded(phone_text),
        "zip_code": padded(st.from_regex(r"\A\d{5}(-?\d{4})?\Z")),
        "dob_year": st.integers(1890, 2030).map(str),
        "dob_day": st.integers(0, 32).map(str),
        "message": printable,
        "insurance_carrier": padded(printable.map(lambda t: t[:100])),
        "language_other": padded(printable.map(lambda t: t[:100])),
        "physician_practice": padded(printable.map(lambda t: t[:100])),
        "physician_npi": st.sampled_from(["", "1234567893", "1234567890", "123456789"]),
    },
)
hostile = st.dictionaries(
    st.sampled_from(TEXT_FIELDS + CHOICE_FIELDS),
    fuzz_text,
    min_size=1,
    max_size=5,
).flatmap(
    lambda texts: st.dictionaries(st.sampled_from(CHOICE_FIELDS), choice_value, max_size=2).map(
        lambda picks: {**texts, **picks}
    )
)
changes = st.one_of(hostile, plausible)

# Every branch of the form switched on, so every field is validated.
BASE = valid_answers(
    submitter="someone_else",
    submitter_name="Ana Lima",
    submitter_relationship="daughter",
    submitter_phone="727 555 0166 ext. 12",
    submitter_email="ana.lima@example.com",
    call_first="caregiver",
    language="other",
    language_other="Portuguese",
    has_referral="yes",
    physician_name="Dr. Alan O'Neil",
    physician_phone="727-555-0142",
    physician_practice="Bayside Oncology",
    physician_fax="727 555 0199",
    physician_email="oneil@bayside.example",
    physician_npi="1234567893",
    message="Mornings are best.",
)

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_name_rule = PersonName("bad")


def follows_name_rules(value: str | None, max_length: int = 100) -> bool:
    if not value or len(value) > max_length or value != value.strip():
        return False

    class Field:
        data = value

    try:
        _name_rule(None, Field)
    except Exception:
        return False
    return not has_control_characters(value)


def clean_text(value: str | None, max_length: int, *, multiline: bool = False) -> bool:
    return (
        value is None
        or (0 < len(value) <= max_length and value == value.strip())
        and not has_control_characters(value, multiline=multiline)
    )


def assert_follows_the_rules(row: AppointmentRequest, referral: Referral | None) -> None:
    codes = lambda pairs: {v for v, _ in pairs}  # noqa: E731
    assert follows_name_rules(row.first_name) and follows_name_rules(row.last_name)
    today = date.today()
    assert row.date_of_birth and row.date_of_birth < today
    assert today.year - row.date_of_birth.year <= MAX_AGE_YEARS + 1
    # The patient's e-mail is needed only where e-mail reaches whoever is called first.
    for address in (row.email, row.submitter_email):
        if address is not None:
            assert validate_email(address, check_deliverability=False).normalized == address
    by_email = row.contact_method in vocabulary.BY_EMAIL
    if by_email and row.call_first != vocabulary.CallFirst.CAREGIVER:
        assert row.email
    if by_email and row.call_first == vocabulary.CallFirst.CAREGIVER:
        assert row.submitter_email
    # Extensions are digits, kept only with their number.
    for number, extension in (
        (row.phone, row.phone_ext),
        (row.submitter_phone, row.submitter_phone_ext),
    ):
        assert extension is None or (number and extension.isdigit() and len(extension) <= 10)
    assert E164.match(row.phone) and ZIP.match(row.zip_code)
    assert row.state in codes(vocabulary.UsState.choices())
    assert row.contact_method in codes(vocabulary.ContactMethod.choices())
    assert row.best_time_to_call in codes(vocabulary.BestTime.choices())
    assert row.language in codes(vocabulary.Language.choices())
    assert row.insurance_type in codes(vocabulary.Insurance.choices())
    assert row.diagnosed_metastatic in codes(vocabulary.YesNoNotSure.choices())
    assert set(row.metastasis_sites) <= codes(vocabulary.MetastasisSite.choices())
    # Each place once, and only when the question applies; answers to questions that do
    # not apply (app/requests/fields.py, kept_when) are dropped, never stored as posted.
    assert len(row.metastasis_sites) == len(set(row.metastasis_sites))
    if row.diagnosed_metastatic not in (
        vocabulary.YesNoNotSure.YES,
        vocabulary.YesNoNotSure.NOT_SURE,
    ):
        assert row.metastasis_sites == []
    if row.insurance_type not in (
        vocabulary.Insurance.COMMERCIAL,
        vocabulary.Insurance.MEDICARE_ADVANTAGE,
        vocabulary.Insurance.MEDICAID,
        vocabulary.Insurance.OTHER,
    ):
        assert row.insurance_carrier is None
    if row.language != vocabulary.Language.OTHER:
        assert row.language_other is None
    if row.submitted_by_patient:
        assert row.submitter_name is None and row.submitter_phone is None
        assert row.submitter_email is None and row.call_first is None
    assert row.sex is None or row.sex in codes(vocabulary.Sex.choices())
    assert row.consent_to_contact is True
    assert clean_text(row.message, 2000, multiline=True)
    assert clean_text(row.insurance_carrier, 100) and clean_text(row.language_other, 100)
    assert clean_text(row.submitter_relationship, 100)
    if not row.submitted_by_patient:
        assert follows_name_rules(row.submitter_name) and E164.match(row.submitter_phone)
    if row.language == "other":
        assert row.language_other
    assert row.has_referral == (referral is not None)
    if referral is not None:
        assert follows_name_rules(referral.physician_name)
        assert E164.match(referral.physician_phone)
        ext = referral.physician_phone_ext
        assert ext is None or (ext.isdigit() and len(ext) <= 10)
        assert referral.fax is None or E164.match(referral.fax)
        assert referral.npi is None or npi_is_valid(referral.npi)
        assert clean_text(referral.practice, 100)
        if referral.email is not None:
            assert validate_email(referral.email, check_deliverability=False)


def make_fuzz_app(url: str):
    migrate_to_head(url)
    app = make_test_app(url, RATELIMIT_ENABLED=False)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # One browser for every example: each walks the journey's steps with its answers, and
    # starts a new request after one was sent.
    app.fuzz_client = app.test_client()
    return app


@pytest.fixture(scope="module")
def postgres_app():
    url = postgres_url()
    prepare_postgres(url)
    app = make_fuzz_app(url)
    yield app
    app.extensions["db_engine"].dispose()
    # Leave the shared test database as the other tests expect it: migrated and empty.
    prepare_postgres(url)
    migrate_to_head(url)


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    app = make_fuzz_app(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.sqlite3'}")
    yield app
    app.extensions["db_engine"].dispose()


# PostgreSQL is the stricter store (NUL characters, column lengths): it gets the full run.
@settings(settings.get_profile(PROFILE))
@given(change=changes)
def test_any_input_is_answered_safely_on_postgresql(postgres_app, change):
    check_answer(postgres_app, change)


@settings(
    settings.get_profile(PROFILE), max_examples=settings.get_profile(PROFILE).max_examples // 2
)
@given(change=changes)
def test_any_input_is_answered_safely_on_sqlite(sqlite_app, change):
    check_answer(sqlite_app, change)


def check_answer(app, change: dict) -> None:
    client = app.fuzz_client
    answers = {**BASE, **change}
    response = fill_in(client, answers)
    assert response.status_code == 200, response.status_code
    if "data-send-form" in response.get_data(as_text=True):
        # Every step accepted: "Check your answers", then the send.
        tokens = form_tokens(response.get_data(as_text=True))
        sent = send(client, tokens)
        assert sent.status_code == 303, sent.status_code
        event("answered 303")
        with Session(app.extensions["db_engine"]) as session:
            row = session.scalars(
                select(AppointmentRequest).where(
                    AppointmentRequest.submission_token == tokens["form_token"]
                )
            ).one()
            referral = session.scalars(
                select(Referral).where(Referral.request_id == row.id)
            ).one_or_none()
            assert_follows_the_rules(row, referral)
        return
    event("answered 200")

    body = response.get_data(as_text=True)
    assert "There is a problem" in body, "a refused form says why"
    for name, value in change.items():
        on_this_page = f'name="{name}"' in body
        if on_this_page and name in TEXT_FIELDS and isinstance(value, str) and value.strip():
            assert str(escape(value.strip())) in body, f"{name} comes back escaped"
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x onerror" not in body
