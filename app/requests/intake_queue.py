"""The intake queue: filtered, searched and keyset-paginated on (submitted_at, id).

One query per page whatever its size: the columns the queue shows, joined to the
claiming staff member's name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from app.common.time import as_utc
from app.models import NAME_MAX, AppointmentRequest, StaffUser
from app.requests import reference_codes
from app.vocabulary import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    BestTime,
    Language,
    PageLanguage,
    RequestStatus,
)

PAGE_SIZE = 50


class StatusFilter(enum.StrEnum):
    # "open" is the default: every request that needs someone's action (not closed).
    OPEN = "open"
    # Awaiting first contact and past the reply promise.
    OVERDUE = "overdue"
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CONTACTED = "contacted"
    AWAITING_RECORDS = "awaiting_records"
    SCHEDULED = "scheduled"
    CLOSED = "closed"
    ALL = "all"


class ReferralFilter(enum.StrEnum):
    ANY = "any"
    REFERRED = "referred"
    SELF = "self"


class ClaimFilter(enum.StrEnum):
    ANY = "any"
    MINE = "mine"
    UNCLAIMED = "unclaimed"


class InterpreterFilter(enum.StrEnum):
    ANY = "any"
    NEEDED = "needed"
    NOT_NEEDED = "not_needed"


class FormLanguageFilter(enum.StrEnum):
    """The language of the page a request was made on (PageLanguage), or either."""

    ANY = "any"
    ENGLISH = PageLanguage.ENGLISH.value
    SPANISH = PageLanguage.SPANISH.value


@dataclass(frozen=True, kw_only=True)
class QueueFilters:
    status: StatusFilter = StatusFilter.OPEN
    referral: ReferralFilter = ReferralFilter.ANY
    claim: ClaimFilter = ClaimFilter.ANY
    interpreter: InterpreterFilter = InterpreterFilter.ANY
    form_language: FormLanguageFilter = FormLanguageFilter.ANY
    search: str = ""


@dataclass(frozen=True, kw_only=True)
class QueueRow:
    id: int
    reference: str
    first_name: str
    last_name: str
    submitted_at: datetime
    status: RequestStatus
    has_referral: bool
    interpreter_needed: bool
    claimed_by_id: int | None
    claimed_by_name: str | None
    reply_due: datetime
    overdue: bool
    phone: str
    best_time_to_call: BestTime
    language: Language
    language_other: str | None
    # The rest are for the CSV export (the newer answers of issue 15).
    phone_ext: str | None = None
    submitter_phone: str | None = None
    submitter_phone_ext: str | None = None
    submitter_email: str | None = None
    call_first: str | None = None
    insurance_type: str | None = None
    form_language: str | None = None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_after: int | None  # the id to continue after, or None on the last page


def is_overdue(*, status: RequestStatus, reply_due_at: datetime, now: datetime) -> bool:
    """Past the reply promise with nobody having reached the patient yet."""
    return status in OPEN_STATUSES and now > as_utc(reply_due_at)


def waiting_and_overdue(session: Session, *, now: datetime) -> tuple[int, int]:
    """How many requests wait for a first contact, and how many of those are overdue (the
    queue's "overdue" filter): one statement on the (status, reply_due_at) index, for
    the metrics' every scrape."""
    ar = AppointmentRequest
    waiting, overdue = session.execute(
        select(func.count(), func.sum(case((ar.reply_due_at < now, 1), else_=0))).where(
            ar.status.in_(OPEN_STATUSES)
        )
    ).one()
    return waiting, overdue or 0


def where_interpreter(query: Select, choice: InterpreterFilter) -> Select:
    if choice == InterpreterFilter.NEEDED:
        return query.where(AppointmentRequest.interpreter_needed.is_(True))
    if choice == InterpreterFilter.NOT_NEEDED:
        return query.where(AppointmentRequest.interpreter_needed.is_(False))
    return query


def where_referral(query: Select, choice: ReferralFilter) -> Select:
    if choice == ReferralFilter.REFERRED:
        return query.where(AppointmentRequest.has_referral.is_(True))
    if choice == ReferralFilter.SELF:
        return query.where(AppointmentRequest.has_referral.is_(False))
    return query


def _filtered(
    filters: QueueFilters, *, viewer_id: int, status: RequestStatus | None, now: datetime
) -> Select:
    ar = AppointmentRequest
    query = select(
        ar.id,
        ar.reference,
        ar.first_name,
        ar.last_name,
        ar.submitted_at,
        ar.status,
        ar.has_referral,
        ar.interpreter_needed,
        ar.claimed_by_id,
        StaffUser.name,
        ar.reply_due_at,
        ar.phone,
        ar.best_time_to_call,
        ar.language,
        ar.language_other,
        ar.phone_ext,
        ar.submitter_phone,
        ar.submitter_phone_ext,
        ar.submitter_email,
        ar.call_first,
        ar.insurance_type,
        ar.form_language,
    ).outerjoin(StaffUser, StaffUser.id == ar.claimed_by_id)

    if status is not None:
        query = query.where(ar.status == status)
    if filters.status == StatusFilter.OVERDUE:
        query = query.where(ar.reply_due_at < now)

    query = where_referral(query, filters.referral)
    query = where_interpreter(query, filters.interpreter)
    if filters.form_language != FormLanguageFilter.ANY:
        query = query.where(ar.form_language == PageLanguage(filters.form_language.value))

    if filters.claim == ClaimFilter.MINE:
        query = query.where(ar.claimed_by_id == viewer_id)
    elif filters.claim == ClaimFilter.UNCLAIMED:
        query = query.where(ar.claimed_by_id.is_(None))

    search = filters.search.strip()[:NAME_MAX]
    if search:
        reference = reference_codes.parse(search)
        if reference is not None:
            query = query.where(ar.reference == reference)
        else:
            # Every word must start the first or the last name: "maria san" finds
            # Maria Santos-Ortiz.
            for word in search.lower().split()[:4]:
                pattern = _escape_like(word) + "%"
                query = query.where(
                    or_(
                        func.lower(ar.first_name).like(pattern, escape="\\"),
                        func.lower(ar.last_name).like(pattern, escape="\\"),
                    )
                )
    return query.order_by(ar.submitted_at, ar.id)


def _page_query(
    filters: QueueFilters, *, viewer_id: int, after: int | None, limit: int, now: datetime
) -> Select:
    if filters.status == StatusFilter.ALL:
        statuses: tuple[RequestStatus | None, ...] = (None,)
    elif filters.status == StatusFilter.OPEN:
        statuses = ACTIVE_STATUSES
    elif filters.status == StatusFilter.OVERDUE:
        statuses = OPEN_STATUSES
    else:
        statuses = (RequestStatus(filters.status.value),)
    branches = []
    for status in statuses:
        branch = _filtered(filters, viewer_id=viewer_id, status=status, now=now)
        if after is not None:
            branch = _after(branch, after)
        branches.append(branch.limit(limit))
    if len(branches) == 1:
        return branches[0]
    # One ordered index range per status, merged: "status IN (...) ORDER BY submitted_at"
    # would walk every closed request older than the oldest open one.
    merged = union_all(*(select(b.subquery()) for b in branches)).subquery()
    return select(merged).order_by(merged.c.submitted_at, merged.c.id).limit(limit)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _after(query: Select, after: int) -> Select:
    ar = AppointmentRequest
    anchor = select(ar.submitted_at).where(ar.id == after).scalar_subquery()
    # A row-value comparison: both databases walk the (submitted_at, id) index from it.
    return query.where(tuple_(ar.submitted_at, ar.id) > tuple_(anchor, after))


def queue_page(
    session: Session,
    *,
    filters: QueueFilters,
    viewer_id: int,
    now: datetime,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    query = _page_query(filters, viewer_id=viewer_id, after=after, limit=limit + 1, now=now)
    rows = [_row(r, now=now) for r in session.execute(query)]
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return QueuePage(rows[:limit], next_after)


def iter_queue(
    session: Session,
    *,
    filters: QueueFilters,
    viewer_id: int,
    now: datetime,
    batch: int = 1000,
) -> Iterator[QueueRow]:
    """Every matching row, fetched a batch at a time by the same keyset as the pages."""
    after = None
    while True:
        page = queue_page(
            session,
            filters=filters,
            viewer_id=viewer_id,
            now=now,
            after=after,
            limit=batch,
        )
        yield from page.rows
        if page.next_after is None:
            return
        after = page.next_after


def _row(r, *, now: datetime) -> QueueRow:
    submitted_at = as_utc(r[4])
    status = RequestStatus(r[5])
    reply_due = as_utc(r[10])
    return QueueRow(
        id=r[0],
        reference=r[1],
        first_name=r[2],
        last_name=r[3],
        submitted_at=submitted_at,
        status=status,
        has_referral=r[6],
        interpreter_needed=r[7],
        claimed_by_id=r[8],
        claimed_by_name=r[9],
        reply_due=reply_due,
        overdue=is_overdue(status=status, reply_due_at=reply_due, now=now),
        phone=r[11],
        best_time_to_call=BestTime(r[12]),
        language=Language(r[13]),
        language_other=r[14],
        phone_ext=r[15],
        submitter_phone=r[16],
        submitter_phone_ext=r[17],
        submitter_email=r[18],
        call_first=_code(r[19]),
        insurance_type=_code(r[20]),
        form_language=_code(r[21]),
    )


def _code(value: object) -> str | None:
    # A stored code as its plain value, whichever of enum or string the row holds.
    return None if value is None else str(getattr(value, "value", value))
