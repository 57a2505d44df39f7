"""E-mail the outbox could not deliver: admins see why, and may send a message again."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from app.admin.views import bp
from app.audit import trail
from app.auth.access import admin_required, current_actor
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.mail import outbox
from app.transactions import commits
from app.vocabulary import AuditAction


@bp.get("/outbox")
@admin_required
def outbox_page():
    view = outbox.overview(get_session(), now=now_utc())
    return render_template("admin/outbox.html", view=view, form=ActionForm(formdata=None))


@bp.post("/outbox/<token>/send-again")
@admin_required
@commits
def outbox_send_again(token: str):
    if ActionForm().validate_on_submit():
        session = get_session()
        try:
            message = outbox.send_again(session, token=token, now=now_utc())
        except outbox.MessageNotFound:
            flash("That message is not waiting to be sent again.", "error")
        else:
            trail.record(
                session,
                action=AuditAction.OUTBOX_SEND_AGAIN,
                actor=current_actor(),
                detail=message.kind.label,
                to_value=message.reference,
            )
            flash("The message is queued to be sent again.", "success")
    return redirect(url_for(".outbox_page"), code=303)
