"""Command-line tasks: `flask staff create|set-password|deactivate|reset-second-factor|list|
break-glass`.

Every change an account command makes is recorded in the audit trail, through
audit.record_account_change, in the same transaction as the change, marked as made from
the command line.

An account made here (or whose second factor is reset here) has no authenticator app
yet, and a password alone never sets one up: the command prints a one-time set-up link
(STAFF_LINK_HOURS), which asks for the password and then sets up the app. Hand it to the
person over a channel only they read."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask, current_app, url_for
from flask.cli import AppGroup

from app.accounts import account_admin, emergency_access, staff_accounts
from app.audit import trail
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffRole, StaffUser
from app.vocabulary import AuditAction

staff_cli = AppGroup("staff", help="Manage intake staff accounts.")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    # Scripts pipe the password in: the first line of standard input.
    return sys.stdin.readline().rstrip("\r\n")


def _via() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"command line (user {user})"


def _record(session, action: AuditAction, staff) -> None:
    trail.record_account_change(
        session,
        action=action,
        account=staff,
        actor=None,
        via=_via(),
        to_value=staff.role.value,
    )


def _cost() -> staff_accounts.HashCost:
    return staff_accounts.HashCost(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_kib=current_app.config["ARGON2_MEMORY_KIB"],
    )


def center_names() -> tuple[str, ...]:
    """What a staff password must not lean on, besides the person's own name."""
    return (current_app.config["CENTER_NAME"], current_app.config["PROGRAM_NAME"])


def _set_up_link(session, staff: StaffUser) -> account_admin.Invitation:
    """A one-time link that asks for the account's password and sets up its app."""
    return account_admin.issue_link(
        session,
        staff=staff,
        actor=None,
        now=now_utc(),
        valid_hours=current_app.config["STAFF_LINK_HOURS"],
        sets_password=False,
        via=_via(),
    )


def _print_link(invitation: account_admin.Invitation) -> None:
    # The address staff reach the site at (SITE_URL), as the admins' pages build it.
    with current_app.test_request_context(base_url=current_app.config["SITE_URL"]):
        link = url_for("auth.welcome", token=invitation.token, _external=True)
    hours = current_app.config["STAFF_LINK_HOURS"]
    click.echo(
        f"Before the first sign-in, {invitation.staff.email} sets up an authenticator app "
        f"through this one-time link (it works once, for {hours} hours, and asks for the "
        "password). Give it only to them:"
    )
    click.echo(link)


@staff_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name, as shown to colleagues.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    default=StaffRole.INTAKE.value,
    show_default=True,
)
def create(email: str, name: str, role: str) -> None:
    """Create a staff account. The password is asked for twice, or read from stdin."""
    password = _read_password()
    session = get_session()
    try:
        staff = staff_accounts.create_staff(
            session,
            email=email,
            name=name,
            role=StaffRole(role),
            password=password,
            cost=_cost(),
            center_names=center_names(),
            # Made on the server (the first admin): still signs in if the provider is down.
            local_sign_in=True,
        )
        _record(session, AuditAction.ACCOUNT_CREATED, staff)
        invitation = _set_up_link(session, staff)
    except staff_accounts.AccountError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    click.echo(f"Created {role} account for {staff_accounts.normalize_email(email)}.")
    _print_link(invitation)


@staff_cli.command("set-password")
@click.argument("email")
def set_password(email: str) -> None:
    """Give an account a new password; this also lifts a lock-out and signs it out."""
    password = _read_password()
    session = get_session()
    try:
        staff = staff_accounts.set_password(
            session, email=email, password=password, cost=_cost(), center_names=center_names()
        )
        _record(session, AuditAction.PASSWORD_SET, staff)
    except staff_accounts.AccountError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    click.echo(f"New password set for {staff.email}.")


@staff_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop an account from signing in, and end its open sessions."""
    session = get_session()
    try:
        staff = staff_accounts.deactivate_staff(session, email=email)
        _record(session, AuditAction.ACCOUNT_DEACTIVATED, staff)
    except staff_accounts.AccountError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    click.echo(f"Deactivated {staff.email}.")


@staff_cli.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email: str) -> None:
    """Forget an account's authenticator app, recovery codes and passkeys (a lost phone),
    and sign it out; prints the one-time link through which it sets up a new app."""
    session = get_session()
    staff = staff_accounts.find_by_email(session, email=email)
    if staff is None:
        raise click.ClickException(
            f"There is no account for {staff_accounts.normalize_email(email)}"
        )
    invitation = account_admin.reset_second_factor(
        session,
        staff=staff,
        actor=None,
        now=now_utc(),
        valid_hours=current_app.config["STAFF_LINK_HOURS"],
        via=_via(),
    )
    session.commit()
    click.echo(f"Forgot the authenticator app of {staff.email} and signed it out.")
    _print_link(invitation)


@staff_cli.command("list")
def list_accounts() -> None:
    """Every account, active or not."""
    for staff in staff_accounts.list_staff(get_session()):
        state = "active" if staff.active else "deactivated"
        click.echo(f"{staff.email}\t{staff.name}\t{staff.role.value}\t{state}")


@staff_cli.command("break-glass")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--hours", type=int, required=True, help="How long the account works (1 to 72).")
@click.option("--reason", required=True, help="Why emergency access is needed; admins see it.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in StaffRole]),
    default=StaffRole.INTAKE.value,
    show_default=True,
)
def break_glass(email: str, name: str, hours: int, reason: str, role: str) -> None:
    """Emergency access: a time-boxed account whose every action is flagged in the audit
    trail and listed for admins. The password is asked for twice, or read from stdin."""
    password = _read_password()
    session = get_session()
    try:
        grant = emergency_access.create_emergency_account(
            session,
            email=email,
            name=name,
            role=StaffRole(role),
            password=password,
            hours=hours,
            max_hours=current_app.config["EMERGENCY_ACCESS_MAX_HOURS"],
            reason=reason,
            now=now_utc(),
            cost=_cost(),
            via=_via(),
            center_names=center_names(),
        )
        staff = session.get(StaffUser, grant.staff_id)
        invitation = _set_up_link(session, staff)
    except staff_accounts.AccountError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    expires = grant.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(
        f"Created emergency {role} account for {staff_accounts.normalize_email(email)}, "
        f"usable until {expires}. Every action it takes is flagged for admins."
    )
    _print_link(invitation)


def init_app(app: Flask) -> None:
    app.cli.add_command(staff_cli)
