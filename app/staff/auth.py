"""Signing in and out."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for

from app import serving
from app.db import get_session
from app.services import staff_accounts

from . import bp
from .access import (
    client_ip,
    current_staff,
    end_session,
    idle_expired,
    login_required,
    public,
    safe_next,
    start_session,
)
from .forms import ActionForm, SignInForm

SIGN_IN_FAILED = "The email address or password is not right"


def hash_cost() -> staff_accounts.HashCost:
    return staff_accounts.HashCost(
        time_cost=current_app.config["ARGON2_TIME_COST"],
        memory_kib=current_app.config["ARGON2_MEMORY_KIB"],
    )


def lockout_policy() -> staff_accounts.LockoutPolicy:
    return staff_accounts.LockoutPolicy(
        attempts=current_app.config["STAFF_LOCKOUT_ATTEMPTS"],
        minutes=current_app.config["STAFF_LOCKOUT_MINUTES"],
    )


@bp.route("/login", methods=["GET", "POST"])
@public
@serving.sign_in_rate_limit
def login():
    next_url = safe_next(request.args.get("next"))
    if request.method == "GET" and not idle_expired() and current_staff() is not None:
        return redirect(next_url or url_for(".queue"))
    form = SignInForm()
    if form.validate_on_submit():
        result = staff_accounts.sign_in(
            get_session(),
            email=form.email.data,
            password=form.password.data,
            now=staff_accounts.now_utc(),
            policy=lockout_policy(),
            cost=hash_cost(),
            client_ip=client_ip(),
        )
        # Failures are committed too: they count towards the lock and are audited.
        get_session().commit()
        if result.staff is not None and result.nonce is not None:
            start_session(result.staff, result.nonce)
            return redirect(next_url or url_for(".queue"), code=303)
        form.email.errors = [SIGN_IN_FAILED]
    form.password.data = ""
    return render_template(
        "staff/login.html",
        form=form,
        next_url=next_url,
        lockout_attempts=current_app.config["STAFF_LOCKOUT_ATTEMPTS"],
        lockout_minutes=current_app.config["STAFF_LOCKOUT_MINUTES"],
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
