"""Submitting a new-patient request."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from app.common import metrics
from app.common.time import now_utc
from app.models import AppointmentRequest, Referral, RequestEvent, RequestStatus
from app.requests import private_links, reference_codes
from app.requests.business_clock import BusinessClock
from app.requests.fields import compared_values, shown_in_history
from app.vocabulary import EventKind

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
    # A physician referred the patient: then, and only then, ``referral`` says who.
    has_referral: bool
    referral: ReferralDetails | None
    # The newer answers, with defaults so that a caller that does not ask them still works.
    submitter_email: str | None = None
    submitter_phone_ext: str | None = None
    call_first: str | None = None
    phone_ext: str | None = None
    # The language of the page the form was sent from (PageLanguage): "en" or "es".
    form_language: str = "en"

    def __post_init__(self) -> None:
        if self.has_referral != (self.referral is not None):
            raise ValueError("a referral's details come with has_referral, and only with it")

    @property
    def receipt_address(self) -> str | None:
        """Where the e-mail receipt goes: the patient's address, or the caregiver's when
        the patient gave none (a caregiver whose mother has no e-mail)."""
        return self.email or self.submitter_email


@dataclass(frozen=True)
class Submitted:
    reference: str
    created: bool  # False when this form had already been submitted
    request_id: int
    # A re-send of a stored form with different answers: the first answers are kept, the
    # differences go on the request's history for intake, and the person is told.
    changed: bool = False
    # The private link's token of a request just stored (issue 29), for its e-mail
    # receipt only; None for a re-send (the link exists once, in the first receipt).
    link_token: str | None = None


# The history event of a re-send with different answers (RequestEvent.kind; no staff).
RESENT_WITH_CHANGES = EventKind.RESENT_CHANGED


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
            # The private link (issue 29): the e-mail receipt carries its only copy.
            link = private_links.issue(
                session, request_id=request_id, now=now or now_utc(), first=True
            )
            metrics.count_request_received(
                session, referred=details.referral is not None, language=details.language
            )
            return Submitted(reference, created=True, request_id=request_id, link_token=link)
        existing = _stored_for_token(session, token)
        if existing is not None:
            changes = answers_changed(existing, details)
            if changes:
                _record_resend(session, request_id=existing.id, changes=changes)
            return Submitted(
                existing.reference, created=False, request_id=existing.id, changed=bool(changes)
            )
    raise ReferenceUnavailable("could not allocate a unique reference code")


def reference_for_token(session: Session, *, token: str) -> str | None:
    """The reference of the request stored with this form token, if any."""
    return _reference_for_token(session, token) if token else None


def answers_changed(row: AppointmentRequest, details: NewRequest) -> list[str]:
    """One line per answer that differs between the stored request and a re-send of its
    form, in the form's order and with the words of app/requests/fields.py: "Phone number:
    +18135550123 → +18135550199", "Insurance: Medicare → Medicare Advantage"."""
    sent = {k: v for k, v in details.__dict__.items() if k != "referral"}
    if details.referral is not None:
        sent.update({f"referral.{k}": v for k, v in asdict(details.referral).items()})
    lines = []
    for compared in compared_values():
        before, after = _stored_value(row, compared.key), sent.get(compared.key)
        if _comparable(before) != _comparable(after):
            was = shown_in_history(before, compared.field)
            now = shown_in_history(after, compared.field)
            lines.append(f"{compared.label}: {was} → {now}")
    return lines


def _stored_value(row: AppointmentRequest, key: str) -> object:
    if key.startswith("referral."):
        return getattr(row.referral, key.removeprefix("referral."), None) if row.referral else None
    return getattr(row, key)


def _comparable(value: object) -> object:
    # A stored enum and the code sent compare equal; an empty list is no answer.
    if isinstance(value, list):
        return [str(v) for v in value] or None
    if value == "":
        return None
    return str(value) if isinstance(value, str) else value


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
    if "\x00" in token:
        # No stored token holds a NUL (they are URL-safe random text), and PostgreSQL
        # refuses one in any text it is sent: `form_token=%00` was a DataError, a 500.
        return None
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
    }
