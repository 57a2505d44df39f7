"""Passkeys: adding and removing them (Your account), and signing in with one instead
of a code. The browser side is static/js/passkeys.js; without JavaScript the
authenticator app's codes work as before."""

from __future__ import annotations

import base64
import json

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app.accounts import passkeys
from app.audit import trail
from app.auth import sign_in_steps
from app.auth.access import (
    client_ip,
    current_actor,
    login_required,
    public,
    recent_proof_required,
)
from app.auth.forms import PasskeyNameForm
from app.auth.second_factor_views import finish_sign_in
from app.auth.views import bp
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.transactions import commits, keep_refusal, read_only
from app.vocabulary import AuditAction

SIGN_IN_AGAIN = "Sign in again: the time ran out"
_REGISTER = "webauthn_register"
_SIGN_IN = "webauthn_sign_in"


def rp_id() -> str:
    return current_app.config.get("WEBAUTHN_RP_ID") or request.host.rsplit(":", 1)[0]


def origin() -> str:
    return current_app.config.get("WEBAUTHN_ORIGIN") or request.host_url.rstrip("/")


def _keep(key: str, challenge: bytes) -> None:
    # In the signed cookie: it cannot be changed, and it is removed when used.
    session[key] = base64.urlsafe_b64encode(challenge).decode()


def _take(key: str) -> bytes | None:
    value = session.pop(key, None)
    return base64.urlsafe_b64decode(value) if isinstance(value, str) else None


def _has_credential(body) -> bool:
    return isinstance(body, dict) and isinstance(body.get("credential"), dict)


def _as_json(value) -> str:
    return json.dumps(value)


@bp.get("/account/passkeys")
@login_required
@recent_proof_required
@read_only
def passkey_list():
    return render_template(
        "auth/passkeys.html",
        passkeys=passkeys.for_staff(get_session(), staff_id=g.staff.id),
        form=PasskeyNameForm(formdata=None),
        action_form=ActionForm(formdata=None),
    )


@bp.post("/account/passkeys/options")
@login_required
@recent_proof_required
@read_only
def passkey_register_options():
    try:
        options, challenge = passkeys.registration_options(
            get_session(),
            staff=g.staff,
            rp_id=rp_id(),
            rp_name=f"{current_app.config['CENTER_NAME']} intake",
        )
    except passkeys.PasskeyError as error:
        return jsonify(error=str(error)), 400
    _keep(_REGISTER, challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/account/passkeys")
@login_required
@recent_proof_required
@commits
def passkey_register():
    challenge = _take(_REGISTER)
    body = request.get_json(silent=True)
    if (
        challenge is None
        or not isinstance(body, dict)
        or not isinstance(body.get("credential"), dict)
    ):
        return jsonify(error="Start again: press Add a passkey"), 400
    try:
        passkey = passkeys.register(
            get_session(),
            staff_id=g.staff.id,
            credential=_as_json(body["credential"]),
            challenge=challenge,
            rp_id=rp_id(),
            origin=origin(),
            name=str(body.get("name") or ""),
        )
    except passkeys.PasskeyError as error:
        return jsonify(error=str(error)), 400
    trail.record(
        get_session(),
        action=AuditAction.PASSKEY_ADDED,
        actor=current_actor(),
        detail=f"passkey {passkey.name}",
    )
    flash(f"Passkey “{passkey.name}” added.", "success")
    return jsonify(redirect=url_for(".passkey_list"))


@bp.post("/account/passkeys/<id:passkey_id>/remove")
@login_required
@recent_proof_required
@commits
def passkey_remove(passkey_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    if passkeys.remove(get_session(), staff_id=g.staff.id, passkey_id=passkey_id):
        trail.record(get_session(), action=AuditAction.PASSKEY_REMOVED, actor=current_actor())
        flash("Passkey removed.", "success")
    return redirect(url_for(".passkey_list"), code=303)


@bp.post("/sign-in/passkey/options")
@public
@read_only
def passkey_sign_in_options():
    pending = sign_in_steps.pending()
    if pending is None or pending.is_set_up:
        return jsonify(error=SIGN_IN_AGAIN), 400
    try:
        options, challenge = passkeys.authentication_options(
            get_session(), staff_id=pending.staff.id, rp_id=rp_id()
        )
    except passkeys.PasskeyError as error:
        return jsonify(error=str(error)), 400
    _keep(_SIGN_IN, challenge)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/sign-in/passkey")
@public
@commits
def passkey_sign_in():
    pending = sign_in_steps.pending()
    challenge = _take(_SIGN_IN)
    body = request.get_json(silent=True)
    if pending is None or pending.is_set_up or challenge is None:
        return jsonify(error=SIGN_IN_AGAIN), 400
    staff = pending.staff
    if not _has_credential(body):
        return jsonify(error="The passkey was not accepted. Try again"), 400
    if sign_in_steps.refuse_if_throttled(staff.email, staff):
        return jsonify(error=sign_in_steps.throttled_message()), 429
    try:
        passkey = passkeys.authenticate(
            get_session(),
            staff_id=staff.id,
            credential=_as_json(body["credential"]),
            challenge=challenge,
            rp_id=rp_id(),
            origin=origin(),
            now=now_utc(),
        )
    except passkeys.PasskeyError as error:
        get_session().rollback()

        def record_failure() -> None:
            sign_in_steps.count_failure(staff.email, staff)
            trail.record(
                get_session(),
                action=AuditAction.PASSKEY_FAILED,
                staff_id=staff.id,
                client_ip=client_ip(),
            )

        keep_refusal(record_failure)
        return jsonify(error=str(error)), 400
    trail.record(
        get_session(),
        action=AuditAction.PASSKEY_USED,
        staff_id=staff.id,
        detail=f"passkey {passkey.name}",
        client_ip=client_ip(),
    )
    next_url = finish_sign_in(pending, how="passkey")
    if next_url is None:  # another request finished this sign-in first (@commits: rollback)
        return jsonify(error=SIGN_IN_AGAIN), 400
    return jsonify(redirect=next_url)
