"""E-mail the outbox could not deliver: admins see why, and may send a message again."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from app.admin.views import bp
from app.auth.access import admin_required, current_actor
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.mail import outbox
from app.transactions import commits, read_only


@bp.get("/outbox")
@admin_required
@read_only
def outbox_page():
    view = outbox.overview(get_session(), now=now_utc())
    return render_template("admin/outbox.html", view=view, form=ActionForm(formdata=None))


@bp.post("/outbox/<token>/send-again")
@admin_required
@commits
def outbox_send_again(token: str):
    if ActionForm().validate_on_submit():
        try:
            outbox.send_again(get_session(), token=token, actor=current_actor(), now=now_utc())
        except outbox.MessageNotFound:
            flash("That message is not waiting to be sent again.", "error")
        else:
            flash("The message is queued to be sent again.", "success")
    return redirect(url_for(".outbox_page"), code=303)
