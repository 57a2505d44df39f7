"""The staff second factor: an authenticator app (TOTP, RFC 6238) and ten recovery codes.

A code is accepted at most once: the step (30-second window) of each accepted code is
stored, and the update that stores it is conditional on the step being newer than the
last one, so of two requests racing with the same code exactly one wins. Recovery codes
are random (60 bits each), stored as SHA-256 hashes (a slow hash buys nothing against a
random value of that size), and each is spent by a conditional update.

The secret of a new authenticator is drawn for one set-up (sign_ins.begin_set_up) and
written to the account only when a first code from it is right (``confirm_enrolment``):
nobody who merely knows the password ever sees an account's secret.

Codes are read as people type them: with spaces, in any case, and with the digits of any
script (a phone set to Arabic types ٠١٢٣, a Japanese keyboard full-width １２３); they
are the same numbers, so they are read as 0-9 (``normalise``) and anything else is just
a wrong code, never an error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.models import StaffRecoveryCode, StaffSecondFactor

RECOVERY_CODE_COUNT = 10
# Crockford's base-32 alphabet, without letters that read like digits.
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_LENGTH = 12  # 60 bits
# ASCII digits only (re.ASCII): every other script's digits are turned into these first.
_TOTP_CODE = re.compile(r"^[0-9]{6}$", re.ASCII)
# A code from the step before or after the server's is accepted too: a phone's clock may
# be up to 30 seconds off, and a person may take a few seconds to type.
_STEP_TOLERANCE = (0, -1, 1)


class SecondFactorError(ValueError):
    """A code that is not right (or already used); the message is for the person."""


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    # "totp" or "recovery" when ok; what was wrong otherwise, for the audit trail.
    kind: str
    recovery_codes_left: int | None = None
    # Set when the account's code step waits (sign_ins.try_code): until when, and
    # whether this check is the one that started the wait.
    waiting_until: datetime | None = None
    started_wait: bool = False


def find(session: Session, *, staff_id: int) -> StaffSecondFactor | None:
    return session.get(StaffSecondFactor, staff_id)


def is_enrolled(session: Session, *, staff_id: int) -> bool:
    factor = find(session, staff_id=staff_id)
    return factor is not None and factor.confirmed_at is not None


def new_secret() -> str:
    """A new authenticator secret (160 bits, base32), for one set-up."""
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code as an inline SVG element, drawn here: the secret never leaves the
    server for a QR service."""
    # Imported on first use (about 9 MB): only the set-up page draws a QR code.
    import segno

    return segno.make(uri, error="m").svg_inline(
        scale=5, title="QR code for your authenticator app"
    )


def display_secret(secret: str) -> str:
    """The secret in groups of four, as people type it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(
    session: Session, *, staff_id: int, secret: str, code: str, now: datetime
) -> list[str]:
    """The first code from the new app proves it is set up: the set-up's secret becomes
    the account's (replacing any earlier one). Returns ten recovery codes, shown once;
    only their hashes are kept."""
    step = _matching_step(secret, normalise(code), now)
    if step is None:
        raise SecondFactorError(
            "Enter the 6-digit code your authenticator app shows now for this account"
        )
    session.execute(delete(StaffSecondFactor).where(StaffSecondFactor.staff_id == staff_id))
    # The step of this first code is spent: it cannot sign in a second time.
    session.add(
        StaffSecondFactor(
            staff_id=staff_id, totp_secret=secret, confirmed_at=now, last_used_step=step
        )
    )
    session.flush()
    return new_recovery_codes(session, staff_id=staff_id)


def new_recovery_codes(session: Session, *, staff_id: int) -> list[str]:
    """Ten fresh codes; any old ones stop working."""
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff_id))
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    session.add_all(
        StaffRecoveryCode(staff_id=staff_id, code_hash=_hash_recovery(c)) for c in codes
    )
    session.flush()
    return [display_recovery_code(c) for c in codes]


def display_recovery_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def recovery_codes_left(session: Session, *, staff_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(StaffRecoveryCode)
            .where(StaffRecoveryCode.staff_id == staff_id, StaffRecoveryCode.used_at.is_(None))
        )
        or 0
    )


def looks_like_code(text: str) -> bool:
    """Whether what was typed has the shape of a code (6 digits, or a recovery code), as
    opposed to a password, where either would do."""
    cleaned = normalise(text)
    recovery = cleaned.upper().replace("-", "")
    return bool(_TOTP_CODE.match(cleaned)) or (
        len(recovery) == _RECOVERY_LENGTH
        and recovery.isascii()
        and all(ch in _RECOVERY_ALPHABET for ch in recovery)
    )


def check_code(session: Session, *, staff_id: int, code: str, now: datetime) -> CodeCheck:
    """A 6-digit code from the app, or a recovery code; either is accepted once only."""
    factor = find(session, staff_id=staff_id)
    if factor is None or factor.confirmed_at is None:
        return CodeCheck(False, "no authenticator set up")
    cleaned = normalise(code)
    if _TOTP_CODE.match(cleaned):
        step = _matching_step(factor.totp_secret, cleaned, now)
        if step is None:
            return CodeCheck(False, "wrong code")
        if not _spend_step(session, staff_id=staff_id, step=step):
            return CodeCheck(False, "code already used")
        return CodeCheck(True, "totp")
    recovery = cleaned.upper().replace("-", "")
    if len(recovery) != _RECOVERY_LENGTH or not recovery.isascii():
        return CodeCheck(False, "wrong code")
    spent = session.execute(
        update(StaffRecoveryCode)
        .where(
            StaffRecoveryCode.staff_id == staff_id,
            StaffRecoveryCode.code_hash == _hash_recovery(recovery),
            StaffRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return CodeCheck(False, "wrong or used recovery code")
    return CodeCheck(True, "recovery", recovery_codes_left(session, staff_id=staff_id))


def reset(session: Session, *, staff_id: int) -> None:
    """Forget the account's authenticator and recovery codes: it enrols again at its
    next sign-in."""
    session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff_id))
    session.execute(delete(StaffSecondFactor).where(StaffSecondFactor.staff_id == staff_id))
    session.flush()


def normalise(code: str) -> str:
    """A code as typed, as the checks read it: Unicode compatibility forms folded (NFKC:
    full-width １ is 1, full-width Ａ is A), every decimal digit of any script turned into
    its 0-9 (Arabic-Indic ٣ and Devanagari ३ are 3), and spaces removed."""
    folded = unicodedata.normalize("NFKC", code)
    digits = "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in folded
    )
    return "".join(digits.split())


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    if not _TOTP_CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in _STEP_TOLERANCE:
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _spend_step(session: Session, *, staff_id: int, step: int) -> bool:
    """Record the step as used, only if it is newer than the last one used."""
    result = session.execute(
        update(StaffSecondFactor)
        .where(
            StaffSecondFactor.staff_id == staff_id,
            or_(
                StaffSecondFactor.last_used_step.is_(None),
                StaffSecondFactor.last_used_step < step,
            ),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        factor = session.get(StaffSecondFactor, staff_id)
        if factor is not None:
            session.refresh(factor)
        return True
    return False


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
