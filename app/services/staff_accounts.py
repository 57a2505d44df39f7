"""Staff accounts: creating them, deactivating them, and signing in.

Passwords are hashed with Argon2id. A wrong email and a wrong password look the same
from outside, and take about as long: an unknown email is checked against a dummy hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import EMAIL_MAX, NAME_MAX, EmergencyAccess, StaffRole, StaffUser

from . import audit, audit_chain
from .audit import Action

PASSWORD_MIN = 12
PASSWORD_MAX = 256


class AccountError(ValueError):
    """An account cannot be created or changed; the message says why, for a person."""


@dataclass(frozen=True, kw_only=True)
class HashCost:
    time_cost: int = 3
    memory_kib: int = 65536


@cache
def hasher(cost: HashCost) -> PasswordHasher:
    return PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=1)


@cache
def _dummy_hash(cost: HashCost) -> str:
    return hasher(cost).hash(secrets.token_urlsafe(16))


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"The password must be at least {PASSWORD_MIN} characters long")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"The password must be at most {PASSWORD_MAX} characters long")


def create_staff(
    session: Session, *, email: str, name: str, role: StaffRole, password: str, cost: HashCost
) -> StaffUser:
    email = normalize_email(email)
    name = name.strip()
    if "@" not in email or len(email) > EMAIL_MAX:
        raise AccountError("Enter a valid email address")
    if not name or len(name) > NAME_MAX:
        raise AccountError(f"Enter a name of at most {NAME_MAX} characters")
    check_password_rules(password)
    if find_by_email(session, email=email) is not None:
        raise AccountError(f"There is already an account for {email}")
    staff = StaffUser(
        email=email,
        name=name,
        role=role,
        password_hash=hasher(cost).hash(password),
        active=True,
        failed_sign_ins=0,
    )
    session.add(staff)
    session.flush()
    return staff


def find_by_email(session: Session, *, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))


def deactivate_staff(session: Session, *, email: str) -> StaffUser:
    staff = find_by_email(session, email=email)
    if staff is None:
        raise AccountError(f"There is no account for {normalize_email(email)}")
    staff.active = False
    # Ends any session the person still has open.
    staff.session_nonce = None
    session.flush()
    return staff


def set_password(session: Session, *, email: str, password: str, cost: HashCost) -> StaffUser:
    """A new password (a forgotten one, or after a lock-out): clears the lock and ends the
    account's open sessions."""
    staff = find_by_email(session, email=email)
    if staff is None:
        raise AccountError(f"There is no account for {normalize_email(email)}")
    check_password_rules(password)
    staff.password_hash = hasher(cost).hash(password)
    staff.failed_sign_ins = 0
    staff.locked_until = None
    staff.session_nonce = None
    session.flush()
    return staff


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(func.lower(StaffUser.name))))


@dataclass(frozen=True, kw_only=True)
class LockoutPolicy:
    attempts: int = 5
    minutes: int = 15


@dataclass(frozen=True)
class SignIn:
    staff: StaffUser | None
    nonce: str | None = None


def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    now: datetime,
    policy: LockoutPolicy,
    cost: HashCost,
    client_ip: str | None,
) -> SignIn:
    """Check the password and, if it is right, start a new session for the account.

    Every attempt is recorded in the audit trail. Locked and deactivated accounts are
    refused even with the right password, with the same answer as a wrong password.
    """
    staff = find_by_email(session, email=email)
    if staff is None:
        _verify(_dummy_hash(cost), password, cost)
        # Never what was typed: it may be a password in the wrong box or a patient's
        # address. A keyed hash lets an admin check a guess ("was it jo@...?") and see
        # repeats, without the trail showing anyone the text.
        typed = audit_chain.keyed_digest(session, purpose="sign-in email", value=email)
        audit.record(
            session,
            action=Action.SIGN_IN_FAILED,
            detail=f"unknown account; typed text hash {typed}",
            client_ip=client_ip,
        )
        return SignIn(None)

    right_password = _verify(staff.password_hash, password, cost)
    locked_until = as_utc(staff.locked_until)
    reason = None
    if not staff.active:
        reason = "account deactivated"
    elif emergency_expired(session, staff_id=staff.id, now=now):
        reason = "emergency access expired"
    elif locked_until is not None and locked_until > now:
        reason = "account locked"
    elif not right_password:
        reason = "wrong password"
        _count_failure(session, staff=staff, now=now, policy=policy)
        if staff.locked_until is not None and as_utc(staff.locked_until) > now:
            reason = "wrong password; account now locked"
    if reason is not None:
        audit.record(
            session,
            action=Action.SIGN_IN_FAILED,
            staff_id=staff.id,
            detail=reason,
            client_ip=client_ip,
        )
        return SignIn(None)

    if hasher(cost).check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher(cost).hash(password)
    staff.failed_sign_ins = 0
    staff.locked_until = None
    staff.session_nonce = secrets.token_urlsafe(32)
    audit.record(session, action=Action.SIGN_IN, staff_id=staff.id, client_ip=client_ip)
    return SignIn(staff, staff.session_nonce)


def emergency_expired(session: Session, *, staff_id: int, now: datetime) -> bool:
    grant = session.get(EmergencyAccess, staff_id)
    return grant is not None and as_utc(grant.expires_at) <= now


def _verify(password_hash: str, password: str, cost: HashCost) -> bool:
    try:
        return hasher(cost).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _count_failure(
    session: Session, *, staff: StaffUser, now: datetime, policy: LockoutPolicy
) -> None:
    # Incremented in the database, so that two workers counting at once both count.
    session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id)
        .values(failed_sign_ins=StaffUser.failed_sign_ins + 1)
    )
    session.refresh(staff)
    if staff.failed_sign_ins >= policy.attempts:
        staff.locked_until = now + timedelta(minutes=policy.minutes)
        staff.failed_sign_ins = 0
    session.flush()


def sign_out(session: Session, *, staff: StaffUser, client_ip: str | None) -> None:
    # A new nonce makes every copy of the old session cookie worthless.
    staff.session_nonce = secrets.token_urlsafe(32)
    audit.record(session, action=Action.SIGN_OUT, staff_id=staff.id, client_ip=client_ip)


def now_utc() -> datetime:
    return datetime.now(UTC)
