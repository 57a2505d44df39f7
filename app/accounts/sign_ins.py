"""Sign-ins in progress, and the limit on wrong codes per account.

A right password opens no staff page: it begins a *sign-in* (a row of ``staff_sign_ins``)
that a right code, recovery code or passkey finishes. A one-time set-up link begins a
*set-up*: the same row, carrying the authenticator secret drawn for it. Either is

- kept on the server: the browser's session cookie holds a random key, the row only the
  key's hash, so a copy of the row is no use to anyone and the key works in one browser;
- used once: finishing ends it by a conditional UPDATE, so of two requests racing with
  it exactly one signs in;
- ended early by a finished sign-in of the account (every other one of its sign-ins
  ends too), by too many wrong codes, or, for a set-up, by a newer set-up of the account
  (whose new secret makes the older one's worthless);
- short: SIGN_IN_MINUTES for a code, SET_UP_MINUTES for a set-up.

Wrong codes are counted per account, whatever the address (``try_code``): an attacker who
has the password cannot spread guesses over many addresses. After ``CodeLimit.attempts``
wrong ones (app or recovery codes) the account's sign-ins in progress end and its code
step waits ``CodeLimit.wait_minutes``; a finished sign-in sets the count back to 0.
With the defaults, 10 guesses each 15 minutes at 3 codes in a million (the code, and the
one each side for a phone's clock) is 40 guesses an hour: an even chance takes about
6,000 hours of guessing, each wait an entry on the admins' accounts page. Wrong passwords
never count here, so nobody can stop an account's owner with only its address.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.accounts import second_factor
from app.accounts.second_factor import CodeCheck
from app.models import StaffSignIn, StaffUser

# Long enough to find the phone and type a code.
SIGN_IN_MINUTES = 10
# Installing an app, scanning a QR code and typing the first code take longer.
SET_UP_MINUTES = 30
KEY_BYTES = 32


@dataclass(frozen=True, kw_only=True)
class CodeLimit:
    attempts: int = 10
    wait_minutes: int = 15


@dataclass(frozen=True)
class Begun:
    sign_in: StaffSignIn
    # For the browser's session cookie, never stored: the row keeps its hash.
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _begin(session: Session, *, staff_id: int, now: datetime, minutes: int, secret: str | None):
    # The account's finished or expired rows go now: nothing else reads them.
    session.execute(
        delete(StaffSignIn)
        .where(StaffSignIn.staff_id == staff_id, StaffSignIn.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    key = secrets.token_urlsafe(KEY_BYTES)
    row = StaffSignIn(
        staff_id=staff_id,
        key_hash=_hash(key),
        totp_secret=secret,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(row)
    session.flush()
    return Begun(row, key)


def begin(session: Session, *, staff_id: int, now: datetime) -> Begun:
    """A right password: the code step begins."""
    return _begin(session, staff_id=staff_id, now=now, minutes=SIGN_IN_MINUTES, secret=None)


def begin_set_up(session: Session, *, staff_id: int, now: datetime) -> Begun:
    """A set-up link used: a new authenticator secret, for this set-up only. Any earlier
    set-up of the account ends, and its secret with it."""
    session.execute(
        update(StaffSignIn)
        .where(
            StaffSignIn.staff_id == staff_id,
            StaffSignIn.totp_secret.is_not(None),
            StaffSignIn.ended_at.is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return _begin(
        session,
        staff_id=staff_id,
        now=now,
        minutes=SET_UP_MINUTES,
        secret=second_factor.new_secret(),
    )


def find(session: Session, *, key: str | None, now: datetime) -> StaffSignIn | None:
    """The sign-in (or set-up) this browser's key names, while it is neither ended nor
    expired, and its account active."""
    if not isinstance(key, str) or not key:
        return None
    row = session.scalar(
        select(StaffSignIn)
        .join(StaffUser, StaffUser.id == StaffSignIn.staff_id)
        .where(
            StaffSignIn.key_hash == _hash(key),
            StaffSignIn.ended_at.is_(None),
            StaffUser.active.is_(True),
        )
    )
    if row is None or row.expires_at <= now:
        return None
    return row


def finish(session: Session, *, sign_in: StaffSignIn, now: datetime) -> bool:
    """End this sign-in because it succeeded, and every other one of the account's.
    False if it had already ended (another request finished it first)."""
    won = session.execute(
        update(StaffSignIn)
        .where(
            StaffSignIn.id == sign_in.id,
            StaffSignIn.ended_at.is_(None),
            StaffSignIn.expires_at > now,
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        return False
    end_all(session, staff_id=sign_in.staff_id, now=now)
    return True


def end_all(session: Session, *, staff_id: int, now: datetime) -> None:
    session.execute(
        update(StaffSignIn)
        .where(StaffSignIn.staff_id == staff_id, StaffSignIn.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def codes_wait_until(staff: StaffUser, *, now: datetime) -> datetime | None:
    """Until when the account's code step waits after too many wrong codes, or None."""
    until = staff.codes_wait_until
    return until if until is not None and until > now else None


def try_code(
    session: Session, *, staff_id: int, code: str, now: datetime, limit: CodeLimit
) -> CodeCheck:
    """Check a code (app or recovery) against the account's limit on wrong ones.

    The account's row is locked first (SELECT ... FOR UPDATE; SQLite's write transaction
    does the same), so one account's checks take turns: a hundred guesses sent at once
    are counted one by one, and the hundredth is refused like the eleventh. The caller
    keeps a failure (its count and audit entries) even though it answers 400."""
    staff = session.scalar(
        select(StaffUser)
        .where(StaffUser.id == staff_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if staff is None:
        return CodeCheck(False, "no account")
    waiting = codes_wait_until(staff, now=now)
    if waiting is not None:
        return CodeCheck(False, "code step waiting", waiting_until=waiting)
    check = second_factor.check_code(session, staff_id=staff_id, code=code, now=now)
    if check.ok:
        staff.wrong_codes = 0
        staff.codes_wait_until = None
        session.flush()
        return check
    staff.wrong_codes = (staff.wrong_codes or 0) + 1
    if staff.wrong_codes >= limit.attempts:
        staff.wrong_codes = 0
        staff.codes_wait_until = now + timedelta(minutes=limit.wait_minutes)
        end_all(session, staff_id=staff_id, now=now)
        check = replace(check, waiting_until=staff.codes_wait_until, started_wait=True)
    session.flush()
    return check
