"""The steps between a right password and a signed-in session: the second factor, or
setting one up; and the throttle every password and code check goes through.

Between the password and the code, the browser's session cookie holds only the account's
id, when the password was checked and where to go next ("pending"); the staff pages stay
closed until the code is right. A pending sign-in lasts a few minutes.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, session

from app.accounts import second_factor
from app.accounts.sign_in_throttle import SignInThrottle, ThrottlePolicy
from app.audit import trail
from app.auth.access import client_ip
from app.db import get_session
from app.models import EMAIL_MAX, StaffUser
from app.vocabulary import AuditAction

PENDING_MINUTES = 10
THROTTLED = (
    "Too many failed attempts from your network. Wait {minutes} minutes and try again, "
    "or sign in from another network. If it was not you, tell an intake administrator."
)


def make_throttle(state) -> None:
    """Registered on the auth blueprint: one throttle per application."""
    app: Flask = state.app
    config = app.config
    app.extensions["sign_in_throttle"] = SignInThrottle(
        storage_uri=config["RATELIMIT_STORAGE_URI"],
        prefix=config["RATELIMIT_KEY_PREFIX"],
        options=config.get("RATELIMIT_STORAGE_OPTIONS"),
        policy=ThrottlePolicy(
            per_account_and_address=config["STAFF_LOCKOUT_ATTEMPTS"],
            per_address=config["STAFF_ADDRESS_FAILURES"],
            storm=config["STAFF_STORM_FAILURES"],
            minutes=config["STAFF_LOCKOUT_MINUTES"],
        ),
    )


def throttle() -> SignInThrottle:
    return current_app.extensions["sign_in_throttle"]


def throttled_message() -> str:
    return THROTTLED.format(minutes=current_app.config["STAFF_LOCKOUT_MINUTES"])


def second_factor_on() -> bool:
    return bool(current_app.config["STAFF_SECOND_FACTOR"])


def refuse_if_throttled(email: str, staff: StaffUser | None) -> bool:
    """True (and recorded) when this address may not try this account now."""
    if not throttle().refused(email=email, address=client_ip()):
        return False
    trail.record(
        get_session(),
        action=AuditAction.SIGN_IN_THROTTLED,
        staff_id=staff.id if staff else None,
        detail="too many failures from this address",
        client_ip=client_ip(),
    )
    get_session().commit()
    return True


def count_failure(email: str, staff: StaffUser | None) -> None:
    """Counts a wrong password or code for the throttle, and records a storm the first
    time one account's failures reach the storm level. The caller commits."""
    failure = throttle().record_failure(email=email, address=client_ip())
    if failure.storm_started:
        policy = throttle().policy
        trail.record(
            get_session(),
            action=AuditAction.SIGN_IN_STORM,
            staff_id=staff.id if staff else None,
            actor_email=None if staff else email[:EMAIL_MAX],
            detail=f"{policy.storm} or more failures in {policy.minutes} minutes",
            client_ip=client_ip(),
        )


def begin_pending(staff: StaffUser, next_url: str | None) -> None:
    session.clear()
    session["pending_staff_id"] = staff.id
    session["pending_at"] = int(time.time())
    if next_url:
        session["pending_next"] = next_url


def pending_staff() -> StaffUser | None:
    staff_id, at = session.get("pending_staff_id"), session.get("pending_at")
    if not isinstance(staff_id, int) or not isinstance(at, int):
        return None
    if time.time() - at > PENDING_MINUTES * 60:
        return None
    staff = get_session().get(StaffUser, staff_id)
    if staff is None or not staff.active:
        return None
    return staff


def pending_next() -> str | None:
    value = session.get("pending_next")
    return value if isinstance(value, str) else None


def needs_enrolment(staff: StaffUser) -> bool:
    return not second_factor.is_enrolled(get_session(), staff_id=staff.id)
