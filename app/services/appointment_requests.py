"""Submitting a new-patient request."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from app.models import AppointmentRequest, Referral, RequestEvent, RequestStatus
from app.vocabulary import EventKind

from . import outbox, reference_codes
from .business_clock import BusinessClock

_REFERENCE_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class ReferralDetails:
    physician_name: str
    physician_phone: str
    physician_phone_ext: str | None = None
    practice: str | None = None
    fax: str | None = None
    email: str | None = None
    npi: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewRequest:
    """A validated request, in stored form (phones in E.164, email normalized)."""

    submitted_by_patient: bool
    submitter_name: str | None
    submitter_relationship: str | None
    submitter_phone: str | None
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str | None
    email: str | None
    phone: str
    contact_method: str
    best_time_to_call: str
    state: str
    zip_code: str
    language: str
    language_other: str | None
    interpreter_needed: bool
    diagnosed_metastatic: str
    metastasis_sites: list[str]
    in_treatment: bool
    insurance_type: str
    insurance_carrier: str | None
    message: str | None
    consent_to_contact: bool
    referral: ReferralDetails | None
    # The newer answers, with defaults so that a caller that does not ask them still works.
    submitter_email: str | None = None
    submitter_phone_ext: str | None = None
    call_first: str | None = None
    phone_ext: str | None = None
    # The language of the page the form was sent from (PageLanguage): "en" or "es".
    form_language: str = "en"


@dataclass(frozen=True)
class Submitted:
    reference: str
    created: bool  # False when this form had already been submitted
    # A re-send of a stored form with different answers: the first answers are kept, the
    # differences go on the request's history for intake, and the person is told.
    changed: bool = False


# The history event of a re-send with different answers (RequestEvent.kind; no staff).
RESENT_WITH_CHANGES = EventKind.RESENT_CHANGED

# What staff read on the history for each answer that differs.
_LABELS = {
    "submitted_by_patient": "Filled in by the patient",
    "submitter_name": "Name of the person filling in the form",
    "submitter_relationship": "Their relationship to the patient",
    "submitter_phone": "Their phone number",
    "first_name": "First name",
    "last_name": "Last name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "email": "Email address",
    "phone": "Phone number",
    "contact_method": "How to contact",
    "best_time_to_call": "Best time to call",
    "state": "State",
    "zip_code": "ZIP code",
    "language": "Preferred language",
    "language_other": "Other language",
    "interpreter_needed": "Interpreter needed",
    "diagnosed_metastatic": "Diagnosed with metastatic breast cancer",
    "metastasis_sites": "Where it has spread",
    "in_treatment": "In treatment now",
    "insurance_type": "Insurance",
    "insurance_carrier": "Insurance company",
    "message": "Message",
    "consent_to_contact": "Consent to contact",
    "referral.physician_name": "Referring physician",
    "referral.physician_phone": "Physician's phone",
    "referral.practice": "Practice or hospital",
    "referral.fax": "Physician's fax",
    "referral.email": "Physician's email",
    "referral.npi": "Physician's NPI",
}


class ReferenceUnavailable(RuntimeError):
    """No free reference code after several attempts: the code space is exhausted or
    something is badly wrong with the random source."""


def submit_request(
    session: Session,
    *,
    details: NewRequest,
    token: str,
    clock: BusinessClock | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Store a request once per form token, with its reply-due time from ``clock`` (the
    default clock is the default settings': New York, 8 to 5, Monday to Friday).

    A second submission of the same form (double click, browser retry, a retry after a
    lost response) returns the reference stored the first time instead of a new row.
    """
    for _ in range(_REFERENCE_ATTEMPTS):
        reference = reference_codes.new_reference()
        # One statement in the usual case: the insert skips itself on any unique conflict
        # (this form's token stored already, by this worker or another, or, rarely, a
        # reference already taken) instead of raising, so no savepoint and no look-up
        # beforehand. A submission is the heaviest public request; this halves its
        # round trips to the database.
        request_id = session.execute(
            _insert_ignoring_conflicts(session),
            _row_values(details, token, reference, clock or BusinessClock(), now),
        ).scalar()
        if request_id is not None:
            if details.referral is not None:
                session.execute(
                    _INSERT_REFERRAL, {"request_id": request_id, **asdict(details.referral)}
                )
            if details.email:
                # In this transaction: committed with the request or not at all (issue 18).
                outbox.queue_confirmation(
                    session,
                    request_id=request_id,
                    reference=reference,
                    recipient=details.email,
                    # In the language of the page the request was made on.
                    locale=details.form_language,
                )
            return Submitted(reference, created=True)
        existing = _stored_for_token(session, token)
        if existing is not None:
            changes = answers_changed(existing, details)
            if changes:
                _record_resend(session, request_id=existing.id, changes=changes)
            return Submitted(existing.reference, created=False, changed=bool(changes))
    raise ReferenceUnavailable("could not allocate a unique reference code")


def is_stored(session: Session, *, token: str) -> bool:
    """Whether the form with this token has already been stored (a re-send)."""
    return _reference_for_token(session, token) is not None


def answers_changed(row: AppointmentRequest, details: NewRequest) -> list[str]:
    """One line per answer that differs between the stored request and a re-send of its
    form: "Phone number: +18135550123 → +18135550199"."""
    stored = _answers(row, row.referral)
    sent = {k: v for k, v in details.__dict__.items() if k != "referral"}
    if details.referral is not None:
        sent.update({f"referral.{k}": v for k, v in asdict(details.referral).items()})
    lines = []
    for key, label in _LABELS.items():
        before, after = stored.get(key), sent.get(key)
        if before != after:
            lines.append(f"{label}: {_shown(before)} → {_shown(after)}")
    return lines


def _answers(row: AppointmentRequest, referral: Referral | None) -> dict:
    answers = {key: getattr(row, key) for key in _LABELS if not key.startswith("referral.")}
    answers["metastasis_sites"] = list(row.metastasis_sites or [])
    if referral is not None:
        for key in ("physician_name", "physician_phone", "practice", "fax", "email", "npi"):
            answers[f"referral.{key}"] = getattr(referral, key)
    return answers


def _shown(value) -> str:
    if value is None or value == [] or value == "":
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _record_resend(session: Session, *, request_id: int, changes: list[str]) -> None:
    note = "\n".join(changes)
    latest = session.scalar(
        select(RequestEvent.note)
        .where(RequestEvent.request_id == request_id, RequestEvent.kind == RESENT_WITH_CHANGES)
        .order_by(RequestEvent.id.desc())
        .limit(1)
    )
    if latest == note:
        return  # the same changed form sent twice (a double click): one history entry
    # Patient data: kept in the database with the request (and removed with it by
    # `flask intake purge`), never written to a log.
    session.add(
        RequestEvent(request_id=request_id, staff_id=None, kind=RESENT_WITH_CHANGES, note=note)
    )
    session.flush()


def _stored_for_token(session: Session, token: str) -> AppointmentRequest | None:
    return session.scalar(
        select(AppointmentRequest)
        .options(selectinload(AppointmentRequest.referral))
        .where(AppointmentRequest.submission_token == token)
    )


# Core statements on the tables, built once: the values travel as parameters, so each
# statement is compiled once per process rather than keyed again on every submission.
_REQUESTS = AppointmentRequest.__table__
_INSERT_REFERRAL = insert(Referral.__table__)


@cache
def _insert_request_for(dialect: str):
    # Imported here: a worker on PostgreSQL need not load the SQLite dialect, or the
    # other way round (memory per worker, docs/performance.md).
    builder = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
    return builder(_REQUESTS).on_conflict_do_nothing().returning(_REQUESTS.c.id)


def _insert_ignoring_conflicts(session: Session):
    return _insert_request_for(session.get_bind().dialect.name)


def _reference_for_token(session: Session, token: str) -> str | None:
    return session.scalar(
        select(AppointmentRequest.reference).where(AppointmentRequest.submission_token == token)
    )


def _row_values(
    details: NewRequest, token: str, reference: str, clock: BusinessClock, now: datetime | None
) -> dict:
    fields = {k: v for k, v in details.__dict__.items() if k != "referral"}
    # In UTC: SQLite keeps a datetime's wall-clock time and drops its zone.
    received = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        **fields,
        "submitted_at": received,
        "reply_due_at": clock.reply_due(received),
        "received_on": clock.today(received),
        "reference": reference,
        "submission_token": token,
        "status": RequestStatus.NEW,
        "has_referral": details.referral is not None,
    }
