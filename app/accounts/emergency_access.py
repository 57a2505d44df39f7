"""Emergency ("break-glass") access, HIPAA §164.312(a)(2)(ii).

When the people who normally work the queue cannot (an outage of the usual sign-in, a
weekend with nobody on call), an operator with shell access makes a time-boxed account
with `flask staff break-glass`. It works like any intake account until it expires; every
audit entry it causes is flagged (audit_chain.seal), and the audit page lists such
accounts and their entries for admins to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import staff_accounts
from app.audit import trail
from app.models import AuditEvent, EmergencyAccess, StaffRole, StaffUser
from app.vocabulary import AuditAction

REASON_MAX = 200
# How long after expiry an emergency account stays in the admins' list.
REVIEW_DAYS = 30


def create_emergency_account(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    hours: int,
    max_hours: int,
    reason: str,
    now: datetime,
    cost: staff_accounts.HashCost,
    via: str,
    center_names: tuple[str, ...] = (),
) -> EmergencyAccess:
    reason = " ".join(reason.split())
    if not reason:
        raise staff_accounts.AccountError("Say why emergency access is needed (--reason)")
    if len(reason) > REASON_MAX:
        raise staff_accounts.AccountError(f"Keep the reason to {REASON_MAX} characters")
    if not 1 <= hours <= max_hours:
        raise staff_accounts.AccountError(f"Emergency access lasts 1 to {max_hours} hours")
    staff = staff_accounts.create_staff(
        session,
        email=email,
        name=name,
        role=role,
        password=password,
        cost=cost,
        center_names=center_names,
        # Break-glass is for when the hospital's provider cannot sign anyone in.
        local_sign_in=True,
    )
    grant = EmergencyAccess(
        staff_id=staff.id, reason=reason, expires_at=now + timedelta(hours=hours)
    )
    session.add(grant)
    session.flush()
    trail.record_account_change(
        session,
        action=AuditAction.EMERGENCY_ACCOUNT_CREATED,
        account=staff,
        actor=None,
        via=f"{via}; {hours} h; reason: {reason}",
        to_value=staff.role.value,
    )
    return grant


@dataclass(frozen=True, kw_only=True)
class EmergencyAccount:
    name: str
    email: str
    reason: str
    created_at: datetime
    expires_at: datetime
    active: bool
    entries: int


def accounts_to_review(session: Session, *, now: datetime) -> list[EmergencyAccount]:
    """Emergency accounts still active or expired within REVIEW_DAYS, newest first, with
    how many audit entries each has caused."""
    entries = (
        select(func.count(AuditEvent.id))
        .where(AuditEvent.staff_id == EmergencyAccess.staff_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            StaffUser.name,
            StaffUser.email,
            EmergencyAccess.reason,
            EmergencyAccess.created_at,
            EmergencyAccess.expires_at,
            entries,
        )
        .join(StaffUser, StaffUser.id == EmergencyAccess.staff_id)
        .where(EmergencyAccess.expires_at > now - timedelta(days=REVIEW_DAYS))
        .order_by(EmergencyAccess.created_at.desc())
    ).all()
    return [
        EmergencyAccount(
            name=r[0],
            email=r[1],
            reason=r[2],
            created_at=r[3],
            expires_at=r[4],
            active=r[4] > now,
            entries=r[5],
        )
        for r in rows
    ]
