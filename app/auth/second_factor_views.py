"""The second step of signing in (a code), setting up an authenticator app, the
one-time link of a new account, confirming identity again, and changing one's password."""

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

from app.accounts import account_admin, passkeys, second_factor, staff_accounts
from app.accounts.staff_accounts import AccountError
from app.audit import trail
from app.auth import sign_in_steps
from app.auth.access import (
    client_ip,
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
    SetPasswordForm,
)
from app.auth.views import bp, hash_cost
from app.common.time import now_utc
from app.db import get_session
from app.models import StaffUser
from app.vocabulary import AuditAction

WRONG_CODE = (
    "The code is not right. Enter the 6-digit code your app shows now, "
    "or one of your recovery codes"
)


def _issuer() -> str:
    return f"{current_app.config['CENTER_NAME']} intake"


def finish_sign_in(staff: StaffUser, *, how: str, codes_left: int | None = None) -> str:
    """Start the session; returns where to go. With the second factor on, the account's
    ``sign_in`` audit entry means that both the password and a code were right; a
    recovery code's use has an entry of its own."""
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
    get_session().commit()
    start_session(staff, nonce)
    return next_url or url_for("intake.queue")


def _restart(message: str):
    end_session()
    flash(message, "info")
    return redirect(url_for(".login"), code=303)


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def second_factor_check():
    staff = sign_in_steps.pending_staff()
    if staff is None:
        return _restart("Sign in again: the time to enter your code ran out.")
    if sign_in_steps.needs_enrolment(staff):
        return redirect(url_for(".second_factor_setup"), code=303)
    form = CodeForm()
    code = 200
    if form.validate_on_submit():
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            return _restart(sign_in_steps.throttled_message())
        check = second_factor.check_code(
            get_session(), staff_id=staff.id, code=form.code.data, now=now_utc()
        )
        if check.ok:
            next_url = finish_sign_in(staff, how=check.kind, codes_left=check.recovery_codes_left)
            # After the session starts (which clears the cookie), or the message is lost.
            if check.kind == "recovery":
                flash(
                    f"You used a recovery code: {check.recovery_codes_left} left. "
                    "If you are running low, ask an intake administrator to reset your "
                    "second factor, and set up your app again.",
                    "info",
                )
            return redirect(next_url, code=303)
        sign_in_steps.count_failure(staff.email, staff)
        trail.record(
            get_session(),
            action=AuditAction.SECOND_FACTOR_FAILED,
            staff_id=staff.id,
            detail=check.kind,
            client_ip=client_ip(),
        )
        get_session().commit()
        form.code.errors = [WRONG_CODE]
        code = 400
    form.code.data = ""
    has_passkeys = bool(passkeys.for_staff(get_session(), staff_id=staff.id))
    return render_template("auth/second_factor.html", form=form, has_passkeys=has_passkeys), code


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
@public
def second_factor_setup():
    staff = sign_in_steps.pending_staff()
    if staff is None:
        return _restart("Sign in again: the time to set up your app ran out.")
    factor = second_factor.find(get_session(), staff_id=staff.id)
    if factor is None:
        return _restart("Sign in again to set up your authenticator app.")
    if factor.confirmed_at is not None:
        return redirect(url_for(".second_factor_check"), code=303)
    form = CodeForm()
    code = 200
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(
                get_session(), staff_id=staff.id, code=form.code.data, now=now_utc()
            )
        except second_factor.SecondFactorError as error:
            sign_in_steps.count_failure(staff.email, staff)
            get_session().commit()
            form.code.errors = [str(error)]
            code = 400
        else:
            trail.record(
                get_session(),
                action=AuditAction.SECOND_FACTOR_ENROLLED,
                staff_id=staff.id,
                client_ip=client_ip(),
            )
            next_url = finish_sign_in(staff, how="new authenticator app")
            # Shown once, now: only their hashes are kept.
            return render_template("auth/recovery_codes.html", codes=codes, next_url=next_url)
    uri = second_factor.provisioning_uri(
        secret=factor.totp_secret, email=staff.email, issuer=_issuer()
    )
    form.code.data = ""
    return (
        render_template(
            "auth/second_factor_setup.html",
            form=form,
            qr_svg=second_factor.qr_svg(uri),
            secret=second_factor.display_secret(factor.totp_secret),
            email=staff.email,
            issuer=_issuer(),
        ),
        code,
    )


@bp.route("/welcome", methods=["GET", "POST"])
@public
def welcome():
    """The one-time link: the token is in the query string, which the access log leaves
    out (docs/security.md)."""
    token = request.args.get("token", "")
    now = now_utc()
    try:
        invitation = account_admin.find_invitation(get_session(), token=token, now=now)
    except account_admin.InvitationInvalid:
        return render_template("auth/link_invalid.html"), 404
    staff = get_session().get(StaffUser, invitation.staff_id)
    form = SetPasswordForm()
    code = 200
    if form.validate_on_submit():
        try:
            staff = account_admin.accept_invitation(
                get_session(),
                token=token,
                password=form.new_password.data,
                now=now,
                cost=hash_cost(),
                client_ip=client_ip(),
            )
        except account_admin.InvitationInvalid:
            get_session().rollback()
            return render_template("auth/link_invalid.html"), 404
        except AccountError as error:
            get_session().rollback()
            form.new_password.errors = [str(error)]
            code = 400
        else:
            if not sign_in_steps.second_factor_on():
                get_session().commit()
                flash("Your password is set. Sign in with it now.", "success")
                return redirect(url_for(".login"), code=303)
            second_factor.begin_enrolment(get_session(), staff_id=staff.id)
            get_session().commit()
            sign_in_steps.begin_pending(staff, None)
            return redirect(url_for(".second_factor_setup"), code=303)
    elif form.is_submitted():
        code = 400
    form.new_password.data = form.confirm_password.data = ""
    return render_template("auth/welcome.html", form=form, staff=staff, token=token), code


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirm_identity():
    next_url = safe_next(request.args.get("next"))
    form = ConfirmIdentityForm()
    code = 200
    if form.validate_on_submit():
        staff: StaffUser = g.staff
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            form.secret.errors = [sign_in_steps.throttled_message()]
            return render_template("auth/confirm.html", form=form, next_url=next_url), 429
        proved = staff_accounts.password_is_right(staff, form.secret.data, hash_cost())
        how = "password"
        if not proved and second_factor.is_enrolled(get_session(), staff_id=staff.id):
            check = second_factor.check_code(
                get_session(), staff_id=staff.id, code=form.secret.data, now=now_utc()
            )
            proved, how = check.ok, check.kind
        if proved:
            trail.record(
                get_session(),
                action=AuditAction.PROOF_CONFIRMED,
                staff_id=staff.id,
                detail=how,
                client_ip=client_ip(),
            )
            get_session().commit()
            mark_proved()
            return redirect(next_url or url_for("intake.queue"), code=303)
        sign_in_steps.count_failure(staff.email, staff)
        trail.record(
            get_session(),
            action=AuditAction.SECOND_FACTOR_FAILED,
            staff_id=staff.id,
            detail="identity check failed",
            client_ip=client_ip(),
        )
        get_session().commit()
        form.secret.errors = ["That is not your password or a current code. Try again"]
        code = 400
    return render_template("auth/confirm.html", form=form, next_url=next_url), code


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    staff: StaffUser = g.staff
    need_code = sign_in_steps.second_factor_on() and second_factor.is_enrolled(
        get_session(), staff_id=staff.id
    )
    form = ChangePasswordForm()
    if not need_code:
        del form.code
    code = 200
    if form.validate_on_submit():
        if sign_in_steps.refuse_if_throttled(staff.email, staff):
            abort(429)
        right = staff_accounts.password_is_right(staff, form.current_password.data, hash_cost())
        if not right:
            form.current_password.errors = ["Your current password is not right"]
        if right and need_code:
            check = second_factor.check_code(
                get_session(), staff_id=staff.id, code=form.code.data, now=now_utc()
            )
            if not check.ok:
                form.code.errors = [WRONG_CODE]
        if form.current_password.errors or (need_code and form.code.errors):
            sign_in_steps.count_failure(staff.email, staff)
            get_session().commit()
            code = 400
        else:
            try:
                nonce = account_admin.change_own_password(
                    get_session(),
                    staff=staff,
                    new_password=form.new_password.data,
                    cost=hash_cost(),
                    client_ip=client_ip(),
                )
            except AccountError as error:
                get_session().rollback()
                form.new_password.errors = [str(error)]
                code = 400
            else:
                get_session().commit()
                start_session(staff, nonce, keep_started=True)
                flash("Your password is changed. Other sessions of your account have ended.",
                      "success")  # fmt: skip
                return redirect(url_for("intake.queue"), code=303)
    elif form.is_submitted():
        code = 400
    for field in ("current_password", "new_password", "confirm_password"):
        form[field].data = ""
    return render_template("auth/change_password.html", form=form, need_code=need_code), code
