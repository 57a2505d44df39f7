"""E-mail the outbox could not deliver: admins see why, and may send a message again."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for

from app.db import get_session
from app.services import audit, outbox
from app.services.audit import Action
from app.services.staff_accounts import now_utc

from . import bp
from .access import admin_required, client_ip
from .forms import ActionForm

KIND_LABELS = {
    "confirmation": "Confirmation to the person",
    "intake_alert": "New-request alert to intake",
}


@bp.get("/outbox")
@admin_required
def outbox_page():
    view = outbox.overview(get_session(), now=now_utc())
    return render_template(
        "staff/outbox.html", view=view, kind_labels=KIND_LABELS, form=ActionForm(formdata=None)
    )


@bp.post("/outbox/<token>/send-again")
@admin_required
def outbox_send_again(token: str):
    if ActionForm().validate_on_submit():
        session = get_session()
        try:
            message = outbox.send_again(session, token=token, now=now_utc())
        except outbox.MessageNotFound:
            session.rollback()
            flash("That message is not waiting to be sent again.", "error")
        else:
            audit.record(
                session,
                action=Action.OUTBOX_SEND_AGAIN,
                staff_id=g.staff.id,
                detail=KIND_LABELS[message.kind.value],
                to_value=message.reference,
                client_ip=client_ip(),
            )
            session.commit()
            flash("The message is queued to be sent again.", "success")
    return redirect(url_for(".outbox_page"), code=303)
