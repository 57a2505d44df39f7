"""Signing in and out, and keeping a session alive."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for

from app import serving
from app.accounts import provider_accounts, sign_ins, staff_accounts
from app.audit import trail
from app.auth import provider, sign_in_steps
from app.auth.access import (
    VIA_PROVIDER,
    client_ip,
    current_actor,
    current_staff,
    end_session,
    idle_expired,
    login_required,
    public,
    safe_next,
    staff_blueprint,
    start_session,
)
from app.auth.downloads import refuse_undeclared_downloads
from app.auth.forms import SignInForm
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.transactions import commits, read_only
from app.vocabulary import AuditAction

bp = staff_blueprint("auth", __name__)
bp.record_once(sign_in_steps.make_throttle)
bp.record_once(provider.init_provider)
refuse_undeclared_downloads(bp)

SIGN_IN_FAILED = "The email address or password is not right"
# With the hospital's provider on, a right password for an account that signs in there
# gets this same answer as a wrong one: otherwise an old password could be tested here.
SIGN_IN_FAILED_WITH_PROVIDER = (
    "The email address or password is not right, or the account signs in with the button "
    '"{label}". The password form is only for emergency accounts'
)
NOT_SET_UP = (
    "Your account has no authenticator app yet. Set one up with the one-time link an "
    "intake administrator gave you, or ask them for a new link"
)


def _sign_in_failed() -> str:
    if provider.enabled():
        return SIGN_IN_FAILED_WITH_PROVIDER.format(label=current_app.config["OIDC_BUTTON_LABEL"])
    return SIGN_IN_FAILED


def hash_cost() -> staff_accounts.HashCost:
    return staff_accounts.HashCost(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_kib=current_app.config["ARGON2_MEMORY_KIB"],
    )


def center_names() -> tuple[str, ...]:
    """What a staff password must not lean on, besides the person's own name."""
    return (current_app.config["CENTER_NAME"], current_app.config["PROGRAM_NAME"])


def _refused_after_password(staff, detail: str) -> None:
    """A right password that still opens nothing (no second factor set up, or the code
    step waiting): on the record, with @commits keeping it (the page answers 200)."""
    trail.record(
        get_session(),
        action=AuditAction.SIGN_IN_FAILED,
        staff_id=staff.id,
        detail=detail,
        client_ip=client_ip(),
    )


@bp.route("/login", methods=["GET", "POST"])
@public
@serving.sign_in_rate_limit
@commits
def login():
    next_url = safe_next(request.args.get("next"))
    if request.method == "GET" and not idle_expired() and current_staff() is not None:
        return redirect(next_url or url_for("intake.queue"))
    form = SignInForm()
    code = 200
    if form.validate_on_submit():
        email = staff_accounts.normalize_email(form.email.data)
        known = staff_accounts.find_by_email(get_session(), email=email)
        staff = None
        if sign_in_steps.refuse_if_throttled(email, known):
            form.email.errors = [sign_in_steps.throttled_message()]
            code = 429
        else:
            staff = staff_accounts.check_password(
                get_session(),
                email=email,
                password=form.password.data,
                cost=hash_cost(),
                client_ip=client_ip(),
            )
            if staff is not None and not provider_accounts.password_opens(
                staff, provider_on=provider.enabled()
            ):
                _refused_after_password(staff, "local password refused: identity provider only")
                staff = None
            if staff is None:
                # The failure's audit entry is kept with it: this page answers 200.
                sign_in_steps.count_failure(email, known)
                form.email.errors = [_sign_in_failed()]
        if staff is not None and not sign_in_steps.second_factor_on():
            nonce = staff_accounts.begin_session(get_session(), staff=staff, client_ip=client_ip())
            start_session(staff, nonce)
            return redirect(next_url or url_for("intake.queue"), code=303)
        if staff is not None and not sign_in_steps.has_second_factor(staff):
            # A password alone never sets up a second factor: that needs a set-up link.
            _refused_after_password(staff, "no second factor set up")
            form.email.errors = [NOT_SET_UP]
        elif (
            staff is not None
            and (waiting := sign_ins.codes_wait_until(staff, now=now_utc())) is not None
        ):
            _refused_after_password(staff, "code step waiting after too many wrong codes")
            form.email.errors = [sign_in_steps.codes_wait_message(waiting)]
        elif staff is not None:
            begun = sign_ins.begin(get_session(), staff_id=staff.id, now=now_utc())
            sign_in_steps.keep_in_browser(begun, next_url)
            return redirect(url_for(".second_factor_check"), code=303)
    form.password.data = ""
    return (
        render_template(
            "auth/login.html",
            form=form,
            next_url=next_url,
            lockout_attempts=current_app.config["STAFF_LOCKOUT_ATTEMPTS"],
            lockout_minutes=current_app.config["STAFF_LOCKOUT_MINUTES"],
            provider_label=current_app.config["OIDC_BUTTON_LABEL"] if provider.enabled() else None,
        ),
        code,
    )


@bp.post("/logout")
@login_required
@commits
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        via_provider = session.get(VIA_PROVIDER) is True
        staff_accounts.sign_out(get_session(), actor=current_actor())
        end_session()
        if via_provider and provider.enabled():
            # Offered, not forced: on a shared workstation the provider's own sign-out
            # is what stops the next person from coming straight back in.
            return render_template(
                "auth/signed_out.html",
                end_session_url=provider.end_session_url(),
                button_label=current_app.config["OIDC_BUTTON_LABEL"],
            )
    return redirect(url_for(".login"), code=303)


@bp.post("/session")
@login_required
@read_only
def keep_session():
    """ "Stay signed in": login_required has just counted this as activity."""
    return "", 204
