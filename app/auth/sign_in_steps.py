"""The steps between a right password and a signed-in session: the second factor, or
setting one up through a one-time link; and the throttle every password and code check
goes through.

Between the password and the code, the browser's session cookie holds only the key of a
sign-in in progress (app/accounts/sign_ins.py: kept on the server, used once, ended by a
finished sign-in or too many wrong codes) and where to go next; the staff pages stay
closed until the code is right.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, session

from app.accounts import second_factor, sign_ins
from app.accounts.second_factor import CodeCheck
from app.accounts.sign_in_throttle import SignInThrottle, ThrottlePolicy
from app.audit import chain, trail
from app.auth.access import client_ip
from app.common.addresses import parse_networks
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffSignIn, StaffUser
from app.templating import local_time
from app.transactions import keep_refusal
from app.vocabulary import AuditAction

# What the browser keeps between the steps: the sign-in's key and where to go after.
SIGN_IN_KEY = "sign_in_key"
SIGN_IN_NEXT = "sign_in_next"

THROTTLED = (
    "Too many failed attempts from your network. Wait {minutes} minutes and try again, "
    "or sign in from another network. If it was not you, tell an intake administrator."
)
CODES_WAIT = (
    "Too many wrong codes were typed for this account. Wait until {until}, then sign in "
    "again with a code from your app or one of your recovery codes. If it was not you, "
    "someone knows your password: change it, and tell an intake administrator."
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
            per_center_address=config["CENTER_ADDRESS_FAILURES"],
            center_networks=parse_networks(config["CENTER_NETWORKS"]),
        ),
    )


def throttle() -> SignInThrottle:
    return current_app.extensions["sign_in_throttle"]


def throttled_message() -> str:
    return THROTTLED.format(minutes=current_app.config["STAFF_LOCKOUT_MINUTES"])


def codes_wait_message(until) -> str:
    return CODES_WAIT.format(until=local_time(until))


def second_factor_on() -> bool:
    return bool(current_app.config["STAFF_SECOND_FACTOR"])


def code_limit() -> sign_ins.CodeLimit:
    config = current_app.config
    return sign_ins.CodeLimit(
        attempts=config["STAFF_CODE_ATTEMPTS"], wait_minutes=config["STAFF_CODE_WAIT_MINUTES"]
    )


def refuse_if_throttled(email: str, staff: StaffUser | None) -> bool:
    """True (and recorded) when this address may not try this account now."""
    if not throttle().refused(email=email, address=client_ip()):
        return False
    keep_refusal(
        lambda: trail.record(
            get_session(),
            action=AuditAction.SIGN_IN_THROTTLED,
            staff_id=staff.id if staff else None,
            detail="too many failures from this address",
            client_ip=client_ip(),
        )
    )
    return True


def count_failure(email: str, staff: StaffUser | None) -> None:
    """Counts a wrong password or code for the throttle, and records a storm the first
    time one account's failures reach the storm level. The caller commits."""
    failure = throttle().record_failure(email=email, address=client_ip())
    if failure.storm_started:
        policy = throttle().policy
        detail = f"{policy.storm} or more failures in {policy.minutes} minutes"
        if staff is None:
            # Never what was typed (it may be a password in the wrong box): its keyed
            # hash, as check_password records an unknown account.
            typed = chain.keyed_digest(get_session(), purpose="sign-in email", value=email)
            detail += f"; unknown account, typed text hash {typed}"
        trail.record(
            get_session(),
            action=AuditAction.SIGN_IN_STORM,
            staff_id=staff.id if staff else None,
            detail=detail,
            client_ip=client_ip(),
        )


def keep_failure(email: str, staff: StaffUser | None) -> None:
    """A wrong password (or code) on a page that then answers 4xx: counted and kept."""
    keep_refusal(lambda: count_failure(email, staff))


def try_code(staff: StaffUser, code: str) -> CodeCheck:
    """A code (app or recovery) under the account's limit on wrong ones."""
    return sign_ins.try_code(
        get_session(), staff_id=staff.id, code=code, now=now_utc(), limit=code_limit()
    )


def keep_wrong_code(
    staff: StaffUser, check: CodeCheck | None, *, detail: str | None = None
) -> None:
    """A wrong code's records, kept although the page answers 400: the account's count
    (already written by try_code), the address's count, the audit entry, and the wait
    when this code started one. (``check`` None: a wrong password where a password or a
    code would do, which counts for the address only.)"""

    def write() -> None:
        count_failure(staff.email, staff)
        trail.record(
            get_session(),
            action=AuditAction.SECOND_FACTOR_FAILED,
            staff_id=staff.id,
            detail=detail or (check.kind if check else None),
            client_ip=client_ip(),
        )
        if check is not None and check.started_wait:
            limit = code_limit()
            trail.record(
                get_session(),
                action=AuditAction.SECOND_FACTOR_WAIT,
                staff_id=staff.id,
                detail=f"{limit.attempts} wrong codes; waits {limit.wait_minutes} minutes",
                client_ip=client_ip(),
            )

    keep_refusal(write)


@dataclass(frozen=True)
class Pending:
    """The sign-in in progress this browser holds, and its account."""

    sign_in: StaffSignIn
    staff: StaffUser

    @property
    def is_set_up(self) -> bool:
        return self.sign_in.totp_secret is not None


def keep_in_browser(begun: sign_ins.Begun, next_url: str | None) -> None:
    """The browser holds the sign-in's key (and nothing of any earlier session)."""
    session.clear()
    session[SIGN_IN_KEY] = begun.key
    if next_url:
        session[SIGN_IN_NEXT] = next_url


def pending() -> Pending | None:
    row = sign_ins.find(get_session(), key=session.get(SIGN_IN_KEY), now=now_utc())
    if row is None:
        return None
    staff = get_session().get(StaffUser, row.staff_id)
    return Pending(row, staff) if staff is not None else None


def forget_in_browser() -> None:
    session.pop(SIGN_IN_KEY, None)
    session.pop(SIGN_IN_NEXT, None)


def pending_next() -> str | None:
    value = session.get(SIGN_IN_NEXT)
    return value if isinstance(value, str) else None


def has_second_factor(staff: StaffUser) -> bool:
    return second_factor.is_enrolled(get_session(), staff_id=staff.id)
