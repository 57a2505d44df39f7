from __future__ import annotations

import secrets

from flask import abort, current_app, redirect, render_template, session, url_for

from app.db import get_session
from app.services import appointment_requests, reference_codes

from . import bp
from .forms import AppointmentRequestForm
from .submission import to_new_request

# How many confirmations one browser can reopen; older ones fall off.
_REMEMBERED_REFERENCES = 5


@bp.get("/")
def information():
    return render_template("public/information.html")


@bp.route("/request-appointment", methods=["GET", "POST"])
def request_appointment():
    form = AppointmentRequestForm()
    if form.validate_on_submit() and form.token_is_well_formed:
        submitted = appointment_requests.submit_request(
            get_session(), details=to_new_request(form), token=form.form_token.data
        )
        get_session().commit()
        _remember(submitted.reference)
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


def _remember(reference: str) -> None:
    remembered = [r for r in session.get("submitted_references", []) if r != reference]
    session["submitted_references"] = (remembered + [reference])[-_REMEMBERED_REFERENCES:]
