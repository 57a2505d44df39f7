"""What the person who sent a request sees on its private page, and the one thing they may
change there: how to reach them (issue 29).

Where the request stands comes from its status and the coordinator's logged calls (the
moves to "contacted"), never from a staff member's name, a note or a close reason.
A change of contact details is written on the request's history as made by the person
(no staff member), marked for staff until someone presses "Mark as seen", and recorded
in the audit trail by the names of the fields only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import trail
from app.common.actor import Actor
from app.common.errors import NotFound
from app.models import AppointmentRequest, RecordsRelease, RequestDocument, RequestEvent
from app.vocabulary import (
    AuditAction,
    BestTime,
    CallFirst,
    ContactMethod,
    DocumentKind,
    EventKind,
    RequestStatus,
    ScanStatus,
)


class Stage:
    """Where a request stands, as the person reads it."""

    RECEIVED = "received"
    LOOKED_AT = "looked_at"
    CALLED = "called"
    RECORDS = "records"
    ARRANGING = "arranging"
    CLOSED = "closed"


_STAGE_OF = {
    RequestStatus.NEW: Stage.RECEIVED,
    RequestStatus.IN_PROGRESS: Stage.LOOKED_AT,
    RequestStatus.CONTACTED: Stage.CALLED,
    RequestStatus.AWAITING_RECORDS: Stage.RECORDS,
    RequestStatus.SCHEDULED: Stage.ARRANGING,
    RequestStatus.CLOSED: Stage.CLOSED,
}
# The last calls shown; the page is about what happens next.
CALLS_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class SentDocument:
    kind: DocumentKind
    received_at: datetime
    scan_status: ScanStatus


@dataclass(frozen=True)
class SignedRelease:
    id: int
    signed_at: datetime


@dataclass(frozen=True, kw_only=True)
class ContactDetails:
    """How to reach them: the only answers the private page can change."""

    phone: str
    phone_ext: str | None
    email: str | None
    contact_method: ContactMethod
    best_time_to_call: BestTime
    # A caregiver's request only.
    submitter_phone: str | None = None
    submitter_phone_ext: str | None = None
    submitter_email: str | None = None
    call_first: CallFirst | None = None


# History labels of the contact answers (staff read them in English).
_LABELS = {
    "phone": "Phone",
    "phone_ext": "Extension",
    "email": "Email",
    "contact_method": "How to contact",
    "best_time_to_call": "Best time to call",
    "submitter_phone": "Their phone",
    "submitter_phone_ext": "Their extension",
    "submitter_email": "Their email",
    "call_first": "Call first",
}


@dataclass(frozen=True, kw_only=True)
class PatientPage:
    reference: str
    stage: str
    status: RequestStatus
    submitted_at: datetime
    reply_due: datetime
    calls: list[datetime]  # newest first
    callback_at: datetime | None  # a call planned, still ahead
    for_patient: bool  # sent by the patient (not a caregiver)
    first_name: str
    contact: ContactDetails
    documents: list[SentDocument]
    releases: list[SignedRelease]  # newest first
    full_name: str
    date_of_birth: date | None


def patient_page(session: Session, *, request_id: int, now: datetime) -> PatientPage:
    row = session.get(AppointmentRequest, request_id)
    if row is None or row.purged_at is not None:
        raise NotFound(str(request_id))
    status = RequestStatus(row.status)
    calls = session.scalars(
        select(RequestEvent.created_at)
        .where(
            RequestEvent.request_id == request_id,
            RequestEvent.kind == EventKind.STATUS,
            RequestEvent.to_status == RequestStatus.CONTACTED,
        )
        .order_by(RequestEvent.id.desc())
        .limit(CALLS_SHOWN)
    ).all()
    documents = session.execute(
        select(RequestDocument.kind, RequestDocument.received_at, RequestDocument.scan_status)
        .where(RequestDocument.request_id == request_id)
        .order_by(RequestDocument.id.desc())
    ).all()
    releases = session.execute(
        select(RecordsRelease.id, RecordsRelease.signed_at)
        .where(RecordsRelease.request_id == request_id)
        .order_by(RecordsRelease.id.desc())
    ).all()
    callback = row.callback_at
    planned = (
        callback is not None
        and callback > now
        and status
        in (
            RequestStatus.CONTACTED,
            RequestStatus.AWAITING_RECORDS,
        )
    )
    return PatientPage(
        reference=row.reference,
        stage=_STAGE_OF[status],
        status=status,
        submitted_at=row.submitted_at,
        reply_due=row.reply_due_at,
        calls=list(calls),
        callback_at=callback if planned else None,
        for_patient=row.submitted_by_patient,
        first_name=row.first_name,
        contact=contact_of(row),
        documents=[
            SentDocument(
                kind=DocumentKind(d.kind),
                received_at=d.received_at,
                scan_status=ScanStatus(d.scan_status),
            )
            for d in documents
        ],
        releases=[SignedRelease(r.id, r.signed_at) for r in releases],
        full_name=f"{row.first_name} {row.last_name}",
        date_of_birth=row.date_of_birth,
    )


def contact_of(row: AppointmentRequest) -> ContactDetails:
    return ContactDetails(
        phone=row.phone,
        phone_ext=row.phone_ext,
        email=row.email,
        contact_method=ContactMethod(row.contact_method),
        best_time_to_call=BestTime(row.best_time_to_call),
        submitter_phone=row.submitter_phone,
        submitter_phone_ext=row.submitter_phone_ext,
        submitter_email=row.submitter_email,
        call_first=CallFirst(row.call_first) if row.call_first else None,
    )


def change_contact(
    session: Session,
    *,
    request_id: int,
    details: ContactDetails,
    now: datetime,
    client_ip: str | None,
) -> list[str]:
    """Store new contact details; returns the names of the answers that changed (none:
    nothing is written). A patient's own request has no caregiver answers to change."""
    row = session.get(AppointmentRequest, request_id)
    if row is None or row.purged_at is not None:
        raise NotFound(str(request_id))
    before = contact_of(row)
    wanted = details
    if row.submitted_by_patient:
        wanted = ContactDetails(
            **{
                **{f.name: getattr(details, f.name) for f in fields(ContactDetails)},
                "submitter_phone": None,
                "submitter_phone_ext": None,
                "submitter_email": None,
                "call_first": None,
            }
        )
    changed = [
        f.name for f in fields(ContactDetails) if getattr(before, f.name) != getattr(wanted, f.name)
    ]
    if not changed:
        return []
    values = {name: getattr(wanted, name) for name in changed}
    session.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == request_id)
        .values(**values, contact_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    lines = [
        f"{_LABELS[name]}: {_shown(getattr(before, name), name)}"
        f" → {_shown(getattr(wanted, name), name)}"
        for name in changed
    ]
    session.add(
        RequestEvent(
            request_id=request_id,
            staff_id=None,
            kind=EventKind.CONTACT_CHANGED,
            note="\n".join(lines),
        )
    )
    # The names of the answers, never their values: the trail holds no patient data.
    trail.record(
        session,
        action=AuditAction.PATIENT_CONTACT_CHANGED,
        request_id=request_id,
        detail=", ".join(changed)[:255],
        client_ip=client_ip,
    )
    session.flush()
    return changed


_PHONES = frozenset({"phone", "submitter_phone"})


def _shown(value: object, name: str = "") -> str:
    if value is None or value == "":
        return "(none)"
    if name in _PHONES:
        # As staff read numbers everywhere else: (813) 555-0123.
        number = phonenumbers.parse(str(value), "US")
        style = (
            phonenumbers.PhoneNumberFormat.NATIONAL
            if number.country_code == 1
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        return phonenumbers.format_number(number, style)
    label = getattr(value, "label", None)
    return str(label) if label is not None else str(value)


def mark_seen(session: Session, *, reference: str, actor: Actor, now: datetime) -> None:
    """Staff have read what the person changed or sent: the marks go until the next."""
    request_id = session.scalar(
        select(AppointmentRequest.id).where(AppointmentRequest.reference == reference)
    )
    if request_id is None:
        raise NotFound(reference)
    session.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == request_id)
        .values(patient_news_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    trail.record(session, action=AuditAction.PATIENT_NEWS_SEEN, actor=actor, request_id=request_id)


def news_of(row: AppointmentRequest) -> tuple[bool, bool]:
    """(contact changed, new documents) since staff last marked them seen."""
    return news(
        contact_changed_at=row.contact_changed_at,
        documents_added_at=row.documents_added_at,
        seen_at=row.patient_news_seen_at,
    )


def news(
    *,
    contact_changed_at: datetime | None,
    documents_added_at: datetime | None,
    seen_at: datetime | None,
) -> tuple[bool, bool]:
    def unseen(at: datetime | None) -> bool:
        return at is not None and (seen_at is None or at > seen_at)

    return unseen(contact_changed_at), unseen(documents_added_at)
