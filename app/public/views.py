from __future__ import annotations

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)

from app import serving
from app.db import DATABASE_UNAVAILABLE, discard_session, get_session
from app.services import appointment_requests, reference_codes

from .forms import AppointmentRequestForm
from .resend import is_resend_of_stored_request
from .submission import to_new_request

bp = Blueprint("public", __name__)

# How many confirmations one browser can reopen; older ones fall off.
_REMEMBERED_REFERENCES = 5
# Browsers and proxies may keep the information page this long before asking again; when
# they ask, an unchanged page costs a 304.
_INFORMATION_MAX_AGE = 300
_FAVICON_MAX_AGE = 86400


@bp.get("/")
@serving.public_cache(max_age=_INFORMATION_MAX_AGE)
def information():
    return serving.information_page("public/information.html")


@bp.get("/request-appointment")
def request_appointment():
    # Nothing to validate: the cached blank form with this visitor's tokens.
    return serving.blank_form(
        "public/request_form.html", AppointmentRequestForm, secrets.token_urlsafe(24)
    )


# The same address; a view of its own so that only sending the form passes the rate
# limiter's decorator (reading never counts, and the decorator cost the GET about a tenth
# of its time: docs/performance.md).
@bp.post("/request-appointment")
# A re-send of a stored form stores nothing: never counted, never refused.
@serving.form_rate_limit(exempt_when=is_resend_of_stored_request)
def send_request():
    form = AppointmentRequestForm()
    if request.form.get("website", "").strip():
        return _pretend_to_accept()
    if form.validate_on_submit() and form.token_is_well_formed:
        try:
            submitted = appointment_requests.submit_request(
                get_session(),
                details=to_new_request(form),
                token=form.form_token.data,
                clock=current_app.extensions["business_clock"],
            )
            get_session().commit()
        except DATABASE_UNAVAILABLE:
            # The same form (same token) sent again stores one request, so asking the
            # person to send it again is safe even if this commit did reach the database.
            current_app.logger.warning("request not saved: database unavailable", exc_info=True)
            discard_session()
            return render_template("public/request_form.html", form=form, not_saved=True), 503
        _remember(submitted.reference)
        if submitted.changed:
            return _first_version_kept(submitted.reference)
        return redirect(url_for(".confirmation", reference=submitted.reference), code=303)

    if not form.token_is_well_formed:
        # A fresh form, or a post whose token was tampered with: issue a new one.
        form.form_token.data = secrets.token_urlsafe(24)
    return render_template("public/request_form.html", form=form)


@bp.get("/request-appointment/received/<reference>")
def confirmation(reference: str):
    # Only the browser that submitted the request may see its confirmation.
    if reference not in session.get("submitted_references", []):
        abort(404)
    return render_template(
        "public/confirmation.html",
        reference=reference_codes.display(reference),
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
    )


def _first_version_kept(reference: str):
    """The form was sent again with different answers: the first version stands, intake
    sees the differences on its history, and the person learns how to correct it."""
    return render_template(
        "public/resent.html",
        reference=reference_codes.display(reference),
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
    )


def _pretend_to_accept():
    """The hidden "website" field is filled: a robot, since people never see it. Store
    nothing, but answer as if it worked, so the robot has no reason to try otherwise."""
    current_app.logger.info("bot trap: form discarded")
    reference = reference_codes.new_reference()
    _remember(reference)
    return redirect(url_for(".confirmation", reference=reference), code=303)


def _remember(reference: str) -> None:
    remembered = [r for r in session.get("submitted_references", []) if r != reference]
    session["submitted_references"] = (remembered + [reference])[-_REMEMBERED_REFERENCES:]


# The same for everyone; a browser keeps it a day.
@bp.get("/favicon.ico")
@serving.public_cache(max_age=_FAVICON_MAX_AGE)
def favicon():
    # Browsers ask for /favicon.ico on every first visit whatever the page says; without it
    # each visit logged a 404.
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=_FAVICON_MAX_AGE)
