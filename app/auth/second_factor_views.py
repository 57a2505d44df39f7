"""The second step of signing in (a code), setting up an authenticator app through a
one-time link, confirming identity again, and changing one's password."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from app.accounts import (
    account_admin,
    passkeys,
    provider_accounts,
    second_factor,
    sign_ins,
    staff_accounts,
)
from app.accounts.staff_accounts import AccountError
from app.audit import trail
from app.auth import provider, sign_in_steps
from app.auth.access import (
    client_ip,
    current_actor,
    current_staff,
    end_session,
    login_required,
    mark_proved,
    public,
    safe_next,
    start_session,
)
from app.auth.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmIdentityForm,
    LinkPasswordForm,
    SetPasswordForm,
)
from app.auth.sign_in_steps import Pending
from app.auth.views import bp, center_names, hash_cost
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffUser
from app.transactions import commits
from app.vocabulary import AuditAction

WRONG_CODE = (
    "The code is not right. Enter the 6-digit code your app shows now, "
    "or one of your recovery codes"
)
SIGN_IN_AGAIN = "Sign in again: the time to enter your code ran out."


def _issuer() -> str:
    return f"{current_app.config['CENTER_NAME']} intake"


def finish_sign_in(pending: Pending, *, how: str, codes_left: int | None = None) -> str | None:
    """End the sign-in in progress (it is used once: of two requests racing with it, the
    second gets None) and start the session; returns where to go. With the second factor
    on, the account's ``sign_in`` audit entry means that both the password and a second
    factor were right; a recovery code's use has an entry of its own. The view's
    ``@commits`` commits."""
    staff = pending.staff
    if not sign_ins.finish(get_session(), sign_in=pending.sign_in, now=now_utc()):
        return None
    next_url = sign_in_steps.pending_next()
    if how == "recovery":
        trail.record(
            get_session(),
            action=AuditAction.RECOVERY_CODE_USED,
            staff_id=staff.id,
            detail=f"{codes_left} recovery codes left",
            client_ip=client_ip(),
        )
    nonce = staff_accounts.begin_session(get_session(), staff=staff, client_ip=client_ip())
    start_session(staff, nonce)
    return next_url or url_for("intake.queue")


def restart(message: str):
    """No sign-in in progress in this browser: back to the start. A signed-in session is
    left alone (a link to a sign-in step, from anywhere, must not sign anyone out)."""
    sign_in_steps.forget_in_browser()
    if current_staff() is not None:
        return redirect(url_for("intake.queue"), code=303)
    flash(message, "info")
    return redirect(url_for(".login"), code=303)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@commits
def second_factor_check():
    pending = sign_in_steps.pending()
    if pending is None:
        return restart(SIGN_IN_AGAIN)
    if pending.is_set_up:
        return redirect(url_for(".second_factor_setup"), code=303)
    staff = pending.staff
    form = CodeForm()
    code = 200
    if form.validate_on_submit():
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            return restart(sign_in_steps.throttled_message())
        check = sign_in_steps.try_code(staff, form.code.data)
        if check.ok:
            next_url = finish_sign_in(pending, how=check.kind, codes_left=check.recovery_codes_left)
            if next_url is None:
                # Another request finished this sign-in first: the code it spent here is
                # given back (nothing of this request is kept).
                get_session().rollback()
                return restart(SIGN_IN_AGAIN)
            # After the session starts (which clears the cookie), or the message is lost.
            if check.kind == "recovery":
                flash(
                    f"You used a recovery code: {check.recovery_codes_left} left. "
                    "If you are running low, ask an intake administrator to reset your "
                    "second factor, and set up your app again.",
                    "info",
                )
            return redirect(next_url, code=303)
        sign_in_steps.keep_wrong_code(staff, check)
        if check.waiting_until is not None:
            # Too many wrong codes for the account: this sign-in has ended.
            return restart(sign_in_steps.codes_wait_message(check.waiting_until))
        form.code.errors = [WRONG_CODE]
        code = 400
    form.code.data = ""
    has_passkeys = bool(passkeys.for_staff(get_session(), staff_id=staff.id))
    return render_template("auth/second_factor.html", form=form, has_passkeys=has_passkeys), code


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
@public
@commits
def second_factor_setup():
    """Setting up an authenticator app: only after a one-time link, with the secret
    drawn for this set-up and shown to this browser alone."""
    pending = sign_in_steps.pending()
    if pending is None or not pending.is_set_up:
        return restart("Open your set-up link again, or ask an intake administrator for a new one.")
    staff, secret = pending.staff, pending.sign_in.totp_secret
    form = CodeForm()
    code = 200
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(
                get_session(), staff_id=staff.id, secret=secret, code=form.code.data,
                now=now_utc(),
            )  # fmt: skip
        except second_factor.SecondFactorError as error:
            sign_in_steps.keep_failure(staff.email, staff)
            form.code.errors = [str(error)]
            code = 400
        else:
            trail.record(
                get_session(),
                action=AuditAction.SECOND_FACTOR_ENROLLED,
                staff_id=staff.id,
                client_ip=client_ip(),
            )
            next_url = finish_sign_in(pending, how="new authenticator app")
            if next_url is None:
                # Another request finished (or a newer set-up ended) this set-up first:
                # nothing of this one is kept.
                get_session().rollback()
                return restart("Open your set-up link again, or ask for a new one.")
            # Shown once, now: only their hashes are kept.
            return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url)
    uri = second_factor.provisioning_uri(secret=secret, email=staff.email, issuer=_issuer())
    form.code.data = ""
    return (
        render_template(
            "auth/second_factor_setup.html",
            form=form,
            qr_svg=second_factor.qr_svg(uri),
            secret=second_factor.display_secret(secret),
            email=staff.email,
            issuer=_issuer(),
        ),
        code,
    )


@bp.route("/welcome", methods=["GET", "POST"])
@public
@commits
def welcome():
    """The one-time link: the token is in the query string, which the access log leaves
    out (docs/security.md). It sets a new password, or asks for the account's password,
    and then the authenticator app is set up."""
    token = request.args.get("token", "")
    now = now_utc()
    try:
        invitation = account_admin.find_invitation(get_session(), token=token, now=now)
    except account_admin.InvitationInvalid:
        return render_template("auth/link_invalid.html"), 404
    staff = get_session().get(StaffUser, invitation.staff_id)
    sets_password = invitation.sets_password
    form = SetPasswordForm() if sets_password else LinkPasswordForm()
    code = 200
    if form.validate_on_submit():
        if not sets_password and sign_in_steps.refuse_if_throttled(staff.email, staff):
            form.password.errors = [sign_in_steps.throttled_message()]
            return _welcome_page(form, staff, token, sets_password), 429
        try:
            begun = account_admin.accept_invitation(
                get_session(),
                token=token,
                password=form.new_password.data if sets_password else form.password.data,
                now=now,
                cost=hash_cost(),
                center_names=center_names(),
                client_ip=client_ip(),
            )
        except account_admin.InvitationInvalid:
            return render_template("auth/link_invalid.html"), 404
        except account_admin.WrongPassword:
            sign_in_steps.keep_failure(staff.email, staff)
            form.password.errors = ["That is not the password of this account"]
            code = 400
        except AccountError as error:
            form.new_password.errors = [str(error)]
            code = 400
        else:
            if not sign_in_steps.second_factor_on():
                flash("Your password is set. Sign in with it now.", "success")
                return redirect(url_for(".login"), code=303)
            sign_in_steps.keep_in_browser(begun, None)
            return redirect(url_for(".second_factor_setup"), code=303)
    elif form.is_submitted():
        code = 400
    return _welcome_page(form, staff, token, sets_password), code


def _welcome_page(form, staff, token: str, sets_password: bool) -> str:
    for field in ("new_password", "confirm_password", "password"):
        if field in form:
            form[field].data = ""
    return render_template(
        "auth/welcome.html", form=form, staff=staff, token=token, sets_password=sets_password
    )


def _signed_out_for_wrong_codes(until):
    """Too many wrong codes from a signed-in session: it ends, like a sign-in would."""
    staff_accounts.sign_out(get_session(), actor=current_actor())
    end_session()
    flash(sign_in_steps.codes_wait_message(until), "info")
    return redirect(url_for(".login"), code=303)


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
@commits
def confirm_identity():
    next_url = safe_next(request.args.get("next"))
    if not provider_accounts.password_opens(g.staff, provider_on=provider.enabled()):
        # The password here is not theirs any more: the provider checks them again.
        return render_template(
            "auth/confirm_provider.html",
            next_url=next_url,
            button_label=current_app.config["OIDC_BUTTON_LABEL"],
        )
    form = ConfirmIdentityForm()
    code = 200
    if form.validate_on_submit():
        staff = g.staff
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            form.secret.errors = [sign_in_steps.throttled_message()]
            return render_template("auth/confirm.html", form=form, next_url=next_url), 429
        proved = staff_accounts.password_is_right(staff, form.secret.data, hash_cost())
        how, check = "password", None
        if (
            not proved
            and second_factor.looks_like_code(form.secret.data)
            and sign_in_steps.has_second_factor(staff)
        ):
            check = sign_in_steps.try_code(staff, form.secret.data)
            proved, how = check.ok, check.kind
        if proved:
            trail.record(
                get_session(), action=AuditAction.PROOF_CONFIRMED, actor=current_actor(),
                detail=how,
            )  # fmt: skip
            mark_proved()
            return redirect(next_url or url_for("intake.queue"), code=303)
        # Something shaped like a code (``check``) counts against the account's codes.
        sign_in_steps.keep_wrong_code(staff, check, detail="identity check failed")
        if check is not None and check.waiting_until is not None:
            return _signed_out_for_wrong_codes(check.waiting_until)
        form.secret.errors = ["That is not your password or a current code. Try again"]
        code = 400
    return render_template("auth/confirm.html", form=form, next_url=next_url), code


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@commits
def change_password():
    staff = g.staff
    need_code = sign_in_steps.second_factor_on() and sign_in_steps.has_second_factor(staff)
    form = ChangePasswordForm()
    if not need_code:
        del form.code
    code = 200
    if form.validate_on_submit():
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            abort(429)
        right = staff_accounts.password_is_right(staff, form.current_password.data, hash_cost())
        check = None
        if not right:
            form.current_password.errors = ["Your current password is not right"]
            sign_in_steps.keep_failure(staff.email, staff)
        elif need_code:
            check = sign_in_steps.try_code(staff, form.code.data)
            if not check.ok:
                form.code.errors = [WRONG_CODE]
                sign_in_steps.keep_wrong_code(staff, check, detail="password change")
                if check.waiting_until is not None:
                    return _signed_out_for_wrong_codes(check.waiting_until)
        if form.current_password.errors or (need_code and form.code.errors):
            code = 400
        else:
            try:
                nonce = account_admin.change_own_password(
                    get_session(),
                    actor=current_actor(),
                    new_password=form.new_password.data,
                    cost=hash_cost(),
                    center_names=center_names(),
                )
            except AccountError as error:
                form.new_password.errors = [str(error)]
                code = 400
            else:
                start_session(staff, nonce, keep_started=True)
                flash("Your password is changed. Other sessions of your account have ended.",
                      "success")  # fmt: skip
                return redirect(url_for("intake.queue"), code=303)
    elif form.is_submitted():
        code = 400
    for field in ("current_password", "new_password", "confirm_password"):
        form[field].data = ""
    return render_template("auth/change_password.html", form=form, need_code=need_code), code
