"""Staff test data: accounts, signing a test client in, and requests made directly
through the service (much faster than the public form)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import second_factor, staff_accounts
from app.models import AppointmentRequest, AuditEvent, StaffRole, StaffSecondFactor, StaffUser
from app.public.journey import store_request
from app.requests.appointment_requests import NewRequest, ReferralDetails

PASSWORD = "correct horse battery"  # noqa: S105
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def make_staff(
    app: Flask,
    db: Session,
    *,
    email: str = "casey@example.org",
    name: str = "Casey Intake",
    role: StaffRole = StaffRole.INTAKE,
    password: str = PASSWORD,
    enrol: bool = True,
) -> StaffUser:
    """An account, with its authenticator app already set up (``enrol=False`` leaves it
    to be set up through a one-time link: ``set_up_link``)."""
    staff = staff_accounts.create_staff(
        db,
        email=email,
        name=name,
        role=role,
        password=password,
        cost=staff_accounts.HashCost(
            time_cost=app.config["ARGON2_TIME_COST"], memory_kib=app.config["ARGON2_MEMORY_KIB"]
        ),
    )
    if enrol:
        enrol_second_factor(db, staff)
    db.commit()
    return staff


def enrol_second_factor(db: Session, staff: StaffUser) -> None:
    """Set up the account's authenticator app, as its owner would through a set-up link."""
    secret = second_factor.new_secret()
    second_factor.confirm_enrolment(
        db,
        staff_id=staff.id,
        secret=secret,
        code=pyotp.TOTP(secret).now(),
        now=datetime.now(UTC),
    )
    # The code used to enrol would be refused as a replay at the first sign-in.
    db.get(StaffSecondFactor, staff.id).last_used_step = None
    db.flush()


# Entries every page view or refusal writes (audit coverage), beside the ones about the
# account itself.
PAGE_ENTRIES = frozenset(
    {
        "queue_view",
        "queue_search",
        "view_request",
        "sign_in_required",
        "my_work_view",
        "metrics_view",
        "metrics_export",
    }
)


def last_account_event(db: Session) -> AuditEvent:
    """The newest audit entry that is not a page view or a sign-in redirect."""
    db.rollback()
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()))
    return next(e for e in events if e.action not in PAGE_ENTRIES)


def totp_code(app: Flask, email: str) -> str:
    """The code the account's authenticator app shows now, as a person would type it.

    A code is accepted once only (the rule tests/auth/test_second_factor.py proves), and
    the suite signs the same account in several times within one 30-second step; so the
    helper first forgets the last step used, as if the test had waited for the next code.
    """
    engine = app.extensions["db_engine"]
    with Session(engine) as db:
        staff = db.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        factor = db.get(StaffSecondFactor, staff.id)
        assert factor is not None, f"{email} has an authenticator app"
        factor.last_used_step = None
        db.commit()
        return pyotp.TOTP(factor.totp_secret).now()


def pass_second_factor(client: FlaskClient, response, email: str = "casey@example.org"):
    """After a right password: type the code, as the person would; returns the answer
    to that (or the password's answer when no code was asked for)."""
    location = response.headers.get("Location", "") if response.status_code == 303 else ""
    if not location.endswith("/staff/sign-in/code"):
        return response
    page = client.get(location)
    return client.post(
        location,
        data={
            "code": totp_code(client.application, email),
            "csrf_token": _token(page.get_data(True)),
        },
    )


def link_path(link: str) -> str:
    """A set-up link as a test client opens it: its path and query string."""
    parts = urlsplit(link.strip())
    return f"{parts.path}?{parts.query}"


def link_in(output: str) -> str:
    """The set-up link a `flask staff ...` command printed (its own line)."""
    lines = [line for line in output.splitlines() if line.startswith("http")]
    assert lines, f"the command printed a set-up link:\n{output}"
    return lines[-1]


def use_link(client: FlaskClient, link: str, *, password: str = PASSWORD, new: bool = False):
    """Open a one-time link and type what it asks: the account's password, or (``new``)
    a new password twice. Returns the answer to the post."""
    page = client.get(link_path(link))
    if page.status_code != 200:
        return page
    fields = (
        {"new_password": password, "confirm_password": password} if new else {"password": password}
    )
    return client.post(link_path(link), data={**fields, "csrf_token": _token(page.get_data(True))})


def finish_set_up(client: FlaskClient) -> tuple[str, list[str]]:
    """On the set-up page a link led to: read the key shown, type the app's first code.
    Returns the secret and the recovery codes shown once."""
    page = client.get("/staff/sign-in/set-up")
    assert page.status_code == 200, "a set-up is in progress in this browser"
    html = page.get_data(as_text=True)
    secret = BeautifulSoup(html, "html.parser").select_one("#totp-secret").get_text()
    secret = secret.replace(" ", "")
    done = client.post(
        "/staff/sign-in/set-up",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(html)},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = BeautifulSoup(done.get_data(as_text=True), "html.parser").select("ul.recovery-codes li")
    return secret, [li.get_text() for li in codes]


def client_from(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from ``address`` (its TCP peer address)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def _token(html: str) -> str:
    # Empty when a test has turned CSRF off.
    match = _CSRF.search(html)
    return match.group(1) if match else ""


def sign_in(client: FlaskClient, email: str = "casey@example.org", password: str = PASSWORD):
    """Password, then (when asked for) the code from the account's authenticator app."""
    page = client.get("/staff/login")
    response = client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": _token(page.get_data(True))},
    )
    return pass_second_factor(client, response, email)


def signed_in_client(app: Flask, db: Session, **staff_fields) -> tuple[FlaskClient, StaffUser]:
    staff = make_staff(app, db, **staff_fields)
    client = app.test_client()
    response = sign_in(client, staff.email, staff_fields.get("password", PASSWORD))
    assert response.status_code == 303, "signed in"
    # Leave no read transaction open: on SQLite it would block the test's next write.
    db.rollback()
    return client, staff


def post_form(client: FlaskClient, url: str, data: dict | None = None, page: str | None = None):
    """Post from a page as a browser would: with the CSRF token the page carries."""
    html = client.get(page or "/staff/queue").get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": _token(html)})


def request_details(**overrides) -> NewRequest:
    referral = overrides.pop("referral", None)
    fields = dict(
        submitted_by_patient=True,
        submitter_name=None,
        submitter_relationship=None,
        submitter_phone=None,
        first_name="Maria",
        last_name="Santos",
        date_of_birth=date(1965, 3, 27),
        sex="female",
        email="maria@example.com",
        phone="+18135550123",
        contact_method="phone",
        best_time_to_call="morning",
        state="FL",
        zip_code="33612",
        language="english",
        language_other=None,
        interpreter_needed=False,
        diagnosed_metastatic="yes",
        metastasis_sites=["bones"],
        in_treatment=True,
        insurance_type="commercial",
        insurance_carrier="Florida Blue",
        message=None,
        consent_to_contact=True,
        has_referral=referral is not None,
        referral=referral,
    )
    fields.update(overrides)
    return NewRequest(**fields)


def a_referral() -> ReferralDetails:
    return ReferralDetails(
        physician_name="Dr. Alan O'Neil",
        physician_phone="+17275550142",
        practice="Bayside Oncology",
        npi="1234567893",
    )


# A caregiver's request with every answer added by the journey (issue 15): extensions, the
# caregiver's e-mail, who to call first, Medicare Advantage, the Spanish page.
NEWER_ANSWERS = {
    "submitted_by_patient": False,
    "submitter_name": "Ana Ruiz",
    "submitter_relationship": "daughter",
    "submitter_phone": "+17275550111",
    "submitter_phone_ext": "31",
    "submitter_email": "ana@example.com",
    "call_first": "caregiver",
    "phone_ext": "204",
    "insurance_type": "medicare_advantage",
    "insurance_carrier": "Humana Gold Plus",
    "form_language": "es",
}


def make_request(
    db: Session, *, submitted_at: datetime | None = None, commit: bool = True, **fields
) -> AppointmentRequest:
    if commit:
        db.rollback()
    submitted = store_request(
        db, details=request_details(**fields), token=secrets.token_hex(16), now=submitted_at
    )
    row = db.scalars(
        select(AppointmentRequest).where(AppointmentRequest.reference == submitted.reference)
    ).one()
    if commit:
        db.commit()
    return row


def make_requests(
    db: Session,
    count: int,
    *,
    start: datetime | None = None,
    step: timedelta | None = None,
    **fields,
) -> list[AppointmentRequest]:
    """``count`` requests, oldest first, ``step`` apart (an hour by default)."""
    start = start or datetime.now(UTC) - timedelta(days=30)
    step = step or timedelta(hours=1)
    db.rollback()
    rows = [
        make_request(db, submitted_at=start + i * step, commit=False, **fields)
        for i in range(count)
    ]
    db.commit()
    return rows
