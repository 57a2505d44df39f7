"""Signing in and out, and keeping a session alive."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for

from app import serving
from app.accounts import second_factor, staff_accounts
from app.auth import sign_in_steps
from app.auth.access import (
    client_ip,
    current_staff,
    end_session,
    idle_expired,
    login_required,
    public,
    safe_next,
    staff_blueprint,
    start_session,
)
from app.auth.forms import SignInForm
from app.common.forms import ActionForm
from app.db import get_session

bp = staff_blueprint("auth", __name__)
bp.record_once(sign_in_steps.make_throttle)

SIGN_IN_FAILED = "The email address or password is not right"


def hash_cost() -> staff_accounts.HashCost:
    return staff_accounts.HashCost(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_kib=current_app.config["ARGON2_MEMORY_KIB"],
    )


@bp.route("/login", methods=["GET", "POST"])
@public
@serving.sign_in_rate_limit
def login():
    next_url = safe_next(request.args.get("next"))
    if request.method == "GET" and not idle_expired() and current_staff() is not None:
        return redirect(next_url or url_for("intake.queue"))
    form = SignInForm()
    code = 200
    if form.validate_on_submit():
        email = staff_accounts.normalize_email(form.email.data)
        known = staff_accounts.find_by_email(get_session(), email=email)
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
            if staff is None:
                sign_in_steps.count_failure(email, known)
                # Failures are committed too: they are audited.
                get_session().commit()
                form.email.errors = [SIGN_IN_FAILED]
            elif not sign_in_steps.second_factor_on():
                nonce = staff_accounts.begin_session(
                    get_session(), staff=staff, client_ip=client_ip()
                )
                get_session().commit()
                start_session(staff, nonce)
                return redirect(next_url or url_for("intake.queue"), code=303)
            else:
                sign_in_steps.begin_pending(staff, next_url)
                if sign_in_steps.needs_enrolment(staff):
                    second_factor.begin_enrolment(get_session(), staff_id=staff.id)
                    get_session().commit()
                    return redirect(url_for(".second_factor_setup"), code=303)
                get_session().commit()
                return redirect(url_for(".second_factor_check"), code=303)
    form.password.data = ""
    return (
        render_template(
            "auth/login.html",
            form=form,
            next_url=next_url,
            lockout_attempts=current_app.config["STAFF_LOCKOUT_ATTEMPTS"],
            lockout_minutes=current_app.config["STAFF_LOCKOUT_MINUTES"],
        ),
        code,
    )


@bp.post("/logout")
@login_required
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        staff_accounts.sign_out(get_session(), staff=current_staff(), client_ip=client_ip())
        get_session().commit()
        end_session()
    return redirect(url_for(".login"), code=303)


@bp.post("/session")
@login_required
def keep_session():
    """ "Stay signed in": login_required has just counted this as activity."""
    return "", 204
