"""Overdue: a request nobody has reached yet, past its reply promise. The one home of
that rule: the queue's filter and its rows, the request page, the access metrics and the
intake e-mail alert all ask here.

The reply-due time is stored when a request arrives (the business clock, issue 16), so
"overdue" is a plain comparison in SQL at any size (``ix_appointment_requests_status_due``)
and the same comparison for a row already in hand.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from app.models import AppointmentRequest
from app.vocabulary import AWAITING_FIRST_CONTACT, RequestStatus

# Only a request still waiting for its first contact can be overdue: once someone has
# reached the patient, the promise is kept (or was broken, which the metrics count).
CAN_BE_OVERDUE = AWAITING_FIRST_CONTACT


def condition(now: datetime) -> ColumnElement[bool]:
    """The condition in SQL."""
    ar = AppointmentRequest
    return ar.status.in_(CAN_BE_OVERDUE) & (ar.reply_due_at < now)


def is_overdue(*, status: RequestStatus, reply_due_at: datetime, now: datetime) -> bool:
    """The same condition for a row already read."""
    return status in CAN_BE_OVERDUE and reply_due_at < now


def count(session: Session, *, now: datetime) -> int:
    return session.execute(select(func.count()).where(condition(now))).scalar_one()


def waiting_and_overdue(session: Session, *, now: datetime) -> tuple[int, int]:
    """How many requests wait for a first contact, and how many of those are overdue:
    one statement on the (status, reply_due_at) index, for the metrics' every scrape."""
    ar = AppointmentRequest
    waiting, overdue = session.execute(
        select(func.count(), func.sum(case((ar.reply_due_at < now, 1), else_=0))).where(
            ar.status.in_(CAN_BE_OVERDUE)
        )
    ).one()
    return waiting, overdue or 0
