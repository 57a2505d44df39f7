"""Staff accounts: creating them, deactivating them, and checking passwords.

Passwords are hashed with Argon2id. A wrong email and a wrong password look the same
from outside, and take about as long: an unknown email is checked against a dummy hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import password_rules
from app.audit import chain, trail
from app.common.actor import Actor
from app.common.time import now_utc
from app.models import EMAIL_MAX, NAME_MAX, EmergencyAccess, StaffRole, StaffUser
from app.vocabulary import AuditAction

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


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_rules(
    password: str, *, user_inputs: tuple[str, ...] = (), center_names: tuple[str, ...] = ()
) -> None:
    """``user_inputs``: the person's email and name; ``center_names``: the center's and
    program's names (CENTER_NAME, PROGRAM_NAME). A password leaning on either is refused."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"The password must be at least {PASSWORD_MIN} characters long")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"The password must be at most {PASSWORD_MAX} characters long")
    problem = password_rules.weakness(password, user_inputs=user_inputs, center_names=center_names)
    if problem is not None:
        raise AccountError(problem)


def create_staff(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    cost: HashCost,
    center_names: tuple[str, ...] = (),
    local_sign_in: bool = False,
) -> StaffUser:
    """``local_sign_in``: the account keeps its password once staff sign in through the
    hospital's provider (OIDC_ISSUER): only for accounts made on the server's command
    line, the first admin and break-glass ones."""
    email = normalize_email(email)
    name = name.strip()
    if "@" not in email or len(email) > EMAIL_MAX:
        raise AccountError("Enter a valid email address")
    if not name or len(name) > NAME_MAX:
        raise AccountError(f"Enter a name of at most {NAME_MAX} characters")
    check_password_rules(password, user_inputs=(email, name), center_names=center_names)
    if find_by_email(session, email=email) is not None:
        raise AccountError(f"There is already an account for {email}")
    staff = StaffUser(
        email=email,
        name=name,
        role=role,
        password_hash=hasher(cost).hash(password),
        active=True,
        wrong_codes=0,
        local_sign_in=local_sign_in,
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


def set_password(
    session: Session,
    *,
    email: str,
    password: str,
    cost: HashCost,
    center_names: tuple[str, ...] = (),
) -> StaffUser:
    """A new password (a forgotten one, or one someone else learnt): ends the account's
    open sessions, and lifts a wait on its code step (the guesser's password is gone)."""
    staff = find_by_email(session, email=email)
    if staff is None:
        raise AccountError(f"There is no account for {normalize_email(email)}")
    check_password_rules(password, user_inputs=(staff.email, staff.name), center_names=center_names)
    staff.password_hash = hasher(cost).hash(password)
    staff.wrong_codes = 0
    staff.codes_wait_until = None
    staff.session_nonce = None
    session.flush()
    return staff


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(func.lower(StaffUser.name))))


def check_password(
    session: Session,
    *,
    email: str,
    password: str,
    cost: HashCost,
    client_ip: str | None,
) -> StaffUser | None:
    """The account, if the password is right and the account active; None otherwise.

    Every failure is recorded in the audit trail. No account is ever locked by wrong
    passwords (anyone who knows a staff address could keep it locked): the addresses that
    send them are slowed down instead (``sign_in_throttle``).
    """
    staff = find_by_email(session, email=email)
    if staff is None:
        _verify(_dummy_hash(cost), password, cost)
        # Never what was typed: it may be a password in the wrong box or a patient's
        # address. A keyed hash lets an admin check a guess ("was it jo@...?") and see
        # repeats, without the trail showing anyone the text.
        typed = chain.keyed_digest(session, purpose="sign-in email", value=email)
        trail.record(
            session,
            action=AuditAction.SIGN_IN_FAILED,
            detail=f"unknown account; typed text hash {typed}",
            client_ip=client_ip,
        )
        return None
    right_password = _verify(staff.password_hash, password, cost)
    reason = None
    if not staff.active:
        reason = "account deactivated"
    elif emergency_expired(session, staff_id=staff.id, now=now_utc()):
        reason = "emergency access expired"
    elif not right_password:
        reason = "wrong password"
    if reason is not None:
        trail.record(
            session,
            action=AuditAction.SIGN_IN_FAILED,
            staff_id=staff.id,
            detail=reason,
            client_ip=client_ip,
        )
        return None
    if hasher(cost).check_needs_rehash(staff.password_hash):
        staff.password_hash = hasher(cost).hash(password)
    return staff


def password_is_right(staff: StaffUser, password: str, cost: HashCost) -> bool:
    return _verify(staff.password_hash, password, cost)


def begin_session(
    session: Session, *, staff: StaffUser, client_ip: str | None, detail: str | None = None
) -> str:
    """A new session nonce (ending every other session of the account) and the audit
    entry of a completed sign-in, which also sets the count of wrong codes back to 0."""
    staff.wrong_codes = 0
    staff.codes_wait_until = None
    staff.session_nonce = secrets.token_urlsafe(32)
    trail.record(
        session, action=AuditAction.SIGN_IN, staff_id=staff.id, client_ip=client_ip, detail=detail
    )
    return staff.session_nonce


def emergency_expired(session: Session, *, staff_id: int, now: datetime) -> bool:
    grant = session.get(EmergencyAccess, staff_id)
    return grant is not None and grant.expires_at <= now


def _verify(password_hash: str, password: str, cost: HashCost) -> bool:
    try:
        return hasher(cost).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_out(session: Session, *, actor: Actor) -> None:
    # A new nonce makes every copy of the old session cookie worthless.
    staff = session.get(StaffUser, actor.staff_id)
    if staff is not None:
        staff.session_nonce = secrets.token_urlsafe(32)
    trail.record(session, action=AuditAction.SIGN_OUT, actor=actor)
