"""Working a request: reading it, claiming and releasing it, moving its status, notes.

Claims and status moves are single conditional UPDATEs: the database decides who wins
when two people act at once, and the loser is told what happened instead.
Every change writes a history event (shown on the request) and an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app.models import AppointmentRequest, RequestEvent, StaffUser
from app.request_fields import Section, StaffRow, staff_rows
from app.vocabulary import AuditAction, CloseReason, EventKind, RequestStatus

from . import audit
from .actor import Actor
from .errors import NotFound, Refused
from .intake_queue import add_business_days, as_utc, is_overdue

NOTE_MAX = 2000
DUPLICATES_SHOWN = 20

# Requests that can still be claimed, worked and closed.
WORKABLE = (RequestStatus.NEW, RequestStatus.IN_PROGRESS, RequestStatus.CONTACTED)

# Allowed moves, other than closing (allowed from every workable status).
FORWARD: dict[RequestStatus, RequestStatus] = {
    RequestStatus.IN_PROGRESS: RequestStatus.CONTACTED,
    RequestStatus.CONTACTED: RequestStatus.SCHEDULED,
}


CLOSE_REASON_MISSING = "Choose why the request is being closed"

# The names these errors had before app/services/errors.py; the same classes.
WorkRefused = Refused
RequestNotFound = NotFound


@dataclass(frozen=True)
class Duplicate:
    reference: str
    first_name: str
    last_name: str
    submitted_at: datetime
    status: RequestStatus
    reasons: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class RequestPage:
    """Everything the request page shows, for the person looking at it: the page asks
    this, never the rules themselves."""

    request: AppointmentRequest
    history: list[RequestEvent]
    duplicates: list[Duplicate]
    answers: dict[str, list[StaffRow]]  # the patient's answers, by section
    submitted_at: datetime
    reply_due: datetime
    overdue: bool
    can_claim: bool
    can_release: bool
    moves: list[RequestStatus]  # where the status may go next (empty: nowhere)
    can_export: bool  # download it for the health record (FHIR): admins only

    @property
    def reference(self) -> str:
        return self.request.reference


def find_request(session: Session, *, reference: str) -> AppointmentRequest:
    row = session.scalar(
        select(AppointmentRequest)
        .options(joinedload(AppointmentRequest.referral), joinedload(AppointmentRequest.claimed_by))
        .where(AppointmentRequest.reference == reference)
    )
    if row is None:
        raise RequestNotFound(reference)
    return row


def request_page(
    session: Session, *, reference: str, actor: Actor, now: datetime, reply_days: int
) -> RequestPage:
    """The request with its referral, claimer, history and possible duplicates (four
    queries however long the history is), and what ``actor`` may do with it."""
    row = find_request(session, reference=reference)
    submitted_at = as_utc(row.submitted_at)
    return RequestPage(
        request=row,
        history=history(session, request_id=row.id),
        duplicates=duplicates(session, row=row),
        answers={section.value: list(staff_rows(row, section)) for section in Section},
        submitted_at=submitted_at,
        reply_due=add_business_days(submitted_at, reply_days),
        overdue=is_overdue(submitted_at=submitted_at, status=row.status, now=now, days=reply_days),
        can_claim=row.claimed_by_id is None and row.status in WORKABLE,
        can_release=row.claimed_by_id is not None
        and (row.claimed_by_id == actor.staff_id or actor.is_admin),
        moves=allowed_moves(row.status),
        can_export=actor.is_admin,
    )


def history(session: Session, *, request_id: int) -> list[RequestEvent]:
    return list(
        session.scalars(
            select(RequestEvent)
            .options(joinedload(RequestEvent.staff))
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
    )


def duplicates(session: Session, *, row: AppointmentRequest) -> list[Duplicate]:
    """Other requests with the same date of birth and last name, or the same email or phone."""
    ar = AppointmentRequest
    same_person = (ar.date_of_birth == row.date_of_birth) & (
        func.lower(ar.last_name) == row.last_name.lower()
    )
    conditions = [ar.email == row.email, ar.phone == row.phone]
    if row.date_of_birth is not None:
        conditions.append(same_person)
    found = session.execute(
        select(
            ar.reference,
            ar.first_name,
            ar.last_name,
            ar.submitted_at,
            ar.status,
            ar.date_of_birth,
            ar.email,
            ar.phone,
        )
        .where(ar.id != row.id, ar.purged_at.is_(None), or_(*conditions))
        .order_by(ar.submitted_at.desc(), ar.id.desc())
        .limit(DUPLICATES_SHOWN)
    )
    result = []
    for ref, first, last, submitted, status, dob, email, phone in found:
        reasons = []
        if dob is not None and dob == row.date_of_birth and last.lower() == row.last_name.lower():
            reasons.append("same date of birth and last name")
        if email == row.email:
            reasons.append("same email")
        if phone == row.phone:
            reasons.append("same phone")
        result.append(Duplicate(ref, first, last, submitted, RequestStatus(status), tuple(reasons)))
    return result


def record_view(session: Session, *, page: RequestPage, actor: Actor) -> None:
    audit.record(session, action=AuditAction.VIEW_REQUEST, actor=actor, request_id=page.request.id)


def _request_id(session: Session, reference: str) -> int:
    request_id = session.scalar(
        select(AppointmentRequest.id).where(AppointmentRequest.reference == reference)
    )
    if request_id is None:
        raise NotFound(reference)
    return request_id


def _current(session: Session, request_id: int) -> tuple[RequestStatus, int | None, str | None]:
    status, claimed_by_id, name = session.execute(
        select(AppointmentRequest.status, AppointmentRequest.claimed_by_id, StaffUser.name)
        .outerjoin(StaffUser, StaffUser.id == AppointmentRequest.claimed_by_id)
        .where(AppointmentRequest.id == request_id)
    ).one()
    return RequestStatus(status), claimed_by_id, name


def claim(session: Session, *, reference: str, actor: Actor, now: datetime) -> None:
    request_id = _request_id(session, reference)
    ar = AppointmentRequest
    result = session.execute(
        update(ar)
        .where(ar.id == request_id, ar.claimed_by_id.is_(None), ar.status.in_(WORKABLE))
        .values(
            claimed_by_id=actor.staff_id,
            claimed_at=now,
            status=_claimed_status(),
        )
        .execution_options(synchronize_session=False)
    )
    status, claimed_by_id, name = _current(session, request_id)
    if result.rowcount != 1:
        if claimed_by_id == actor.staff_id:
            raise Refused("You have already claimed this request.")
        if claimed_by_id is not None:
            raise Refused(f"{name} has already claimed this request.")
        raise Refused(f"A {status.label.lower()} request cannot be claimed.")
    _event(session, request_id, actor, EventKind.CLAIM, to_status=status)
    audit.record(session, action=AuditAction.CLAIM, actor=actor, request_id=request_id)


def _claimed_status():
    ar = AppointmentRequest
    return case(
        (ar.status == RequestStatus.NEW.value, RequestStatus.IN_PROGRESS.value),
        else_=ar.status,
    )


def release(session: Session, *, reference: str, actor: Actor) -> None:
    """The claimer (or an admin) hands the request back to the queue."""
    request_id = _request_id(session, reference)
    ar = AppointmentRequest
    query = update(ar).where(ar.id == request_id, ar.claimed_by_id.is_not(None))
    if not actor.is_admin:
        query = query.where(ar.claimed_by_id == actor.staff_id)
    result = session.execute(
        query.values(
            claimed_by_id=None,
            claimed_at=None,
            # Claimed but not yet contacted: back to new, as if never picked up.
            status=_released_status(),
        ).execution_options(synchronize_session=False)
    )
    status, claimed_by_id, name = _current(session, request_id)
    if result.rowcount != 1:
        if claimed_by_id is None:
            raise Refused("Nobody has claimed this request.")
        raise Refused(f"Only {name} or an admin can release this request.")
    _event(session, request_id, actor, EventKind.RELEASE, to_status=status)
    audit.record(session, action=AuditAction.RELEASE, actor=actor, request_id=request_id)


def _released_status():
    ar = AppointmentRequest
    return case(
        (ar.status == RequestStatus.IN_PROGRESS.value, RequestStatus.NEW.value),
        else_=ar.status,
    )


def allowed_moves(status: RequestStatus) -> list[RequestStatus]:
    moves = [FORWARD[status]] if status in FORWARD else []
    if status in WORKABLE:
        moves.append(RequestStatus.CLOSED)
    return moves


def needs_close_reason(to_status: str | None) -> bool:
    """Closing needs a reason; no other move takes one. The status form asks this too."""
    return to_status == RequestStatus.CLOSED


def change_status(
    session: Session,
    *,
    reference: str,
    actor: Actor,
    to_status: RequestStatus,
    close_reason: CloseReason | None,
    note: str | None,
    now: datetime,
) -> None:
    """Move the request on. Only its claimer may, except that an unclaimed request may be
    closed (an obvious duplicate need not be claimed first)."""
    request_id = _request_id(session, reference)
    status, claimed_by_id, name = _current(session, request_id)
    if claimed_by_id is not None and claimed_by_id != actor.staff_id:
        raise Refused(f"{name} has claimed this request; only they can change its status.")
    if to_status not in allowed_moves(status):
        raise Refused(
            f"A request that is {status.label.lower()} cannot be moved to "
            f"{to_status.label.lower()}."
        )
    if to_status != RequestStatus.CLOSED and claimed_by_id is None:
        raise Refused("Claim the request before you change its status.")
    if not needs_close_reason(to_status):
        close_reason = None
    elif close_reason is None:
        raise Refused(f"{CLOSE_REASON_MISSING}.")

    ar = AppointmentRequest
    values: dict = {"status": to_status}
    if to_status == RequestStatus.CLOSED:
        values.update(closed_reason=close_reason, closed_at=now)
    claim_condition = (
        ar.claimed_by_id.is_(None) if claimed_by_id is None else ar.claimed_by_id == actor.staff_id
    )
    result = session.execute(
        update(ar)
        .where(ar.id == request_id, ar.status == status, claim_condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused("Someone changed this request a moment ago. Check it and try again.")
    reason_value = (
        close_reason.value if to_status == RequestStatus.CLOSED and close_reason else None
    )
    _event(
        session,
        request_id,
        actor,
        EventKind.STATUS,
        from_status=status,
        to_status=to_status,
        close_reason=reason_value,
        note=note or None,
    )
    audit.record(
        session,
        action=AuditAction.STATUS_CHANGE,
        actor=actor,
        request_id=request_id,
        from_value=status.value,
        to_value=to_status.value,
        detail=f"reason: {reason_value}" if reason_value else None,
    )


def add_note(session: Session, *, reference: str, actor: Actor, note: str) -> None:
    request_id = _request_id(session, reference)
    event = _event(session, request_id, actor, EventKind.NOTE, note=note)
    # The audit trail says a note was written, not what it says.
    audit.record(
        session,
        action=AuditAction.NOTE,
        actor=actor,
        request_id=request_id,
        detail=f"history event {event.id}",
    )


def _event(
    session: Session,
    request_id: int,
    actor: Actor,
    kind: EventKind,
    *,
    from_status: RequestStatus | None = None,
    to_status: RequestStatus | None = None,
    close_reason: str | None = None,
    note: str | None = None,
) -> RequestEvent:
    event = RequestEvent(
        request_id=request_id,
        staff_id=actor.staff_id,
        kind=kind.value,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        close_reason=close_reason,
        note=note,
    )
    session.add(event)
    session.flush()
    return event
