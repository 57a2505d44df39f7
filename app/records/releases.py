"""A release: the person asks the center to fetch their records from the doctors and
hospitals that hold them, and signs an authorization online (HIPAA 45 CFR 164.508).

The page is the authorization itself, filled in: who holds the records, which records,
for what, until when, the right to revoke, signed with a typed name and the date. What is
kept is the exact text the signer read with their answers in it, in the language they
read it (``text``, with its SHA-256), never rebuilt later from a newer wording. Staff
print it, once per provider, to send with the request for records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.audit import trail
from app.common.actor import Actor
from app.common.errors import NotFound
from app.models import AppointmentRequest, RecordsRelease, RequestEvent
from app.vocabulary import AuditAction, EventKind, Signer

# Rows of doctors and hospitals on the page; more than that is another release.
HOLDERS_SHOWN = 3
# An authorization without an end date is not valid: one year from signing is ours.
VALID_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class Holder:
    kind: str  # RecordHolder
    name: str
    city: str
    phone: str | None = None


@dataclass(frozen=True, kw_only=True)
class Signature:
    holders: list[Holder]
    records: list[str]  # DocumentKind codes
    signer: Signer
    signer_name: str
    signer_authority: str | None
    signed_on: date
    expires_on: date
    language: str
    text: str


def sign(
    session: Session,
    *,
    request_id: int,
    signature: Signature,
    now: datetime,
    client_ip: str | None,
) -> RecordsRelease:
    release = RecordsRelease(
        request_id=request_id,
        holders=[
            {"kind": h.kind, "name": h.name, "city": h.city, "phone": h.phone}
            for h in signature.holders
        ],
        records=list(signature.records),
        expires_on=signature.expires_on,
        signer=signature.signer,
        signer_name=signature.signer_name,
        signer_authority=signature.signer_authority,
        signed_on=signature.signed_on,
        language=signature.language,
        text=signature.text,
        text_sha256=hashlib.sha256(signature.text.encode()).hexdigest(),
    )
    session.add(release)
    session.flush()
    session.add(RequestEvent(request_id=request_id, staff_id=None, kind=EventKind.RELEASE_SIGNED))
    # The address the signature came from is part of an electronic signature's record.
    trail.record(
        session,
        action=AuditAction.RELEASE_SIGNED,
        request_id=request_id,
        detail=f"release {release.id}: {len(signature.holders)} providers,"
        f" text sha256 {release.text_sha256[:16]}",
        client_ip=client_ip,
    )
    session.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == request_id)
        .values(documents_added_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return release


def releases_of(session: Session, *, request_id: int) -> list[RecordsRelease]:
    return list(
        session.scalars(
            select(RecordsRelease)
            .where(RecordsRelease.request_id == request_id)
            .order_by(RecordsRelease.id.desc())
        )
    )


def release_for_staff(
    session: Session, *, reference: str, release_id: int, actor: Actor
) -> tuple[RecordsRelease, AppointmentRequest]:
    found = session.execute(
        select(RecordsRelease, AppointmentRequest)
        .join(AppointmentRequest, AppointmentRequest.id == RecordsRelease.request_id)
        .where(RecordsRelease.id == release_id, AppointmentRequest.reference == reference)
    ).first()
    if found is None:
        raise NotFound(f"release {release_id}")
    release, row = found
    trail.record(
        session,
        action=AuditAction.RELEASE_VIEWED,
        actor=actor,
        request_id=row.id,
        detail=f"release {release.id}",
    )
    return release, row


def remove_for_requests(session: Session, *, request_ids: list[int]) -> int:
    """Retention: the signed releases go with the rest of the patient data."""
    if not request_ids:
        return 0
    return (
        session.execute(
            delete(RecordsRelease).where(RecordsRelease.request_id.in_(request_ids))
        ).rowcount
        or 0
    )
