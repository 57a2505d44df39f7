"""The audit trail: who did what, when, to which request. Append-only.

Nothing here copies patient data: entries name the request by its id (shown as its
reference) and say what changed, never what the person wrote or who they are.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.models import AppointmentRequest, AuditEvent, RequestEvent, StaffUser

from .account_actions import ACCOUNT_ACTION_LABELS, SECURITY_EVENTS, AccountAction

security_log = logging.getLogger("intake.security")


class AppendOnlyError(RuntimeError):
    """Someone tried to change or delete an audit or history entry."""


def _refuse_change(_mapper, _connection, target) -> None:
    raise AppendOnlyError(f"{type(target).__name__} entries cannot be changed or deleted")


# Declared with the models they guard, like a constraint: the ORM refuses to update or
# delete an entry of the audit trail or of a request's history.
for _model in (AuditEvent, RequestEvent):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


class Action(enum.StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    VIEW_REQUEST = "view_request"
    CLAIM = "claim"
    RELEASE = "release"
    STATUS_CHANGE = "status_change"
    NOTE = "note"
    EXPORT = "export"
    PURGE = "purge_patient_data"


ACTION_LABELS = {
    Action.SIGN_IN: "Signed in",
    Action.SIGN_IN_FAILED: "Sign-in failed",
    Action.SIGN_OUT: "Signed out",
    Action.VIEW_REQUEST: "Viewed request",
    Action.CLAIM: "Claimed request",
    Action.RELEASE: "Released request",
    Action.STATUS_CHANGE: "Changed status",
    Action.NOTE: "Added a note",
    Action.EXPORT: "Exported CSV",
    Action.PURGE: "Removed patient data (retention)",
}

PAGE_SIZE = 100


def record(
    session: Session,
    *,
    action: Action | AccountAction,
    staff_id: int | None = None,
    actor_email: str | None = None,
    request_id: int | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    detail: str | None = None,
    client_ip: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action.value,
        staff_id=staff_id,
        actor_email=actor_email,
        request_id=request_id,
        from_value=from_value,
        to_value=to_value,
        detail=detail[:255] if detail else None,
        client_ip=client_ip[:45] if client_ip else None,
    )
    session.add(event)
    session.flush()
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

    @property
    def action_label(self) -> str:
        try:
            return ACTION_LABELS[Action(self.action)]
        except ValueError:
            pass
        try:
            return ACCOUNT_ACTION_LABELS[AccountAction(self.action)]
        except ValueError:
            return self.action


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
        )
        for r in session.execute(query)
    ]
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage(rows[:limit], next_before)
