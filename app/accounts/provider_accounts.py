"""Who a sign-in through the hospital's identity provider is here (issue 32).

The provider says who someone is; whether they may come in stays this app's decision. A
provider sign-in opens a session only for an account that exists here and is active,
found by the provider's stable subject (``sub``, unique per issuer). The first time, an
account with no subject yet is linked by the provider's *verified* e-mail; from then on
only the subject counts, so a renamed e-mail at the provider cannot reach another
account. Optionally (OIDC_GROUP_ROLES, off by default) a provider group creates the
account on first sign-in with a role.

Everything a refusal writes is the account's id or a keyed hash of the subject: never
the e-mail, a name or a group as the provider sent them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import staff_accounts
from app.audit import chain, trail
from app.common.time import now_utc
from app.models import EMAIL_MAX, NAME_MAX, StaffRole, StaffUser
from app.vocabulary import AuditAction
from config import ConfigError

# The amr values (RFC 8176) that say more than one factor was used.
MULTI_FACTOR_AMR = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "sc"})


class ConfigurationError(ConfigError):
    """A provider setting cannot be read; the message names it (wsgi.py prints it as the
    one line it prints for any setting that stops the app)."""


@dataclass(frozen=True, kw_only=True)
class ProviderIdentity:
    """What the verified ID token says, reduced to what this module reads."""

    issuer: str
    subject: str
    # Only when the provider vouches for it (email_verified, or Entra ID's xms_edov).
    verified_email: str | None = None
    name: str | None = None
    groups: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()
    acr: str | None = None


@dataclass(frozen=True)
class Admission:
    """The account that may come in, or why nobody may (``refusal``: for the audit
    trail only, never shown)."""

    staff: StaffUser | None
    refusal: str | None = None
    # What this sign-in did to the account first ("linked ...", "created ..."), for the
    # detail of its one sign_in entry.
    note: str | None = None


def parse_group_roles(text: str | None) -> dict[str, StaffRole]:
    """OIDC_GROUP_ROLES: ``group=role`` pairs, comma-separated."""
    roles: dict[str, StaffRole] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        group, sep, role = pair.rpartition("=")
        try:
            roles[group.strip()] = StaffRole(role.strip())
        except ValueError:
            sep = ""
        if not sep or not group.strip():
            raise ConfigurationError(
                f"OIDC_GROUP_ROLES: {pair.strip()!r} is not group=role with a role of "
                f"{', '.join(r.value for r in StaffRole)}"
            )
    return roles


def second_factor_asserted(
    identity: ProviderIdentity, *, required_amr: Iterable[str], required_acr: Iterable[str]
) -> bool:
    """Whether the token proves the second factor the center asks for. Nothing asked:
    the provider's own policy is trusted."""
    amr, acr = set(required_amr), set(required_acr)
    if not amr and not acr:
        return True
    return bool(amr & set(identity.amr)) or (identity.acr is not None and identity.acr in acr)


def find_linked(session: Session, identity: ProviderIdentity) -> StaffUser | None:
    return find_by_subject(session, issuer=identity.issuer, subject=identity.subject)


def find_by_subject(session: Session, *, issuer: str, subject: str) -> StaffUser | None:
    """The account linked to this subject of this provider, if any."""
    return session.scalar(
        select(StaffUser).where(StaffUser.oidc_issuer == issuer, StaffUser.oidc_subject == subject)
    )


def admit(
    session: Session,
    identity: ProviderIdentity,
    *,
    group_roles: Mapping[str, StaffRole],
    client_ip: str | None,
) -> Admission:
    """The account this provider sign-in opens, linking or creating it when the rules
    allow; every refusal is on the record. The caller commits either way."""
    staff, note = find_linked(session, identity), None
    if staff is None:
        staff, note = _link_or_create(session, identity, group_roles, client_ip)
        if staff is None:
            return _refused(session, identity, None, note, client_ip)
        note = note or None
    if not staff.active:
        return _refused(session, identity, staff, "account deactivated", client_ip)
    if staff.role_from_groups and not _follow_groups(session, staff, identity, group_roles):
        return _refused(session, identity, staff, "no mapped provider group any more", client_ip)
    if staff_accounts.emergency_expired(session, staff_id=staff.id, now=now_utc()):
        return _refused(session, identity, staff, "emergency access expired", client_ip)
    return Admission(staff, note=note)


def _link_or_create(
    session: Session,
    identity: ProviderIdentity,
    group_roles: Mapping[str, StaffRole],
    client_ip: str | None,
) -> tuple[StaffUser | None, str]:
    """The account and what was done to it, or None and why not."""
    email = identity.verified_email
    if email is None:
        return None, "no account linked to this subject, and no verified e-mail"
    staff = staff_accounts.find_by_email(session, email=email)
    if staff is not None:
        if staff.oidc_subject is not None:
            # Someone else's account, already linked: a renamed or reused e-mail.
            return None, "the e-mail's account is linked to another subject"
        if not staff.active:
            return staff, ""  # refused by admit, on the account's record; never linked
        staff.oidc_issuer, staff.oidc_subject = identity.issuer, identity.subject
        return staff, "account linked by its verified e-mail"
    role = _mapped_role(identity.groups, group_roles)
    if role is None:
        return None, "no account here"
    created = _create(session, identity, email, role, client_ip)
    if created is None:
        return None, "no account here; e-mail unusable"
    return created, "account created from a provider group"


def _follow_groups(
    session: Session,
    staff: StaffUser,
    identity: ProviderIdentity,
    group_roles: Mapping[str, StaffRole],
) -> bool:
    """An account the groups made keeps following them: its role changes with them, and
    it has no access once none of its groups is mapped (or the mapping is turned off)."""
    role = _mapped_role(identity.groups, group_roles)
    if role is None:
        return False
    if role != staff.role:
        staff.role = role
        trail.record_account_change(
            session,
            action=AuditAction.ROLE_CHANGED,
            account=staff,
            actor=None,
            via="the identity provider's groups",
            to_value=role.value,
        )
    return True


def _mapped_role(groups: Iterable[str], group_roles: Mapping[str, StaffRole]) -> StaffRole | None:
    roles = {group_roles[g] for g in groups if g in group_roles}
    if StaffRole.ADMIN in roles:
        return StaffRole.ADMIN
    return next(iter(roles), None)


def _create(
    session: Session, identity: ProviderIdentity, email: str, role: StaffRole, client_ip
) -> StaffUser | None:
    if len(email) > EMAIL_MAX or "@" not in email:
        return None
    name = " ".join((identity.name or email.split("@")[0]).split())[:NAME_MAX] or email
    staff = StaffUser(
        email=staff_accounts.normalize_email(email),
        name=name,
        role=role,
        # Nobody knows it, and local sign-in is off for the account anyway.
        password_hash=f"!provider-only!{secrets.token_urlsafe(16)}",
        active=True,
        wrong_codes=0,
        local_sign_in=False,
        role_from_groups=True,
        oidc_issuer=identity.issuer,
        oidc_subject=identity.subject,
    )
    session.add(staff)
    session.flush()
    trail.record(
        session,
        action=AuditAction.ACCOUNT_CREATED,
        staff_id=staff.id,
        to_value=role.value,
        detail="first sign-in through the identity provider, role from a provider group",
        client_ip=client_ip,
    )
    return staff


def _refused(
    session: Session,
    identity: ProviderIdentity,
    staff: StaffUser | None,
    reason: str,
    client_ip: str | None,
) -> Admission:
    detail = f"identity provider: {reason}"
    if staff is None:
        subject = chain.keyed_digest(
            session, purpose="provider subject", value=f"{identity.issuer} {identity.subject}"
        )
        detail += f"; subject hash {subject}"
    trail.record(
        session,
        action=AuditAction.SIGN_IN_FAILED,
        staff_id=staff.id if staff else None,
        detail=detail,
        client_ip=client_ip,
    )
    return Admission(None, reason)


def refuse_without_second_factor(
    session: Session, identity: ProviderIdentity, *, client_ip: str | None
) -> None:
    """The provider signed the person in without the factor the center requires."""
    staff = find_linked(session, identity)
    _refused(session, identity, staff, "no second factor asserted (amr/acr)", client_ip)


def sign_out_everywhere(session: Session, *, issuer: str, subject: str) -> StaffUser | None:
    """The provider says this person signed out there (or was removed): the account
    linked to them loses every session here, on the record. None when no account is."""
    staff = find_by_subject(session, issuer=issuer, subject=subject)
    if staff is None:
        return None
    staff.session_nonce = None
    trail.record_account_change(
        session,
        action=AuditAction.SESSIONS_ENDED,
        account=staff,
        actor=None,
        via="the identity provider's back-channel logout",
    )
    return staff


def password_opens(staff: StaffUser, *, provider_on: bool) -> bool:
    """Whether the account's local password signs it in (or proves it is them again).
    Without the hospital's provider (OIDC_ISSUER), always; with it, only for accounts
    kept for local sign-in: made on the server's command line, break-glass ones, and the
    first admin at migration."""
    return not provider_on or staff.local_sign_in


def local_accounts(session: Session) -> list[StaffUser]:
    """The active accounts that can still sign in with a local password while the
    provider is on: the way in when it is down."""
    active = session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.email)
    )
    return [staff for staff in active if password_opens(staff, provider_on=True)]
