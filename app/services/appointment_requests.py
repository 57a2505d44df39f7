"""Submitting a new-patient request, and the open queue intake works from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import OPEN_STATUSES, AppointmentRequest, Referral, RequestStatus

from . import reference_codes

_REFERENCE_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class ReferralDetails:
    physician_name: str
    physician_phone: str
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
    email: str
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


@dataclass(frozen=True)
class Submitted:
    reference: str
    created: bool  # False when this form had already been submitted


class ReferenceUnavailable(RuntimeError):
    """No free reference code after several attempts: the code space is exhausted or
    something is badly wrong with the random source."""


def submit_request(session: Session, *, details: NewRequest, token: str) -> Submitted:
    """Store a request once per form token.

    A second submission of the same form (double click, browser retry, a retry after a
    lost response) returns the reference stored the first time instead of a new row.
    """
    existing = _reference_for_token(session, token)
    if existing:
        return Submitted(existing, created=False)

    for _ in range(_REFERENCE_ATTEMPTS):
        row = _build_row(details, token=token, reference=reference_codes.new_reference())
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Either another worker stored this same form a moment ago, or (rarely) the
            # random reference was taken. The token tells which.
            existing = _reference_for_token(session, token)
            if existing:
                return Submitted(existing, created=False)
            continue
        return Submitted(row.reference, created=True)
    raise ReferenceUnavailable("could not allocate a unique reference code")


def _reference_for_token(session: Session, token: str) -> str | None:
    return session.scalar(
        select(AppointmentRequest.reference).where(AppointmentRequest.submission_token == token)
    )


def _build_row(details: NewRequest, *, token: str, reference: str) -> AppointmentRequest:
    fields = {k: v for k, v in details.__dict__.items() if k != "referral"}
    row = AppointmentRequest(
        **fields,
        reference=reference,
        submission_token=token,
        status=RequestStatus.NEW,
        has_referral=details.referral is not None,
    )
    if details.referral is not None:
        r = details.referral
        row.referral = Referral(
            physician_name=r.physician_name,
            physician_phone=r.physician_phone,
            practice=r.practice,
            fax=r.fax,
            email=r.email,
            npi=r.npi,
        )
    return row


def open_queue(session: Session, *, limit: int = 50) -> list[AppointmentRequest]:
    """Open requests (new and in progress), oldest first."""
    return list(
        session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.status.in_(OPEN_STATUSES))
            .order_by(AppointmentRequest.submitted_at, AppointmentRequest.id)
            .limit(limit)
        )
    )
