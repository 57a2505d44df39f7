"""Account management for intake admins: add an account (by one-time link), change a
role, deactivate or reactivate, reset a second factor, end sessions. Every change needs
a recent proof of identity and is written to the audit trail by the service."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for

from app.accounts import account_admin, provider_accounts, second_factor, sign_ins
from app.accounts.staff_accounts import AccountError
from app.admin.forms import ROLE_LABELS, NewAccountForm, RoleForm
from app.admin.views import bp
from app.auth import provider
from app.auth.access import admin_required, current_actor, recent_proof_required
from app.auth.views import hash_cost
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffRole, StaffUser
from app.transactions import commits, read_only

STORM_DAYS = 7


def _account(staff_id: int) -> StaffUser:
    staff = get_session().get(StaffUser, staff_id)
    if staff is None:
        abort(404)
    return staff


def _link_url(token: str) -> str:
    return url_for("auth.welcome", token=token, _external=True)


@bp.get("/accounts")
@admin_required
@read_only
def accounts():
    now = now_utc()
    return render_template(
        "admin/accounts.html",
        rows=account_admin.account_rows(get_session(), now=now),
        storms=account_admin.recent_storms(get_session(), since=now - timedelta(days=STORM_DAYS)),
        storm_days=STORM_DAYS,
        role_labels=ROLE_LABELS,
    )


@bp.route("/accounts/new", methods=["GET", "POST"])
@admin_required
@recent_proof_required
@commits
def new_account():
    form = NewAccountForm()
    code = 200
    if form.validate_on_submit():
        try:
            if provider.enabled():
                # No set-up link: the first sign-in through the provider links it.
                staff = account_admin.create_account(
                    get_session(),
                    email=form.email.data,
                    name=form.name.data,
                    role=StaffRole(form.role.data),
                    actor=current_actor(),
                    cost=hash_cost(),
                )
                return render_template(
                    "admin/account_provider.html",
                    staff=staff,
                    button_label=current_app.config["OIDC_BUTTON_LABEL"],
                )
            invitation = account_admin.invite(
                get_session(),
                email=form.email.data,
                name=form.name.data,
                role=StaffRole(form.role.data),
                actor=current_actor(),
                now=now_utc(),
                valid_hours=current_app.config["STAFF_LINK_HOURS"],
                cost=hash_cost(),
            )
        except AccountError as error:
            form.email.errors = [str(error)]
            code = 400
        else:
            return _show_link(invitation)
    elif form.is_submitted():
        code = 400
    return render_template("admin/account_new.html", form=form), code


def _show_link(invitation: account_admin.Invitation, *, sets_password: bool = True):
    # Shown once, on the answer to the POST: only a hash of the token is stored.
    return render_template(
        "admin/account_link.html",
        staff=invitation.staff,
        link=_link_url(invitation.token),
        expires_at=invitation.expires_at,
        hours=current_app.config["STAFF_LINK_HOURS"],
        sets_password=sets_password,
    )


@bp.get("/accounts/<id:staff_id>")
@admin_required
@read_only
def account(staff_id: int):
    staff = _account(staff_id)
    return render_template(
        "admin/account.html",
        staff=staff,
        role_form=RoleForm(formdata=None, role=staff.role.value),
        action_form=ActionForm(formdata=None),
        enrolled=second_factor.is_enrolled(get_session(), staff_id=staff.id),
        codes_left=second_factor.recovery_codes_left(get_session(), staff_id=staff.id),
        codes_wait_until=sign_ins.codes_wait_until(staff, now=now_utc()),
        role_labels=ROLE_LABELS,
        is_self=staff.id == current_actor().staff_id,
        hospital_sign_in=provider.enabled(),
        password_opens=_password_opens(staff),
        button_label=current_app.config["OIDC_BUTTON_LABEL"],
    )


def _password_opens(staff: StaffUser) -> bool:
    return provider_accounts.password_opens(staff, provider_on=provider.enabled())


def _refuse_set_up_link(staff: StaffUser, *, inactive: str) -> str | None:
    """Why no set-up link is made for this account, if it is not. A link sets a password
    or an authenticator app: neither opens an account that signs in only through the
    hospital's provider."""
    if not staff.active:
        return inactive
    if not _password_opens(staff):
        return (
            f"{staff.name} signs in with the hospital's button, which checks their password "
            "and second factor: there is nothing to set up here."
        )
    return None


def _back(staff_id: int):
    return redirect(url_for(".account", staff_id=staff_id), code=303)


def _apply(staff_id: int, change, done: str):
    """Run one account change from a button and say what happened (committed by the
    view's @commits; a refused change wrote nothing and is rolled back with it)."""
    staff = _account(staff_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        change(staff)
    except AccountError as error:
        flash(str(error), "error")
        return _back(staff_id)
    flash(done.format(name=staff.name), "success")
    return _back(staff_id)


@bp.post("/accounts/<id:staff_id>/role")
@admin_required
@recent_proof_required
@commits
def change_role(staff_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    role = StaffRole(form.role.data)
    return _apply(
        staff_id,
        lambda staff: account_admin.change_role(
            get_session(), staff=staff, role=role, actor=current_actor()
        ),
        "{name} is now: " + ROLE_LABELS[role].lower() + ".",
    )


@bp.post("/accounts/<id:staff_id>/deactivate")
@admin_required
@recent_proof_required
@commits
def deactivate(staff_id: int):
    return _apply(
        staff_id,
        lambda staff: account_admin.set_active(
            get_session(), staff=staff, active=False, actor=current_actor()
        ),
        "{name}'s account is deactivated and signed out everywhere.",
    )


@bp.post("/accounts/<id:staff_id>/reactivate")
@admin_required
@recent_proof_required
@commits
def reactivate(staff_id: int):
    return _apply(
        staff_id,
        lambda staff: account_admin.set_active(
            get_session(), staff=staff, active=True, actor=current_actor()
        ),
        "{name}'s account is active again.",
    )


@bp.post("/accounts/<id:staff_id>/reset-second-factor")
@admin_required
@recent_proof_required
@commits
def reset_second_factor(staff_id: int):
    """A lost phone: the account's second factor is forgotten and the admin is shown the
    one-time link through which its owner sets up a new one (with their password)."""
    staff = _account(staff_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refused = _refuse_set_up_link(
        staff, inactive="Reactivate the account before you reset its second factor."
    )
    if refused:
        flash(refused, "error")
        return _back(staff_id)
    invitation = account_admin.reset_second_factor(
        get_session(),
        staff=staff,
        actor=current_actor(),
        now=now_utc(),
        valid_hours=current_app.config["STAFF_LINK_HOURS"],
    )
    return _show_link(invitation, sets_password=False)


@bp.post("/accounts/<id:staff_id>/end-sessions")
@admin_required
@recent_proof_required
@commits
def end_sessions(staff_id: int):
    return _apply(
        staff_id,
        lambda staff: account_admin.end_sessions(get_session(), staff=staff, actor=current_actor()),
        "{name} is signed out everywhere.",
    )


@bp.post("/accounts/<id:staff_id>/unlink-provider")
@admin_required
@recent_proof_required
@commits
def unlink_provider(staff_id: int):
    return _apply(
        staff_id,
        lambda staff: account_admin.unlink_provider(
            get_session(), staff=staff, actor=current_actor()
        ),
        "{name}'s account is no longer linked to a hospital account and is signed out "
        "everywhere. Their next sign-in with the hospital's button links it again by their "
        "verified e-mail address.",
    )


@bp.post("/accounts/<id:staff_id>/link")
@admin_required
@recent_proof_required
@commits
def new_link(staff_id: int):
    """A new one-time link: for someone whose link expired, or who forgot their password
    (they set a new one and a new second factor)."""
    staff = _account(staff_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refused = _refuse_set_up_link(staff, inactive="Reactivate the account before you send a link.")
    if refused:
        flash(refused, "error")
        return _back(staff_id)
    invitation = account_admin.issue_link(
        get_session(),
        staff=staff,
        actor=current_actor(),
        now=now_utc(),
        valid_hours=current_app.config["STAFF_LINK_HOURS"],
    )
    return _show_link(invitation)
