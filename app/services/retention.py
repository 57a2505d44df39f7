"""Keeping patient data only as long as needed: removing it from closed requests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, delete, select, update
from sqlalchemy.orm import Session

from app.models import AppointmentRequest, Referral, RequestEvent, RequestStatus
from app.request_fields import identifying_columns

from . import audit

PURGE_ACTION = audit.Action.PURGE


def _blank(column: str) -> object:
    """What a removed answer becomes: an empty list, NULL, or "" where NULL is not allowed."""
    definition = AppointmentRequest.__table__.c[column]
    if isinstance(definition.type, JSON):
        return []
    return None if definition.nullable else ""


# What stays: the reference, status, dates and the coded answers (state, insurance type,
# contact preference...), which say nothing about who the patient is.
_BLANKED: dict[str, object] = {column: _blank(column) for column in identifying_columns()}


def purge_closed_requests(session: Session, *, closed_before: datetime) -> list[str]:
    """Remove the patient data of requests closed before ``closed_before``.

    Referral rows are deleted and staff notes blanked (they may name the patient); the
    request keeps its reference, status and history of who did what, and each purge is
    recorded in the audit trail. Returns the references purged.
    """
    if closed_before.tzinfo is None:
        closed_before = closed_before.replace(tzinfo=UTC)
    rows = session.execute(
        select(AppointmentRequest.id, AppointmentRequest.reference)
        .where(
            AppointmentRequest.status == RequestStatus.CLOSED,
            AppointmentRequest.closed_at < closed_before,
            AppointmentRequest.purged_at.is_(None),
        )
        .order_by(AppointmentRequest.id)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    now = datetime.now(UTC)
    session.execute(delete(Referral).where(Referral.request_id.in_(ids)))
    # The history is append-only through the ORM; removing the text of its notes is the
    # one change retention makes to it, done here as a deliberate bulk statement.
    session.execute(
        update(RequestEvent)
        .where(RequestEvent.request_id.in_(ids), RequestEvent.note.is_not(None))
        .values(note=None)
    )
    for request_id in ids:
        row = session.get(AppointmentRequest, request_id)
        for column, value in _BLANKED.items():
            setattr(row, column, value)
        row.purged_at = now
        audit.record(
            session,
            action=PURGE_ACTION,
            request_id=request_id,
            detail=f"patient data removed (closed before {closed_before.date().isoformat()})",
        )
    session.flush()
    return [row.reference for row in rows]
