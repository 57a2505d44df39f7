"""The private link of a request (issue 29): how the person who sent it comes back.

The link holds a random token, never the reference alone; only a keyed hash of the token
is stored (``request_links.token_hash``, keyed like the audit trail's hashes), so someone
with a copy of the database cannot open anyone's page. One link works at a time: a fresh
one (sent by staff, or asked for again by the person) replaces the one before. A link
works until its request has been closed for ``days_after_closing`` days, and never once
retention has removed the request's patient data.

A browser that opens a link is asked for the patient's date of birth first (unless it is
the browser that sent the request); wrong answers are counted on the link (here) and per
client address (the rate limit on the page, app/patient). The right answer lets that
browser's session use the link until the session ends.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from app.audit import chain, trail
from app.common.actor import Actor
from app.common.errors import NotFound, Refused
from app.models import AppointmentRequest, OutboxMessage, RequestEvent, RequestLink
from app.vocabulary import AuditAction, EventKind, MessageKind, RequestStatus

# 20 random bytes: 160 bits, written as 32 lower-case base32 letters and digits, so a
# link survives being copied by hand or by a mail program that changes case.
TOKEN_BYTES = 20
_TOKEN_LENGTH = 32
_HASH_PURPOSE = "request-link"
# A request's e-mail with a fresh link goes out at most this often when the person asks
# for one again (the page answers the same either way, so nobody learns it was skipped):
# a stranger who knows the reference, date of birth and e-mail cannot flood the inbox.
RESEND_AT_MOST = 3
RESEND_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class LinkPolicy:
    # Days after closing that the link still works (PATIENT_LINK_DAYS_AFTER_CLOSING).
    days_after_closing: int = 30
    # Wrong dates of birth for one link before it refuses answers for ``lock_minutes``.
    attempts: int = 5
    lock_minutes: int = 30


@dataclass(frozen=True)
class OpenLink:
    """A link that works: its id (kept in the browser's session) and its request."""

    link_id: int
    request_id: int
    reference: str


class CheckResult:
    RIGHT = "right"
    WRONG = "wrong"
    # Too many wrong answers for this link: it refuses answers for a while.
    LOCKED = "locked"


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=").lower()


def _hash(session: Session, token: str) -> str:
    return chain.keyed_digest(session, purpose=_HASH_PURPOSE, value=token)


def is_well_formed(token: str | None) -> bool:
    return (
        isinstance(token, str)
        and len(token) == _TOKEN_LENGTH
        and token.isascii()
        and token.isalnum()
    )


def issue(session: Session, *, request_id: int, now: datetime, first: bool = False) -> str:
    """A new link for the request, replacing any before it; returns the token (the one
    time it exists outside the person's e-mail). ``first``: the request was stored in this
    transaction, so there is nothing to replace (one statement less on every send)."""
    token = new_token()
    if not first:
        session.execute(
            update(RequestLink)
            .where(RequestLink.request_id == request_id, RequestLink.replaced_at.is_(None))
            .values(replaced_at=now)
            .execution_options(synchronize_session=False)
        )
    # A statement on the table: nothing reads the new row back in this transaction, and
    # the ORM's unit of work cost more than the INSERT (issue 28).
    session.execute(
        insert(RequestLink.__table__).values(
            request_id=request_id, token_hash=_hash(session, token), failed_checks=0
        )
    )
    return token


def _works(policy: LinkPolicy, now: datetime):
    """The SQL condition of a link that works: current, its request's data kept, and the
    request open or closed fewer than ``days_after_closing`` days ago."""
    ar = AppointmentRequest
    return (
        RequestLink.replaced_at.is_(None),
        ar.purged_at.is_(None),
        or_(
            ar.status != RequestStatus.CLOSED,
            ar.closed_at.is_(None),
            ar.closed_at > now - timedelta(days=policy.days_after_closing),
        ),
    )


def open_link(
    session: Session, *, token: str, now: datetime, policy: LinkPolicy
) -> OpenLink | None:
    """The link this token opens, if it works; None for any other token (a made-up one,
    an old one, one whose request is long closed)."""
    if not is_well_formed(token):
        return None
    return _find(session, RequestLink.token_hash == _hash(session, token.lower()), now, policy)


def current(
    session: Session, *, link_id: object, now: datetime, policy: LinkPolicy
) -> OpenLink | None:
    """The link a browser's session holds, if it still works (a fresh link, a long-closed
    request or retention ends it)."""
    if not isinstance(link_id, int) or isinstance(link_id, bool):
        return None
    return _find(session, RequestLink.id == link_id, now, policy)


def for_sender(
    session: Session, *, reference: str, now: datetime, policy: LinkPolicy
) -> OpenLink | None:
    """The link of a request, for the browser that sent it (its session holds the
    reference): that browser is not asked for the date of birth."""
    return _find(session, AppointmentRequest.reference == reference, now, policy)


def _find(session: Session, condition, now: datetime, policy: LinkPolicy) -> OpenLink | None:
    ar = AppointmentRequest
    found = session.execute(
        select(RequestLink.id, ar.id, ar.reference)
        .join(ar, ar.id == RequestLink.request_id)
        .where(condition, *_works(policy, now))
        .order_by(RequestLink.id.desc())
        .limit(1)
    ).first()
    return OpenLink(*found) if found is not None else None


def check_date_of_birth(
    session: Session,
    *,
    link_id: int,
    typed: date,
    now: datetime,
    policy: LinkPolicy,
    client_ip: str | None,
) -> str:
    """Whether ``typed`` is the patient's date of birth, counting wrong answers on the
    link: after ``policy.attempts`` of them it answers LOCKED for ``lock_minutes``, right
    or wrong (so guessing the right one among the locked answers tells nothing)."""
    link = session.get(RequestLink, link_id)
    if link is None:
        raise NotFound(str(link_id))
    if link.locked_until is not None and link.locked_until > now:
        return CheckResult.LOCKED
    born = session.scalar(
        select(AppointmentRequest.date_of_birth).where(AppointmentRequest.id == link.request_id)
    )
    if born is not None and born == typed:
        session.execute(
            update(RequestLink)
            .where(RequestLink.id == link_id)
            .values(failed_checks=0, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        trail.record(
            session,
            action=AuditAction.PATIENT_LINK_CHECKED,
            request_id=link.request_id,
            client_ip=client_ip,
        )
        return CheckResult.RIGHT
    # One statement: two wrong answers at once from two workers both count.
    failed = session.scalar(
        update(RequestLink)
        .where(RequestLink.id == link_id)
        .values(failed_checks=RequestLink.failed_checks + 1)
        .returning(RequestLink.failed_checks)
        .execution_options(synchronize_session=False)
    )
    locked = failed is not None and failed >= policy.attempts
    if locked:
        session.execute(
            update(RequestLink)
            .where(RequestLink.id == link_id)
            .values(failed_checks=0, locked_until=now + timedelta(minutes=policy.lock_minutes))
            .execution_options(synchronize_session=False)
        )
    trail.record(
        session,
        action=AuditAction.PATIENT_LINK_REFUSED,
        request_id=link.request_id,
        to_value="locked" if locked else f"{failed} wrong",
        client_ip=client_ip,
    )
    return CheckResult.LOCKED if locked else CheckResult.WRONG


@dataclass(frozen=True, kw_only=True)
class LinkLetter:
    """Who the e-mail with a link goes to: the address the confirmation used."""

    request_id: int
    reference: str
    recipient: str
    locale: str


def _letter_for(row: AppointmentRequest) -> LinkLetter | None:
    recipient = row.email or row.submitter_email
    if not recipient:
        return None
    return LinkLetter(
        request_id=row.id,
        reference=row.reference,
        recipient=recipient,
        locale=str(row.form_language or "en"),
    )


@dataclass(frozen=True, kw_only=True)
class FreshLink:
    """A link just issued, and who its e-mail goes to: the caller queues that e-mail in
    the same transaction (``app/mail/outbox.queue_request_link``; the mail package reads
    requests, never the other way round)."""

    letter: LinkLetter
    token: str


def _fresh_link(session: Session, letter: LinkLetter, *, now: datetime) -> FreshLink:
    return FreshLink(letter=letter, token=issue(session, request_id=letter.request_id, now=now))


def send_fresh(session: Session, *, reference: str, actor: Actor, now: datetime) -> FreshLink:
    """Staff send the person a new link (the old one stops working), to the address the
    confirmation went to; the caller queues its e-mail. Refused when the request has no
    e-mail address."""
    row = session.scalar(
        select(AppointmentRequest).where(AppointmentRequest.reference == reference)
    )
    if row is None:
        raise NotFound(reference)
    if row.purged_at is not None:
        raise Refused("Retention has removed this request's patient data: no link can be sent.")
    letter = _letter_for(row)
    if letter is None:
        raise Refused(
            "This request has no e-mail address to send a link to. The person can add one on"
            " their private page, or ask for a link with their phone number at the center."
        )
    fresh = _fresh_link(session, letter, now=now)
    session.add(RequestEvent(request_id=row.id, staff_id=actor.staff_id, kind=EventKind.LINK_SENT))
    trail.record(session, action=AuditAction.PATIENT_LINK_ISSUED, actor=actor, request_id=row.id)
    return fresh


def request_again(
    session: Session,
    *,
    reference: str,
    date_of_birth: date,
    contact: str,
    now: datetime,
    client_ip: str | None,
) -> FreshLink | None:
    """The person asks for a new link with the reference, the patient's date of birth and
    an e-mail address or phone number given on the request. When all three match, a fresh
    link is made for the request's e-mail address, and returned for the caller to queue
    its e-mail; otherwise None (the page answers the same either way)."""
    row = session.scalar(
        select(AppointmentRequest).where(AppointmentRequest.reference == reference)
    )
    if row is None or row.purged_at is not None or row.date_of_birth != date_of_birth:
        return None
    if not _matches_contact(row, contact):
        return None
    letter = _letter_for(row)
    if letter is None:
        return None
    sent_lately = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == MessageKind.REQUEST_LINK,
            OutboxMessage.request_id == row.id,
            OutboxMessage.created_at > now - RESEND_WINDOW,
        )
        .offset(RESEND_AT_MOST - 1)
        .limit(1)
    )
    if sent_lately is not None:
        return None
    fresh = _fresh_link(session, letter, now=now)
    trail.record(
        session,
        action=AuditAction.PATIENT_LINK_ISSUED,
        request_id=row.id,
        detail="asked for again by the person",
        client_ip=client_ip,
    )
    return fresh


def _matches_contact(row: AppointmentRequest, contact: str) -> bool:
    """``contact`` is an e-mail (normalised, lower case) or a phone in E.164."""
    given = {
        value.lower()
        for value in (row.email, row.submitter_email, row.phone, row.submitter_phone)
        if value
    }
    return contact.lower() in given
