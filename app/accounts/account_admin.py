"""Account management by intake admins: new accounts by one-time link, roles,
deactivation, second-factor resets, ending sessions; and people changing their own
password. Every change is written to the audit trail by the function that makes it.

A new account gets no password from the admin: the admin gets a link (shown once, valid
for a few hours, usable once) to hand to the person, who sets their own password and
then their second factor. Only a hash of the link's token is stored.

A second factor is only ever set up through such a link, never on the strength of a
password alone (which someone else may know): a new account's link sets the password and
then the authenticator app; an account made on the command line, or whose second factor
was reset, gets a link that asks for its password and then sets up the app
(``sets_password`` False). Whoever acts is an ``Actor``; None means the command line,
whose entries say who ran it (``via``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts import passkeys, second_factor, sign_ins, staff_accounts
from app.accounts.staff_accounts import AccountError, HashCost
from app.audit import trail
from app.common.actor import Actor
from app.models import (
    EMAIL_MAX,
    NAME_MAX,
    AuditEvent,
    StaffInvitation,
    StaffRole,
    StaffSecondFactor,
    StaffUser,
)
from app.vocabulary import AuditAction

INVITATION_TOKEN_BYTES = 32


class InvitationInvalid(LookupError):
    """The link was used already, has expired, or never existed."""


class WrongPassword(ValueError):
    """A set-up link's page was given a password that is not the account's."""


@dataclass(frozen=True)
class Invitation:
    staff: StaffUser
    token: str
    expires_at: datetime


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _log(
    session: Session,
    action: AuditAction,
    *,
    actor: Actor | None,
    target: StaffUser,
    to_value: str | None = None,
    via: str | None = None,
) -> None:
    # No actor: a change made with `flask staff ...` on the server, which says who ran it
    # (``via``).
    trail.record_account_change(
        session,
        action=action,
        account=target,
        actor=actor,
        via=via or (None if actor else "command line"),
        to_value=to_value,
    )


def _themselves(staff: StaffUser, client_ip: str | None) -> Actor:
    """The account's own holder, acting on it (setting a password through a link)."""
    return Actor(staff_id=staff.id, role=staff.role, client_ip=client_ip)


def invite(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    actor: Actor,
    now: datetime,
    valid_hours: int,
    cost: HashCost,
) -> Invitation:
    staff = create_account(session, email=email, name=name, role=role, actor=actor, cost=cost)
    return issue_link(session, staff=staff, actor=actor, now=now, valid_hours=valid_hours)


def create_account(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    actor: Actor,
    cost: HashCost,
) -> StaffUser:
    """An account without a set-up link: with the hospital's identity provider
    (OIDC_ISSUER), the person's first provider sign-in links it by their verified e-mail,
    and no password of theirs is ever set here."""
    email = staff_accounts.normalize_email(email)
    name = name.strip()
    if "@" not in email or len(email) > EMAIL_MAX:
        raise AccountError("Enter a valid email address")
    if not name or len(name) > NAME_MAX:
        raise AccountError(f"Enter a name of at most {NAME_MAX} characters")
    if staff_accounts.find_by_email(session, email=email) is not None:
        raise AccountError(f"There is already an account for {email}")
    staff = StaffUser(
        email=email,
        name=name,
        role=role,
        # Nobody knows this password: the person sets theirs through the link.
        password_hash=staff_accounts.hasher(cost).hash(secrets.token_urlsafe(32)),
        active=True,
        wrong_codes=0,
    )
    session.add(staff)
    session.flush()
    _log(session, AuditAction.ACCOUNT_CREATED, actor=actor, target=staff, to_value=role.value)
    return staff


def issue_link(
    session: Session,
    *,
    staff: StaffUser,
    actor: Actor | None,
    now: datetime,
    valid_hours: int,
    sets_password: bool = True,
    via: str | None = None,
) -> Invitation:
    """A new one-time link for the account; any earlier unused link stops working.
    ``sets_password``: the link sets a new password and then the second factor (a new
    account, a forgotten password); otherwise it asks for the account's password and
    sets up the second factor only."""
    session.execute(
        update(StaffInvitation)
        .where(StaffInvitation.staff_id == staff.id, StaffInvitation.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    expires_at = now + timedelta(hours=valid_hours)
    session.add(
        StaffInvitation(
            staff_id=staff.id,
            token_hash=_hash_token(token),
            created_by_id=actor.staff_id if actor else None,
            expires_at=expires_at,
            sets_password=sets_password,
        )
    )
    session.flush()
    _log(
        session,
        AuditAction.ACCOUNT_LINK_ISSUED,
        actor=actor,
        target=staff,
        to_value=None if sets_password else "second factor",
        via=via,
    )
    return Invitation(staff, token, expires_at)


def find_invitation(session: Session, *, token: str, now: datetime) -> StaffInvitation:
    invitation = session.scalar(
        select(StaffInvitation).where(StaffInvitation.token_hash == _hash_token(token))
    )
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
        raise InvitationInvalid
    staff = session.get(StaffUser, invitation.staff_id)
    if staff is None or not staff.active:
        raise InvitationInvalid
    return invitation


def _spend(session: Session, *, invitation: StaffInvitation, now: datetime) -> None:
    """Spend the link by a conditional update, so of two uses (a double click, a copied
    link) exactly one succeeds."""
    spent = session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.id == invitation.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(used_at=now)
        # The database decides; SQLite's naive datetimes cannot be compared in Python.
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise InvitationInvalid


def accept_invitation(
    session: Session,
    *,
    token: str,
    password: str,
    now: datetime,
    cost: HashCost,
    center_names: tuple[str, ...] = (),
    client_ip: str | None,
) -> sign_ins.Begun:
    """Use a link: a link that ``sets_password`` sets this new password; any other checks
    that this is the account's password (WrongPassword, the link not spent). Either way
    the account's second factor and passkeys are forgotten and a set-up begins, with a
    secret drawn for it; the caller gives its key to this browser."""
    invitation = find_invitation(session, token=token, now=now)
    staff = session.get(StaffUser, invitation.staff_id)
    assert staff is not None  # checked by find_invitation
    if invitation.sets_password:
        staff_accounts.check_password_rules(
            password, user_inputs=(staff.email, staff.name), center_names=center_names
        )
    elif not staff_accounts.password_is_right(staff, password, cost):
        raise WrongPassword
    _spend(session, invitation=invitation, now=now)
    if invitation.sets_password:
        staff.password_hash = staff_accounts.hasher(cost).hash(password)
    staff.session_nonce = None
    second_factor.reset(session, staff_id=staff.id)
    passkeys.remove_all(session, staff_id=staff.id)
    actor = _themselves(staff, client_ip)
    _log(session, AuditAction.ACCOUNT_LINK_USED, actor=actor, target=staff)
    begun = sign_ins.begin_set_up(session, staff_id=staff.id, now=now)
    trail.record(session, action=AuditAction.SECOND_FACTOR_SET_UP_BEGUN, actor=actor)
    return begun


def _not_yourself(actor: Actor, staff: StaffUser, what: str) -> None:
    # An admin who demotes or deactivates themselves could leave nobody to manage accounts.
    if actor.staff_id == staff.id:
        raise AccountError(f"You cannot {what} your own account: ask another admin")


def change_role(session: Session, *, staff: StaffUser, role: StaffRole, actor: Actor) -> None:
    _not_yourself(actor, staff, "change the role of")
    if staff.role == role:
        return
    staff.role = role
    session.flush()
    _log(session, AuditAction.ROLE_CHANGED, actor=actor, target=staff, to_value=role.value)


def set_active(session: Session, *, staff: StaffUser, active: bool, actor: Actor | None) -> None:
    if actor is not None:
        _not_yourself(actor, staff, "deactivate or reactivate")
    staff.active = active
    if not active:
        staff.session_nonce = None
    session.flush()
    action = AuditAction.ACCOUNT_REACTIVATED if active else AuditAction.ACCOUNT_DEACTIVATED
    _log(session, action, actor=actor, target=staff)


def reset_second_factor(
    session: Session,
    *,
    staff: StaffUser,
    actor: Actor | None,
    now: datetime,
    valid_hours: int,
    via: str | None = None,
) -> Invitation:
    """A lost phone: the account's authenticator, recovery codes and passkeys are
    forgotten, its sessions and sign-ins in progress end, and it gets a one-time link to
    set up a new authenticator (the link asks for its password). Returns the link."""
    second_factor.reset(session, staff_id=staff.id)
    passkeys.remove_all(session, staff_id=staff.id)
    sign_ins.end_all(session, staff_id=staff.id, now=now)
    staff.session_nonce = None
    session.flush()
    _log(
        session,
        AuditAction.SECOND_FACTOR_RESET,
        actor=actor,
        target=staff,
        via=via,
    )
    return issue_link(
        session,
        staff=staff,
        actor=actor,
        now=now,
        valid_hours=valid_hours,
        sets_password=False,
        via=via,
    )


def end_sessions(session: Session, *, staff: StaffUser, actor: Actor) -> None:
    # No nonce matches None: every cookie of the account stops working; the next
    # sign-in sets a new one.
    staff.session_nonce = None
    session.flush()
    _log(session, AuditAction.SESSIONS_ENDED, actor=actor, target=staff)


def unlink_provider(session: Session, *, staff: StaffUser, actor: Actor) -> None:
    """Forget which hospital account signs this one in (the hospital changed provider, or
    re-made the person's account there): its sessions end, and its next sign-in through
    the provider links it again by its verified e-mail, as the first one did."""
    if staff.oidc_subject is None:
        raise AccountError(f"{staff.name}'s account is not linked to a hospital account")
    staff.oidc_issuer = None
    staff.oidc_subject = None
    staff.session_nonce = None
    session.flush()
    _log(session, AuditAction.PROVIDER_UNLINKED, actor=actor, target=staff)


def change_own_password(
    session: Session,
    *,
    actor: Actor,
    new_password: str,
    cost: HashCost,
    center_names: tuple[str, ...] = (),
) -> str:
    """The caller has checked the old password and the second factor. Returns the new
    session nonce: every other session of the account ends."""
    staff = session.get(StaffUser, actor.staff_id)
    if staff is None:
        raise AccountError("There is no such account")
    staff_accounts.check_password_rules(
        new_password, user_inputs=(staff.email, staff.name), center_names=center_names
    )
    staff.password_hash = staff_accounts.hasher(cost).hash(new_password)
    staff.session_nonce = secrets.token_urlsafe(32)
    session.flush()
    _log(session, AuditAction.PASSWORD_CHANGED, actor=actor, target=staff)
    return staff.session_nonce


@dataclass(frozen=True)
class AccountRow:
    staff: StaffUser
    second_factor: bool
    link_pending: bool


def account_rows(session: Session, *, now: datetime) -> list[AccountRow]:
    enrolled = set(
        session.scalars(
            select(StaffSecondFactor.staff_id).where(StaffSecondFactor.confirmed_at.is_not(None))
        )
    )
    pending = set(
        session.scalars(
            select(StaffInvitation.staff_id).where(
                StaffInvitation.used_at.is_(None), StaffInvitation.expires_at > now
            )
        )
    )
    return [
        AccountRow(s, s.id in enrolled, s.id in pending) for s in staff_accounts.list_staff(session)
    ]


@dataclass(frozen=True)
class StormRow:
    occurred_at: datetime
    staff_name: str | None
    action: str
    detail: str | None

    @property
    def label(self) -> str:
        if self.action == AuditAction.SIGN_IN_STORM.value:
            return f"Many failed sign-ins against the account ({self.detail})"
        if self.action == AuditAction.SECOND_FACTOR_WAIT.value:
            return f"Too many wrong codes: someone who has the password ({self.detail})"
        return "An address was refused after too many failures"


# What the admins' accounts page lists as attacks on sign-in.
_STORM_ACTIONS = (
    AuditAction.SIGN_IN_STORM.value,
    AuditAction.SIGN_IN_THROTTLED.value,
    AuditAction.SECOND_FACTOR_WAIT.value,
)


def recent_storms(session: Session, *, since: datetime) -> list[StormRow]:
    """Storms of wrong passwords against an account, addresses refused, and accounts whose
    code step waits after too many wrong codes, newest first, for the admins' page."""
    rows = session.execute(
        select(AuditEvent.occurred_at, StaffUser.name, AuditEvent.action, AuditEvent.detail)
        .outerjoin(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .where(
            AuditEvent.action.in_(_STORM_ACTIONS),
            AuditEvent.occurred_at >= since,
        )
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return [StormRow(r[0], r[1], r[2], r[3]) for r in rows]
