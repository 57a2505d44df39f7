"""The transactional outbox: e-mail queued in the same transaction as what it tells of.

A request's confirmation is inserted by `queue_confirmation`, which the journey's send
(`app/public/journey.py`) calls right after storing the request, in the same transaction:
a stored request always has its e-mail queued and a rolled-back one never does.
The intake alert is derived from the requests themselves (the ones after the last alert's
watermark), so it is exactly as transactional and batches itself.

Delivery (`app/mail/worker.py`) claims one due message at a time with a single conditional
UPDATE that also takes a lease; on PostgreSQL the candidate row is picked with
`FOR UPDATE SKIP LOCKED`, so workers pass over each other's rows instead of queueing
behind them; on SQLite the write lock (BEGIN IMMEDIATE) serializes claims and the
condition in the UPDATE decides. A worker that dies mid-send leaves its message `sending`
until the lease runs out; another claim then sends it again with the same Message-ID.

We chose this over a task library (Celery, RQ, Dramatiq, procrastinate): those need a
broker or their own tables and worker model, and none puts the message row in our own
transaction on both SQLite and PostgreSQL; the whole mechanism here is one table and two
statements.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.audit import trail
from app.common.actor import Actor
from app.models import AppointmentRequest, OutboxMessage, RequestDocument
from app.requests import overdue
from app.requests.appointment_requests import NewRequest, Submitted
from app.requests.private_links import FreshLink
from app.vocabulary import AuditAction, MessageKind, OutboxStatus, RequestStatus

DEFAULT_LOCALE = "en"
_ERROR_MAX = 255
_ADDRESS = re.compile(r"[^\s<>\"'@]+@[^\s<>\"'@]+")


class MessageNotFound(LookupError):
    """No failed message with that token."""


def recipient_hash(address: str, *, key: bytes) -> str:
    """A keyed hash of an address: the audit trail can match a complaint ("did you e-mail
    me?") without keeping the address, and nobody without the key can test guesses."""
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()


def safe_reason(text: str) -> str:
    """An error text fit to store and show: one line, no e-mail address (mail servers often
    quote the refused address back), not longer than the column."""
    one_line = " ".join(text.split())
    return _ADDRESS.sub("<address>", one_line)[:_ERROR_MAX]


# Queuing ---------------------------------------------------------------------------------

_MESSAGES = OutboxMessage.__table__
_INSERT_MESSAGE = insert(_MESSAGES)


def queue_confirmation(session: Session, *, submitted: Submitted, details: NewRequest) -> bool:
    """Queue the e-mail receipt of a request just stored, in the request's transaction:
    to the patient's address, or the caregiver's when the patient gave none, in the
    language of the page it was sent from. None for a re-send (the first send queued it)
    or without an address. Returns whether one was queued.

    Only the reference and the private link's token travel with it (issue 29): the e-mail
    carries no patient data, and the payload is removed once it is delivered. One
    statement, no ORM object, as the submission is the busiest write on the site.
    """
    recipient = details.receipt_address
    if not submitted.created or not recipient:
        return False
    payload = {"reference": submitted.reference}
    if submitted.link_token is not None:
        payload["link"] = submitted.link_token
    session.execute(
        _INSERT_MESSAGE,
        {
            "kind": MessageKind.CONFIRMATION,
            "status": OutboxStatus.PENDING,
            "token": secrets.token_hex(16),
            "locale": details.form_language or DEFAULT_LOCALE,
            "request_id": submitted.request_id,
            "recipient": recipient,
            "payload": payload,
            "attempts": 0,
        },
    )
    return True


def queue_request_link(session: Session, *, link: FreshLink) -> None:
    """Queue an e-mail with a fresh private link (issue 29), in the caller's transaction:
    the reference and the link, nothing else."""
    session.execute(
        _INSERT_MESSAGE,
        {
            "kind": MessageKind.REQUEST_LINK,
            "status": OutboxStatus.PENDING,
            "token": secrets.token_hex(16),
            "locale": link.letter.locale,
            "request_id": link.letter.request_id,
            "recipient": link.letter.recipient,
            "payload": {"reference": link.letter.reference, "link": link.token},
            "attempts": 0,
        },
    )


@dataclass(frozen=True, kw_only=True)
class AlertCounts:
    arrived: int
    interpreter: int
    overdue: int
    through_id: int | None
    documents: int = 0
    documents_through_id: int | None = None


def queue_intake_alert(
    session: Session,
    *,
    recipient: str,
    now: datetime,
    every: timedelta,
    queue_url: str,
) -> AlertCounts | None:
    """Queue one alert to the intake mailbox if requests arrived since the last one and
    the last one is at least ``every`` old. Counts only: no patient data.

    The first alert ever counts the requests still `new`; each later one counts those
    stored after the previous alert's last request.
    """
    previous = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.created_at,
            OutboxMessage.covers_through_id,
            OutboxMessage.covers_documents_through_id,
        )
        .where(OutboxMessage.kind == MessageKind.INTAKE_ALERT)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if previous is not None and previous.created_at > now - every:
        return None
    arrivals = select(
        func.count(),
        func.max(AppointmentRequest.id),
        func.count().filter(AppointmentRequest.interpreter_needed.is_(True)),
    )
    if previous is not None and previous.covers_through_id is not None:
        arrivals = arrivals.where(AppointmentRequest.id > previous.covers_through_id)
    else:
        arrivals = arrivals.where(AppointmentRequest.status == RequestStatus.NEW)
    arrived, through_id, interpreter = session.execute(arrivals).one()
    # Records sent from the private pages since the last alert (issue 29): a count only.
    sent = select(func.count(), func.max(RequestDocument.id))
    if previous is not None and previous.covers_documents_through_id is not None:
        sent = sent.where(RequestDocument.id > previous.covers_documents_through_id)
    elif previous is not None:
        sent = sent.where(RequestDocument.received_at > previous.created_at)
    documents, documents_through_id = session.execute(sent).one()
    if not arrived and not documents:
        return None
    counts = AlertCounts(
        arrived=arrived,
        interpreter=interpreter or 0,
        overdue=overdue.count(session, now=now),
        through_id=through_id if through_id is not None else previous.covers_through_id,
        documents=documents,
        documents_through_id=documents_through_id
        if documents_through_id is not None
        else (previous.covers_documents_through_id if previous is not None else None),
    )
    statement = _insert_ignoring_conflicts(session).values(
        kind=MessageKind.INTAKE_ALERT,
        status=OutboxStatus.PENDING,
        token=secrets.token_hex(16),
        locale=DEFAULT_LOCALE,
        dedupe_key=f"intake-alert-after:{previous.id if previous else 0}",
        covers_through_id=counts.through_id,
        covers_documents_through_id=counts.documents_through_id,
        recipient=recipient,
        payload={
            "arrived": counts.arrived,
            "documents": counts.documents,
            "interpreter": counts.interpreter,
            "overdue": counts.overdue,
            "queue_url": queue_url,
        },
        attempts=0,
    )
    stored = session.execute(statement).scalar()
    # Another worker stored the same alert first: it will be sent once, by whoever claims it.
    return counts if stored is not None else None


@cache
def _insert_for(dialect: str):
    builder = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
    return builder(_MESSAGES).on_conflict_do_nothing().returning(_MESSAGES.c.id)


def _insert_ignoring_conflicts(session: Session):
    return _insert_for(session.get_bind().dialect.name)


# Delivery --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Claimed:
    id: int
    claim_token: str
    kind: MessageKind
    token: str
    locale: str
    recipient: str | None
    payload: dict | None
    attempts: int
    created_at: datetime


def _claimable(now: datetime):
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        # A worker died holding it (SIGKILL, power cut): its lease has run out.
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


def claim_batch(session: Session, *, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due messages for this worker, oldest first.
    Commit right after, so the claim is visible to the others before the (slow) sends.

    They share one claim token; a worker that stops early hands the rest back with
    `release`, and one that dies leaves them to its lease."""
    # Two statements, on purpose: in one (`UPDATE ... WHERE id IN (SELECT ... LIMIT n
    # FOR UPDATE SKIP LOCKED)`) PostgreSQL may run the sub-select more than once and,
    # skipping what it locked the first time, take far more than n rows.
    ids = session.scalars(
        select(OutboxMessage.id)
        .where(_claimable(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        # PostgreSQL: lock the rows picked and skip those another worker is claiming right
        # now instead of waiting for it. SQLite has no row locks (the clause is left out);
        # its write lock, taken up front by BEGIN IMMEDIATE, lets one claim run at a time.
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        return []
    claim_token = secrets.token_hex(16)
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(now))
        .values(status=OutboxStatus.SENDING, claim_token=claim_token, lease_until=now + lease)
        .returning(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.token,
            OutboxMessage.locale,
            OutboxMessage.recipient,
            OutboxMessage.payload,
            OutboxMessage.attempts,
            OutboxMessage.created_at,
        )
        .execution_options(synchronize_session=False)
    ).all()
    return [
        Claimed(
            id=row.id,
            claim_token=claim_token,
            kind=MessageKind(row.kind),
            token=row.token,
            locale=row.locale,
            recipient=row.recipient,
            payload=row.payload,
            attempts=row.attempts,
            created_at=row.created_at,
        )
        for row in sorted(rows, key=lambda r: r.id)
    ]


def claim_next(session: Session, *, now: datetime, lease: timedelta) -> Claimed | None:
    claimed = claim_batch(session, now=now, lease=lease, limit=1)
    return claimed[0] if claimed else None


def extend_lease(session: Session, *, claim_token: str, until: datetime) -> None:
    """The rest of a batch stays this worker's while it works through it."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.claim_token == claim_token,
            OutboxMessage.status == OutboxStatus.SENDING,
        )
        .values(lease_until=until)
    )


def _ours(claimed: Claimed):
    # Only the claim that holds the message may settle it.
    return update(OutboxMessage).where(
        OutboxMessage.id == claimed.id,
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.claim_token == claimed.claim_token,
    )


def mark_sent(session: Session, *, claimed: Claimed, now: datetime, hashed: str | None) -> None:
    """Delivered: the address and body go, the keyed hash stays."""
    session.execute(
        _ours(claimed).values(
            status=OutboxStatus.SENT,
            attempts=OutboxMessage.attempts + 1,
            sent_at=now,
            recipient=None,
            recipient_hash=hashed,
            payload=None,
            claim_token=None,
            lease_until=None,
            last_error=None,
        )
    )


def mark_failed(
    session: Session, *, claimed: Claimed, now: datetime, reason: str, hashed: str | None
) -> None:
    """Refused for good (a 5xx, or a message that cannot be built): shown to admins, who
    may send it again. The address stays until the purge so that they can."""
    session.execute(
        _ours(claimed).values(
            status=OutboxStatus.FAILED,
            attempts=OutboxMessage.attempts + 1,
            failed_at=now,
            recipient_hash=hashed,
            claim_token=None,
            lease_until=None,
            last_error=safe_reason(reason),
        )
    )


def retry_delay(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff: base, 2 x base, 4 x base... never more than cap."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def mark_retry(
    session: Session,
    *,
    claimed: Claimed,
    now: datetime,
    reason: str,
    hashed: str | None,
    max_attempts: int,
    base: timedelta,
    cap: timedelta,
) -> bool:
    """A temporary refusal (4xx). Returns False when that was the last try allowed."""
    attempts = claimed.attempts + 1
    if attempts >= max_attempts:
        mark_failed(
            session,
            claimed=claimed,
            now=now,
            reason=f"Gave up after {attempts} tries. Last answer: {reason}",
            hashed=hashed,
        )
        return False
    session.execute(
        _ours(claimed).values(
            status=OutboxStatus.PENDING,
            attempts=attempts,
            next_attempt_at=now + retry_delay(attempts, base=base, cap=cap),
            claim_token=None,
            lease_until=None,
            last_error=safe_reason(reason),
        )
    )
    return True


def release(session: Session, *, claimed: Claimed, reason: str | None = None) -> None:
    """Hand a claimed message back untried: the mail server could not be reached (not
    this message's fault, so no try is counted: it waits, as every other message does,
    until the server is back), or the worker is stopping."""
    values: dict = {"status": OutboxStatus.PENDING, "claim_token": None, "lease_until": None}
    if reason is not None:
        values["last_error"] = safe_reason(reason)
    session.execute(_ours(claimed).values(**values))


# Keeping only what is needed -------------------------------------------------------------


def purge(session: Session, *, older_than: datetime, key: bytes) -> int:
    """Remove addresses and bodies of messages queued before ``older_than`` (keeping the
    keyed hash); one still undelivered by then is marked failed. Returns how many."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.status).where(
            OutboxMessage.created_at < older_than,
            or_(OutboxMessage.recipient.is_not(None), OutboxMessage.payload.is_not(None)),
            # A message in a live worker's hands is left until it is settled.
            or_(
                OutboxMessage.status != OutboxStatus.SENDING,
                OutboxMessage.lease_until < older_than,
            ),
        )
    ).all()
    for row in rows:
        values: dict = {"recipient": None, "payload": None}
        if row.recipient:
            values["recipient_hash"] = recipient_hash(row.recipient, key=key)
        if row.status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            values.update(
                status=OutboxStatus.FAILED,
                failed_at=datetime.now(UTC),
                last_error="Not delivered within the keeping period; address removed.",
            )
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
    return len(rows)


# What admins see -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FailedMessage:
    token: str
    kind: MessageKind
    reference: str | None
    attempts: int
    failed_at: datetime | None
    reason: str | None
    can_send_again: bool


@dataclass(frozen=True, kw_only=True)
class OutboxOverview:
    pending: int
    sending: int
    failed: int
    sent_last_day: int
    oldest_pending: datetime | None
    failed_messages: list[FailedMessage]


def overview(session: Session, *, now: datetime, limit: int = 100) -> OutboxOverview:
    depth = queue_depth(session)
    sent_last_day = session.scalar(
        select(func.count()).where(
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_at >= now - timedelta(days=1),
        )
    )
    rows = session.execute(
        select(
            OutboxMessage.token,
            OutboxMessage.kind,
            AppointmentRequest.reference,
            OutboxMessage.attempts,
            OutboxMessage.failed_at,
            OutboxMessage.last_error,
            OutboxMessage.recipient,
        )
        .outerjoin(AppointmentRequest, AppointmentRequest.id == OutboxMessage.request_id)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    ).all()
    return OutboxOverview(
        pending=depth.counts.get(OutboxStatus.PENDING, 0),
        sending=depth.counts.get(OutboxStatus.SENDING, 0),
        failed=depth.counts.get(OutboxStatus.FAILED, 0),
        sent_last_day=sent_last_day or 0,
        oldest_pending=depth.oldest_pending,
        failed_messages=[
            FailedMessage(
                token=r.token,
                kind=MessageKind(r.kind),
                reference=r.reference,
                attempts=r.attempts,
                failed_at=r.failed_at,
                reason=r.last_error,
                can_send_again=r.recipient is not None,
            )
            for r in rows
        ],
    )


@dataclass(frozen=True)
class QueueDepth:
    counts: dict[OutboxStatus, int]
    oldest_pending: datetime | None

    def waited_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_pending).total_seconds()) if self.oldest_pending else 0.0


def queue_depth(session: Session) -> QueueDepth:
    """Messages not sent, by status, and when the oldest waiting one was queued (the
    metrics read it at every scrape, the admins' outbox page too). Sent messages are not
    counted: there are many, and the status index makes skipping them cheap."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.status != OutboxStatus.SENT)
            .group_by(OutboxMessage.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING
        )
    )
    return QueueDepth(counts=counts, oldest_pending=oldest)


def send_again(session: Session, *, token: str, actor: Actor, now: datetime) -> FailedMessage:
    """Put a failed message back in the queue with a fresh count of tries (same token,
    so the same Message-ID), on the audit trail. Raises MessageNotFound when there is no
    such failed message or its address was already removed."""
    changed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.token == token,
            OutboxMessage.status == OutboxStatus.FAILED,
            OutboxMessage.recipient.is_not(None),
        )
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            failed_at=None,
            last_error=None,
        )
        .returning(OutboxMessage.kind, OutboxMessage.request_id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        raise MessageNotFound(token)
    reference = (
        session.scalar(
            select(AppointmentRequest.reference).where(AppointmentRequest.id == changed.request_id)
        )
        if changed.request_id
        else None
    )
    kind = MessageKind(changed.kind)
    trail.record(
        session,
        action=AuditAction.OUTBOX_SEND_AGAIN,
        actor=actor,
        detail=kind.label,
        to_value=reference,
    )
    return FailedMessage(
        token=token,
        kind=kind,
        reference=reference,
        attempts=0,
        failed_at=None,
        reason=None,
        can_send_again=False,
    )
