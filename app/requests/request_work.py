"""Working a request: reading it, claiming and releasing it, moving its status, notes.

Claims and status moves are single conditional UPDATEs: the database decides who wins
when two people act at once, and the loser is told what happened instead.
Every change writes a history event (shown on the request) and an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, joinedload

from app.audit import trail
from app.common.actor import Actor
from app.common.errors import NotFound, Refused
from app.models import AppointmentRequest, RecordsRelease, RequestEvent, StaffUser
from app.records import documents, releases
from app.records.documents import DocumentRow
from app.requests import overdue, patient_page
from app.requests.business_clock import BusinessClock
from app.requests.fields import Section, StaffRow, staff_rows
from app.requests.intake_queue import (
    InterpreterFilter,
    ReferralFilter,
    where_interpreter,
    where_referral,
)
from app.vocabulary import (
    AWAITING_FIRST_CONTACT,
    NOT_CLOSED,
    AuditAction,
    CloseReason,
    EventKind,
    RequestStatus,
)

NOTE_MAX = 2000
DUPLICATES_SHOWN = 20

S = RequestStatus
# Where a request may go from each status, other than closing (allowed from every
# workable status). Contacted and scheduled may be chosen again: a new callback time, a
# new appointment date.
FORWARD: dict[RequestStatus, tuple[RequestStatus, ...]] = {
    S.IN_PROGRESS: (S.CONTACTED, S.SCHEDULED),
    S.CONTACTED: (S.CONTACTED, S.AWAITING_RECORDS, S.SCHEDULED),
    S.AWAITING_RECORDS: (S.CONTACTED, S.SCHEDULED),
    S.SCHEDULED: (S.CONTACTED, S.SCHEDULED),
}
# Moves that mean somebody reached the patient (the first one is the access metric).
CONTACT = (S.CONTACTED, S.AWAITING_RECORDS, S.SCHEDULED)

CLOSE_REASON_MISSING = "Choose why the request is being closed"
APPOINTMENT_MISSING = "Enter the appointment date"
REOPEN_REASON_MISSING = "Write why the request is being reopened"
# How many held requests "My work" lists (the page says when there are more).
MY_WORK_SHOWN = 200
# The unclaimed-and-not-closed condition, written as the partial index's predicate so
# both databases can use ix_appointment_requests_unclaimed.
_UNCLAIMED = text(
    "appointment_requests.claimed_by_id IS NULL AND appointment_requests.status <> 'closed'"
)


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
    can_reopen: bool
    moves: list[RequestStatus]  # where the status may go next (empty: nowhere)
    can_export: bool  # download it for the health record (FHIR): admins only
    # What the person sent or changed on their private page (issue 29).
    documents: list[DocumentRow]
    releases: list[RecordsRelease]
    contact_changed: bool  # since staff last pressed "Mark as seen"
    new_documents: bool

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
        raise NotFound(reference)
    return row


def request_page(session: Session, *, reference: str, actor: Actor, now: datetime) -> RequestPage:
    """The request with its referral, claimer, history and possible duplicates (four
    queries however long the history is), and what ``actor`` may do with it."""
    row = find_request(session, reference=reference)
    contact_changed, new_documents = patient_page.news_of(row)
    return RequestPage(
        request=row,
        history=history(session, request_id=row.id),
        duplicates=duplicates(session, row=row),
        answers={section.value: list(staff_rows(row, section)) for section in Section},
        submitted_at=row.submitted_at,
        reply_due=row.reply_due_at,
        overdue=overdue.is_overdue(status=row.status, reply_due_at=row.reply_due_at, now=now),
        can_claim=row.claimed_by_id is None and row.status in NOT_CLOSED,
        can_release=row.claimed_by_id is not None
        and (row.claimed_by_id == actor.staff_id or actor.is_admin),
        can_reopen=row.status == RequestStatus.CLOSED and actor.is_admin,
        moves=_moves_for(row, actor),
        can_export=actor.is_admin,
        documents=documents.documents_of(session, request_id=row.id),
        releases=releases.releases_of(session, request_id=row.id),
        contact_changed=contact_changed,
        new_documents=new_documents,
    )


def _moves_for(row: AppointmentRequest, actor: Actor) -> list[RequestStatus]:
    """What the page offers: the claimer every allowed move; anyone, closing an unclaimed
    request; nobody else anything (only the claimer moves a claimed request)."""
    if row.claimed_by_id == actor.staff_id:
        return allowed_moves(row.status)
    if row.claimed_by_id is None and row.status in NOT_CLOSED:
        return [RequestStatus.CLOSED]
    return []


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
    """Other requests that may be the same person's, newest first, each with why it
    matched: the database says which of the rules each one meets (one query)."""
    rules = _same_person(row)
    if not rules:
        return []
    ar = AppointmentRequest
    found = session.execute(
        select(
            ar.reference,
            ar.first_name,
            ar.last_name,
            ar.submitted_at,
            ar.status,
            *(condition.label(f"rule_{n}") for n, (_, condition) in enumerate(rules)),
        )
        .where(ar.id != row.id, ar.purged_at.is_(None), or_(*(c for _, c in rules)))
        .order_by(ar.submitted_at.desc(), ar.id.desc())
        .limit(DUPLICATES_SHOWN)
    )
    return [
        Duplicate(
            ref,
            first,
            last,
            submitted,
            RequestStatus(status),
            tuple(reason for (reason, _), met in zip(rules, matched, strict=True) if met),
        )
        for ref, first, last, submitted, status, *matched in found
    ]


def _same_person(row: AppointmentRequest) -> list[tuple[str, ColumnElement[bool]]]:
    """What identifies a person, as (why, condition) pairs: the same name and date of
    birth, the same phone, or the same e-mail. A missing answer matches nothing: two
    requests without an e-mail are not the same person's (each is matched by an index:
    the names' lower(), date of birth, phone, e-mail)."""
    ar = AppointmentRequest
    rules: list[tuple[str, ColumnElement[bool]]] = []
    if row.date_of_birth is not None and row.first_name and row.last_name:
        rules.append(
            (
                "same name and date of birth",
                and_(
                    ar.date_of_birth == row.date_of_birth,
                    # lower() on both sides, by the database: SQLite folds ASCII only.
                    func.lower(ar.last_name) == func.lower(literal(row.last_name)),
                    func.lower(ar.first_name) == func.lower(literal(row.first_name)),
                ),
            )
        )
    if row.phone:
        rules.append(("same phone", ar.phone == row.phone))
    if row.email:
        rules.append(("same email", ar.email == row.email))
    return rules


def record_view(session: Session, *, page: RequestPage, actor: Actor) -> None:
    trail.record(session, action=AuditAction.VIEW_REQUEST, actor=actor, request_id=page.request.id)


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
        .where(ar.id == request_id, ar.claimed_by_id.is_(None), ar.status.in_(NOT_CLOSED))
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
    trail.record(session, action=AuditAction.CLAIM, actor=actor, request_id=request_id)


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
    trail.record(session, action=AuditAction.RELEASE, actor=actor, request_id=request_id)


def _released_status():
    ar = AppointmentRequest
    return case(
        (ar.status == RequestStatus.IN_PROGRESS.value, RequestStatus.NEW.value),
        else_=ar.status,
    )


def allowed_moves(status: RequestStatus) -> list[RequestStatus]:
    moves = list(FORWARD.get(status, ()))
    if status in NOT_CLOSED:
        moves.append(RequestStatus.CLOSED)
    return moves


def needs_close_reason(to_status: str | None) -> bool:
    """Closing needs a reason; no other move takes one. The status form asks this too."""
    return to_status == RequestStatus.CLOSED


@dataclass(frozen=True)
class Move:
    """A status move as it will be stored: only what the new status takes is kept (a
    callback for contacted, a date for scheduled, a reason for closed)."""

    to_status: RequestStatus
    close_reason: CloseReason | None = None
    callback_at: datetime | None = None
    appointment_on: date | None = None


def change_status(
    session: Session,
    *,
    reference: str,
    actor: Actor,
    to_status: RequestStatus,
    close_reason: CloseReason | None,
    note: str | None,
    now: datetime,
    callback_at: datetime | None = None,
    appointment_on: date | None = None,
    clock: BusinessClock | None = None,
) -> None:
    """Move the request on. Only its claimer may, except that an unclaimed request may be
    closed (an obvious duplicate need not be claimed first). Contacted takes an optional
    callback time, scheduled an appointment date, closed a reason."""
    clock = clock or BusinessClock()
    request_id = _request_id(session, reference)
    status, claimed_by_id, name = _current(session, request_id)
    _check_may_move(status, to_status, claimed_by_id=claimed_by_id, name=name, actor=actor)
    move = _move(to_status, close_reason, callback_at, appointment_on, now=now, clock=clock)
    ar = AppointmentRequest
    claim_condition = (
        ar.claimed_by_id.is_(None) if claimed_by_id is None else ar.claimed_by_id == actor.staff_id
    )
    result = session.execute(
        update(ar)
        .where(ar.id == request_id, ar.status == status, claim_condition)
        .values(**_stored_values(session, request_id, move, now=now, clock=clock))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused("Someone changed this request a moment ago. Check it and try again.")
    reason_value = move.close_reason.value if move.close_reason else None
    _event(
        session,
        request_id,
        actor,
        EventKind.STATUS,
        from_status=status,
        to_status=to_status,
        close_reason=reason_value,
        note=note or None,
        callback_at=move.callback_at,
        appointment_on=move.appointment_on,
    )
    trail.record(
        session,
        action=AuditAction.STATUS_CHANGE,
        actor=actor,
        request_id=request_id,
        from_value=status.value,
        to_value=to_status.value,
        detail=f"reason: {reason_value}" if reason_value else None,
    )


def _check_may_move(
    status: RequestStatus,
    to_status: RequestStatus,
    *,
    claimed_by_id: int | None,
    name: str | None,
    actor: Actor,
) -> None:
    if claimed_by_id is not None and claimed_by_id != actor.staff_id:
        raise Refused(f"{name} has claimed this request; only they can change its status.")
    if to_status not in allowed_moves(status):
        raise Refused(
            f"A request that is {status.label.lower()} cannot be moved to "
            f"{to_status.label.lower()}."
        )
    if to_status != RequestStatus.CLOSED and claimed_by_id is None:
        raise Refused("Claim the request before you change its status.")


def _move(
    to_status: RequestStatus,
    close_reason: CloseReason | None,
    callback_at: datetime | None,
    appointment_on: date | None,
    *,
    now: datetime,
    clock: BusinessClock,
) -> Move:
    """What the move stores, checked: each detail only for the status that takes it."""
    if to_status == RequestStatus.CLOSED:
        if close_reason is None:
            raise Refused(f"{CLOSE_REASON_MISSING}.")
        return Move(to_status, close_reason=close_reason)
    if to_status == RequestStatus.CONTACTED:
        if callback_at is not None and callback_at <= now:
            raise Refused("Choose a callback time later than now.")
        return Move(to_status, callback_at=callback_at)
    if to_status == RequestStatus.SCHEDULED:
        if appointment_on is None:
            raise Refused(f"{APPOINTMENT_MISSING}.")
        if appointment_on < clock.today(now):
            raise Refused("The appointment date has passed: enter the date it is booked for.")
        return Move(to_status, appointment_on=appointment_on)
    return Move(to_status)


def _stored_values(
    session: Session, request_id: int, move: Move, *, now: datetime, clock: BusinessClock
) -> dict:
    """The columns the move sets: the status and its details, and for the first move that
    reaches the patient, when and how many business minutes after it arrived (the access
    metric). A move to anything but contacted clears a callback set before."""
    values: dict = {"status": move.to_status, "callback_at": move.callback_at}
    if move.to_status == RequestStatus.SCHEDULED:
        values["appointment_on"] = move.appointment_on
    if move.to_status == RequestStatus.CLOSED:
        values.update(closed_reason=move.close_reason, closed_at=now)
    if move.to_status in CONTACT:
        ar = AppointmentRequest
        submitted_at, first_contact_at = session.execute(
            select(ar.submitted_at, ar.first_contact_at).where(ar.id == request_id)
        ).one()
        if first_contact_at is None:
            waited = clock.business_time_between(submitted_at, now)
            values.update(
                first_contact_at=now, contact_business_minutes=int(waited.total_seconds() // 60)
            )
    return values


def reopen(session: Session, *, reference: str, actor: Actor, reason: str) -> None:
    """An admin brings a closed request back: to contacted if someone had reached the
    patient, else to in progress (claimed) or new. The reason goes in the history."""
    if not actor.is_admin:
        raise Refused("Only an admin can reopen a request.")
    if not reason.strip():
        raise Refused(f"{REOPEN_REASON_MISSING}.")
    request_id = _request_id(session, reference)
    ar = AppointmentRequest
    back_to = case(
        (ar.first_contact_at.is_not(None), RequestStatus.CONTACTED.value),
        (ar.claimed_by_id.is_not(None), RequestStatus.IN_PROGRESS.value),
        else_=RequestStatus.NEW.value,
    )
    result = session.execute(
        update(ar)
        .where(ar.id == request_id, ar.status == RequestStatus.CLOSED)
        .values(status=back_to, closed_reason=None, closed_at=None)
        .execution_options(synchronize_session=False)
    )
    status, _claimed_by_id, _name = _current(session, request_id)
    if result.rowcount != 1:
        raise Refused(f"Only a closed request can be reopened; this one is {status.label.lower()}.")
    _event(
        session,
        request_id,
        actor,
        EventKind.REOPEN,
        from_status=RequestStatus.CLOSED,
        to_status=status,
        note=reason.strip(),
    )
    trail.record(
        session,
        action=AuditAction.REOPEN,
        actor=actor,
        request_id=request_id,
        from_value=RequestStatus.CLOSED.value,
        to_value=status.value,
    )


def take_next(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    referral: ReferralFilter = ReferralFilter.ANY,
    interpreter: InterpreterFilter = InterpreterFilter.ANY,
) -> str | None:
    """Claim the oldest unclaimed request that needs action and return its reference
    (None when there is none).

    Two people pressing at once get different requests: on PostgreSQL the look-up locks
    the row it finds and skips rows another transaction has locked (FOR UPDATE SKIP
    LOCKED); on SQLite the POST's transaction began with BEGIN IMMEDIATE, so writers take
    turns. Either way the claim is a conditional UPDATE, and a lost race tries the next.
    """
    ar = AppointmentRequest
    query = select(ar.id, ar.reference).where(_UNCLAIMED)
    query = where_interpreter(where_referral(query, referral), interpreter)
    query = query.order_by(ar.submitted_at, ar.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=ar)
    for _ in range(5):
        found = session.execute(query).first()
        if found is None:
            return None
        request_id, found_reference = found
        result = session.execute(
            update(ar)
            .where(ar.id == request_id, _UNCLAIMED)
            .values(claimed_by_id=actor.staff_id, claimed_at=now, status=_claimed_status())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            status, _claimed_by_id, _name = _current(session, request_id)
            _event(session, request_id, actor, EventKind.CLAIM, to_status=status)
            # A claim like any other, saying it came from "Take the next request".
            trail.record(
                session,
                action=AuditAction.CLAIM,
                actor=actor,
                request_id=request_id,
                detail=f"take next: referral={referral} interpreter={interpreter}",
            )
            return found_reference
    return None


@dataclass(frozen=True, kw_only=True)
class WorkRow:
    reference: str
    first_name: str
    last_name: str
    phone: str
    status: RequestStatus
    submitted_at: datetime
    due_at: datetime | None  # the callback, or the reply promise before first contact
    due_kind: str  # "callback", "reply" or "" (nothing timed)
    appointment_on: date | None
    interpreter_needed: bool
    # Its due time (the callback, or the reply promise) has passed. Not "overdue", which
    # is the reply promise alone (app/requests/overdue.py): a late callback is past due.
    past_due: bool
    due_today: bool  # due on the center's today (overdue or not)


@dataclass(frozen=True)
class MyWork:
    rows: list[WorkRow]
    more: bool  # there are more than MY_WORK_SHOWN


def my_work(
    session: Session, *, staff_id: int, now: datetime, clock: BusinessClock | None = None
) -> MyWork:
    """Everything ``staff_id`` holds that is not closed, what is due next first: callbacks
    and reply promises by time (so overdue and today's come first), then appointments by
    date, then the rest oldest first. One query."""
    ar = AppointmentRequest
    callback_statuses = (RequestStatus.CONTACTED, RequestStatus.AWAITING_RECORDS)
    due = case(
        (ar.status.in_(callback_statuses) & ar.callback_at.is_not(None), ar.callback_at),
        (ar.status.in_(AWAITING_FIRST_CONTACT), ar.reply_due_at),
        else_=None,
    ).label("due_at")
    rows = session.execute(
        select(
            ar.reference,
            ar.first_name,
            ar.last_name,
            ar.phone,
            ar.status,
            ar.submitted_at,
            due,
            ar.appointment_on,
            ar.interpreter_needed,
        )
        .where(ar.claimed_by_id == staff_id, ar.status != RequestStatus.CLOSED)
        .order_by(due.is_(None), due, ar.appointment_on.is_(None), ar.appointment_on)
        .order_by(ar.submitted_at, ar.id)
        .limit(MY_WORK_SHOWN + 1)
    ).all()
    clock = clock or BusinessClock()
    today = clock.today(now)
    result = []
    for ref, first, last, phone, status, submitted, due_at, appointment, interpreter in rows:
        status = RequestStatus(status)
        kind = "" if due_at is None else "reply" if status in AWAITING_FIRST_CONTACT else "callback"
        result.append(
            WorkRow(
                reference=ref,
                first_name=first,
                last_name=last,
                phone=phone,
                status=status,
                submitted_at=submitted,
                due_at=due_at,
                due_kind=kind,
                appointment_on=appointment,
                interpreter_needed=interpreter,
                past_due=due_at is not None and due_at < now,
                due_today=due_at is not None and clock.today(due_at) == today,
            )
        )
    return MyWork(result[:MY_WORK_SHOWN], more=len(result) > MY_WORK_SHOWN)


def add_note(session: Session, *, reference: str, actor: Actor, note: str) -> None:
    request_id = _request_id(session, reference)
    event = _event(session, request_id, actor, EventKind.NOTE, note=note)
    # The audit trail says a note was written, not what it says.
    trail.record(
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
    callback_at: datetime | None = None,
    appointment_on: date | None = None,
) -> RequestEvent:
    event = RequestEvent(
        callback_at=callback_at,
        appointment_on=appointment_on,
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


def recompute_reply_due(session: Session, *, clock: BusinessClock) -> int:
    """Store the reply-due time ``clock`` gives every request still waiting for first
    contact (after the clock's settings change). Returns how many were updated."""
    ar = AppointmentRequest
    rows = session.execute(
        select(ar.id, ar.submitted_at).where(ar.status.in_(AWAITING_FIRST_CONTACT))
    ).all()
    if rows:
        session.execute(
            update(ar), [{"id": i, "reply_due_at": clock.reply_due(at)} for i, at in rows]
        )
    return len(rows)
