"""Passkeys (WebAuthn) as a second kind of second factor, through the `webauthn` library.

Registration and sign-in are each two steps: the server makes options with a random
challenge (kept by the caller in the signed session cookie, used once), the browser asks
the authenticator, and the server verifies the answer against the challenge, the site's
origin and relying-party id. Only the credential's public key is stored. User
verification (a PIN or biometric on the device) is required, so a passkey is a second
factor on its own merits beside the password.

`webauthn` is imported on first use, inside each function: with the `cryptography` and
pyOpenSSL modules it loads, it takes about 24 MB, and most workers never see a passkey
(docs/performance.md, worker memory; tests/test_lazy_imports.py checks it stays so).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.models import NAME_MAX, StaffPasskey, StaffUser

MAX_PASSKEYS = 10


class PasskeyError(ValueError):
    """The passkey could not be used or added; the message is for the person."""


def for_staff(session: Session, *, staff_id: int) -> list[StaffPasskey]:
    return list(
        session.scalars(
            select(StaffPasskey).where(StaffPasskey.staff_id == staff_id).order_by(StaffPasskey.id)
        )
    )


def registration_options(
    session: Session, *, staff: StaffUser, rp_id: str, rp_name: str
) -> tuple[str, bytes]:
    """The options for the browser, as JSON, and the challenge to keep for the answer."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    existing = for_staff(session, staff_id=staff.id)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(f"You have {MAX_PASSKEYS} passkeys: remove one before adding another")
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=f"staff-{staff.id}".encode(),
        user_name=staff.email,
        user_display_name=staff.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    return options_to_json(options), options.challenge


def register(
    session: Session,
    *,
    staff_id: int,
    credential: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
    name: str,
) -> StaffPasskey:
    from webauthn import verify_registration_response
    from webauthn.helpers import bytes_to_base64url

    # Every error the library raises about a malformed or wrong answer.
    from webauthn.helpers.exceptions import WebAuthnException

    name = name.strip()[:NAME_MAX] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyError("The passkey could not be added. Try again") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if session.scalar(select(StaffPasskey.id).where(StaffPasskey.credential_id == credential_id)):
        raise PasskeyError("That passkey is already added")
    passkey = StaffPasskey(
        staff_id=staff_id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
    )
    session.add(passkey)
    session.flush()
    return passkey


def authentication_options(session: Session, *, staff_id: int, rp_id: str) -> tuple[str, bytes]:
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    passkeys = for_staff(session, staff_id=staff_id)
    if not passkeys:
        raise PasskeyError("This account has no passkey")
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[_descriptor(p) for p in passkeys],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), options.challenge


def authenticate(
    session: Session,
    *,
    staff_id: int,
    credential: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: datetime,
) -> StaffPasskey:
    """The account's passkey that signed the challenge, or PasskeyError."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import WebAuthnException

    refused = PasskeyError("The passkey was not accepted. Try again, or type a code instead")
    try:
        credential_id = json.loads(credential)["id"]
    except (ValueError, KeyError, TypeError):
        raise refused from None
    passkey = session.scalar(
        select(StaffPasskey).where(
            StaffPasskey.staff_id == staff_id, StaffPasskey.credential_id == str(credential_id)
        )
    )
    if passkey is None:
        raise refused
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise refused from None
    # Conditional, so that two uses racing with one old counter cannot both pass.
    stored = session.execute(
        update(StaffPasskey)
        .where(StaffPasskey.id == passkey.id, StaffPasskey.sign_count == passkey.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if stored.rowcount != 1:
        raise refused
    session.refresh(passkey)
    return passkey


def remove(session: Session, *, staff_id: int, passkey_id: int) -> bool:
    result = session.execute(
        delete(StaffPasskey).where(StaffPasskey.id == passkey_id, StaffPasskey.staff_id == staff_id)
    )
    return result.rowcount == 1


def remove_all(session: Session, *, staff_id: int) -> None:
    session.execute(delete(StaffPasskey).where(StaffPasskey.staff_id == staff_id))


def _descriptor(passkey: StaffPasskey):
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    return PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id))
