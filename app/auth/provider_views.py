"""Signing in, and proving it is you again, through the hospital's identity provider
(issue 32; OIDC_ISSUER set). The protocol is app/auth/provider.py's, who may come in is
app/accounts/provider_accounts.py's; these views turn both into pages.

The provider's second factor replaces the local one: a provider sign-in goes straight to
a session. The session rules stay those of every staff session (app/auth/access.py), and
deactivating an account here ends its sessions at once whatever the provider says.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for

from app.accounts import provider_accounts, staff_accounts
from app.accounts.provider_accounts import ProviderIdentity
from app.audit import trail
from app.auth import provider
from app.auth.access import (
    VIA_PROVIDER,
    client_ip,
    current_actor,
    current_staff,
    end_session,
    idle_expired,
    lifetime_expired,
    login_required,
    mark_proved,
    public,
    safe_next,
    start_session,
)
from app.auth.views import bp
from app.common.extensions import csrf
from app.db import get_session
from app.transactions import commits, keep_refusal, read_only
from app.vocabulary import AuditAction

log = logging.getLogger("intake.security")


def button_label() -> str:
    return current_app.config["OIDC_BUTTON_LABEL"]


def _problem(template: str, status: int):
    return render_template(template, button_label=button_label()), status


def _provider_down(error: Exception):
    # The kind of failure only: the provider's answer may carry anything.
    log.warning("identity provider unavailable", extra={"detail": str(error)})
    return _problem("auth/provider_down.html", 503)


def _second_factor_ok(identity: ProviderIdentity) -> bool:
    config = current_app.config
    return provider_accounts.second_factor_asserted(
        identity,
        required_amr=provider.split_setting(config["OIDC_REQUIRED_AMR"]),
        required_acr=provider.split_setting(config["OIDC_REQUIRED_ACR"]),
    )


# Both ways to the provider are links (GET), not forms: the pages' Content-Security-Policy
# (form-action 'self') stops a form from redirecting to another site, and leaving for the
# provider changes nothing here; the way back is what ``state`` protects.
@bp.get("/sign-in/provider")
@public
@read_only
def provider_sign_in():
    if not provider.enabled():
        abort(404)
    try:
        return provider.start(provider.SIGN_IN, safe_next(request.args.get("next")))
    except provider.ProviderUnavailable as error:
        return _provider_down(error)


@bp.get("/confirm/provider")
@login_required
@read_only
def provider_proof():
    """Before an export: through the provider again, which must check the person now."""
    if not provider.enabled() or g.staff.oidc_subject is None:
        abort(404)
    try:
        return provider.start(provider.PROOF, safe_next(request.args.get("next")))
    except provider.ProviderUnavailable as error:
        return _provider_down(error)


@bp.get("/sign-in/callback")
@public
@commits
def provider_callback():
    if not provider.enabled():
        abort(404)
    try:
        answer = provider.finish()
    except provider.ProviderUnavailable as error:
        return _provider_down(error)
    except provider.ProviderRefused as error:
        detail = f"identity provider answer refused: {error}"
        keep_refusal(
            lambda: trail.record(
                get_session(),
                action=AuditAction.SIGN_IN_FAILED,
                detail=detail,
                client_ip=client_ip(),
            )
        )
        return _problem("auth/provider_refused.html", 400)
    if answer.purpose == provider.PROOF:
        return _finish_proof(answer)
    return _finish_sign_in(answer)


# Server to server: the provider posts here when someone signs out there or is removed
# (its client registration's backchannel_logout_uri). No browser, no cookie, no CSRF
# token: the signed logout token is the proof.
@bp.post("/sign-in/backchannel-logout")
@csrf.exempt
@public
@commits
def provider_backchannel_logout():
    if not provider.enabled():
        abort(404)
    token = request.form.get("logout_token", "")
    try:
        issuer, subject = provider.logout_subject(token)
    except provider.ProviderUnavailable as error:
        log.warning("identity provider unavailable", extra={"detail": str(error)})
        return _no_store(503)
    except provider.ProviderRefused as error:
        log.warning("back-channel logout refused", extra={"detail": str(error)})
        return _no_store(400)
    provider_accounts.sign_out_everywhere(get_session(), issuer=issuer, subject=subject)
    # The same answer whether or not an account here is linked to that subject.
    return _no_store(200)


def _no_store(status: int):
    """An empty answer for the provider's server, which reads only the status."""
    return "", status, {"Cache-Control": "no-store"}


def _finish_sign_in(answer: provider.Answer):
    identity = answer.identity
    if not _second_factor_ok(identity):
        keep_refusal(
            lambda: provider_accounts.refuse_without_second_factor(
                get_session(), identity, client_ip=client_ip()
            )
        )
        return _problem("auth/provider_no_second_factor.html", 403)
    # Kept whatever the page answers: a refusal's audit entry, or a first sign-in's link.
    admission = keep_refusal(
        lambda: provider_accounts.admit(
            get_session(),
            identity,
            group_roles=current_app.extensions[provider.GROUP_ROLES],
            client_ip=client_ip(),
        )
    )
    if admission.staff is None:
        # The same page whatever the reason: nothing says whether an account exists.
        return _problem("auth/provider_no_access.html", 403)
    staff = admission.staff
    nonce = staff_accounts.begin_session(
        get_session(),
        staff=staff,
        client_ip=client_ip(),
        detail="; ".join(filter(None, ("through the identity provider", admission.note))),
    )
    start_session(staff, nonce)
    session[VIA_PROVIDER] = True
    return redirect(safe_next(answer.next_url) or url_for("intake.queue"), code=303)


def _finish_proof(answer: provider.Answer):
    if "staff_id" not in session or idle_expired() or lifetime_expired():
        end_session()
        flash("Your session ended. Sign in again.", "info")
        return redirect(url_for("auth.login"), code=303)
    staff = current_staff()
    if staff is None:
        end_session()
        return redirect(url_for("auth.login"), code=303)
    identity = answer.identity
    skew = current_app.config["OIDC_CLOCK_SKEW_SECONDS"]
    problem = None
    if (staff.oidc_issuer, staff.oidc_subject) != (identity.issuer, identity.subject):
        problem = "another account signed in at the provider"
    elif answer.auth_time is None or answer.asked_at is None:
        problem = "no time of sign-in from the provider"
    elif answer.auth_time < answer.asked_at - skew:
        problem = "the provider did not check the person again"
    elif not _second_factor_ok(identity):
        problem = "no second factor asserted (amr/acr)"
    if problem is not None:
        actor = current_actor()
        keep_refusal(
            lambda: trail.record(
                get_session(),
                action=AuditAction.SECOND_FACTOR_FAILED,
                actor=actor,
                detail=f"identity check through the provider refused: {problem}",
            )
        )
        return _problem("auth/provider_proof_refused.html", 403)
    trail.record(
        get_session(),
        action=AuditAction.PROOF_CONFIRMED,
        actor=current_actor(),
        detail="identity provider",
    )
    mark_proved()
    g.staff = staff
    return redirect(safe_next(answer.next_url) or url_for("intake.queue"), code=303)
