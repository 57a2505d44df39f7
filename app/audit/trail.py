"""The audit trail: who did what, when, to which request. Append-only.

Nothing here copies patient data: entries name the request by its id (shown as its
reference) and say what changed, never what the person wrote or who they are.

Every entry, once its transaction commits, is also one JSON log line (logger
``intake.audit``, message ``audit entry``) with its id, action and chain hash: the
trail's anchor outside the table. The logs leave the host; whoever can change the table
cannot change them, so `flask audit verify --anchor <log>` notices newest entries cut
off, or a table emptied, which the chain alone cannot (chain.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.audit import chain
from app.audit.security_events import SECURITY_EVENTS, SIGN_IN_OUTCOMES
from app.common import metrics
from app.common.actor import Actor
from app.models import AppointmentRequest, AuditEvent, RequestEvent, StaffUser
from app.vocabulary import AuditAction, RequestStatus, ScanStatus, StaffRole

security_log = logging.getLogger("intake.security")
anchor_log = logging.getLogger("intake.audit")
# The entries a session has written in its open transaction: logged when it commits.
_UNCOMMITTED = "audit_entries_uncommitted"


class AppendOnlyError(RuntimeError):
    """Someone tried to change or delete an audit or history entry."""


def _refuse_change(_mapper, _connection, target) -> None:
    raise AppendOnlyError(f"{type(target).__name__} entries cannot be changed or deleted")


# Declared with the models they guard, like a constraint: the ORM refuses to update or
# delete an entry of the audit trail or of a request's history.
for _model in (AuditEvent, RequestEvent):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


@event.listens_for(Session, "after_commit")
def _log_anchors(session: Session) -> None:
    """Each committed entry's id and hash to the log: only once committed, so a line
    never names an entry a rollback took back."""
    for audit_id, row_hash, action in session.info.pop(_UNCOMMITTED, ()):
        anchor_log.info(
            "audit entry", extra={"audit_id": audit_id, "row_hash": row_hash, "event": action}
        )


@event.listens_for(Session, "after_rollback")
def _forget_anchors(session: Session) -> None:
    session.info.pop(_UNCOMMITTED, None)


PAGE_SIZE = 100


def record(
    session: Session,
    *,
    action: AuditAction,
    actor: Actor | None = None,
    staff_id: int | None = None,
    actor_email: str | None = None,
    request_id: int | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    detail: str | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append an entry to the trail, chained to the one before it. ``actor`` gives the
    staff id and address of a signed-in person; the sign-in pages, where there is nobody
    yet, pass them one by one.

    On SQLite, call this in a transaction that began with BEGIN IMMEDIATE or has already
    written (a POST's), or with no transaction open: then this one begins as a write
    transaction, so reading the last entry and adding the next cannot interleave with
    another worker's. (A GET's own read transaction must be committed first; see
    ``record_after_reading`` in ``app/transactions.py``.)"""
    if actor is not None:
        staff_id, client_ip = actor.staff_id, actor.client_ip
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_write": True})
    started = time.perf_counter()
    chain.lock_chain(session)
    event = AuditEvent(
        occurred_at=now or datetime.now(UTC),
        action=action.value,
        staff_id=staff_id,
        actor_email=actor_email,
        request_id=request_id,
        from_value=from_value,
        to_value=to_value,
        detail=detail[:255] if detail else None,
        client_ip=client_ip[:45] if client_ip else None,
    )
    # Also flags every entry made by a break-glass account, whoever calls this.
    chain.seal(session, event)
    session.add(event)
    session.flush()
    session.info.setdefault(_UNCOMMITTED, []).append((event.id, event.row_hash, action.value))
    metrics.AUDIT_APPEND_SECONDS.observe(time.perf_counter() - started)
    if action in SIGN_IN_OUTCOMES:
        metrics.count_sign_in(session, SIGN_IN_OUTCOMES[action])
    if action.value in SECURITY_EVENTS:
        # Security events also go to the JSON log, for the log shipper's alerts. Only
        # these fields: never a password, code or secret (nothing here ever holds one),
        # and not the email typed at a failed sign-in.
        security_log.info(
            "security event",
            extra={
                "event": action.value,
                "staff_id": staff_id,
                "detail": event.detail,
                "client_ip": event.client_ip,
            },
        )
    return event


def record_account_change(
    session: Session,
    *,
    action: AuditAction,
    account: StaffUser,
    actor: Actor | None,
    via: str | None,
    to_value: str | None = None,
) -> AuditEvent:
    """The one way an account change (made with the CLI or an admin page) is recorded:
    who changed it (a staff member, or nobody signed in: the command line), which account,
    how (``via``: None for the staff pages, where the entry's staff member says who), and
    the new value where there is one (a role, say)."""
    return record(
        session,
        action=action,
        actor=actor,
        to_value=to_value,
        detail=f"account {account.email}" + (f" via {via}" if via else ""),
    )


def filters_detail(session: Session, *, filters) -> str:
    """The queue's filters as an audit detail; the search text as a keyed hash only (it
    may be a patient's name): an admin can hash a name to ask "who searched for it?"."""
    text = (
        f"status={filters.status} referral={filters.referral} claim={filters.claim} "
        f"interpreter={filters.interpreter}"
    )
    if filters.search:
        digest = chain.keyed_digest(session, purpose="queue search", value=filters.search)
        text += f" search={digest}"
    return text


def record_queue_view(
    session: Session, *, actor: Actor, filters, after: int | None, rows: int
) -> AuditEvent:
    """A queue page's entry: a page shows up to 50 patients' names."""
    return record(
        session,
        action=AuditAction.QUEUE_SEARCH if filters.search else AuditAction.QUEUE_VIEW,
        actor=actor,
        to_value=f"{rows} rows",
        detail=filters_detail(session, filters=filters) + (f" after={after}" if after else ""),
    )


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    id: int
    occurred_at: datetime
    staff_name: str | None
    actor_email: str | None
    action: str
    reference: str | None
    from_value: str | None
    to_value: str | None
    detail: str | None
    client_ip: str | None
    emergency: bool = False

    @property
    def action_label(self) -> str:
        return AuditAction.label_for(self.action) or self.action

    @property
    def from_label(self) -> str:
        return value_label(self.from_value)

    @property
    def to_label(self) -> str:
        return value_label(self.to_value)


# The coded values an entry's "from" and "to" hold (a request's status, an account's
# role, a document's scan), read by staff as their labels: "In progress", not
# "in_progress". Anything else ("12 rows") is shown as written.
_VALUE_VOCABULARIES = (RequestStatus, StaffRole, ScanStatus)


def value_label(value: str | None) -> str:
    if value is None:
        return ""
    for vocabulary in _VALUE_VOCABULARIES:
        label = vocabulary.label_for(value)
        if label:
            return label
    return value


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    next_before: int | None


def audit_page(
    session: Session,
    *,
    staff_id: int | None = None,
    reference: str | None = None,
    before: int | None = None,
    emergency_only: bool = False,
    searched_for: str | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """Newest first, keyset-paginated on the id."""
    query = (
        select(
            AuditEvent.id,
            AuditEvent.occurred_at,
            StaffUser.name,
            AuditEvent.actor_email,
            AuditEvent.action,
            AppointmentRequest.reference,
            AuditEvent.from_value,
            AuditEvent.to_value,
            AuditEvent.detail,
            AuditEvent.client_ip,
            AuditEvent.emergency,
        )
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .outerjoin(AppointmentRequest, AppointmentRequest.id == AuditEvent.request_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit + 1)
    )
    if staff_id is not None:
        query = query.where(AuditEvent.staff_id == staff_id)
    if reference is not None:
        query = query.where(AppointmentRequest.reference == reference)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if emergency_only:
        query = query.where(AuditEvent.emergency.is_(True))
    if searched_for:
        # Searches are kept as keyed hashes: hash the question the same way.
        digest = chain.keyed_digest(session, purpose="queue search", value=searched_for)
        query = query.where(AuditEvent.detail.like(f"% search={digest}%"))
    rows = [
        AuditRow(
            id=r[0],
            occurred_at=r[1],
            staff_name=r[2],
            actor_email=r[3],
            action=r[4],
            reference=r[5],
            from_value=r[6],
            to_value=r[7],
            detail=r[8],
            client_ip=r[9],
            emergency=bool(r[10]),
        )
        for r in session.execute(query)
    ]
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage(rows[:limit], next_before)


def staff_members(session: Session) -> list[tuple[int, str]]:
    """Everyone the trail can be filtered by, as (id, "Name (email)"), by name."""
    rows = session.execute(
        select(StaffUser.id, StaffUser.name, StaffUser.email).order_by(StaffUser.name)
    )
    return [(staff_id, f"{name} ({email})") for staff_id, name, email in rows]
