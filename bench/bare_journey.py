"""The journey's bare twin: what a small Flask form service pays for the same six steps.

Plain Flask with Flask-WTF (its CSRF protection and a form class per step) and Flask's
signed session cookie; the same six steps asking the same fields (by name, so the bench
client posts the same answers to both), each page a Jinja template; the draft kept on the
server in the same database and the same ``request_drafts`` table, found by a random key
held in the session; "Check your answers" listing every answer; and one insert into
``appointment_requests`` at the end. What it leaves out is what the app adds on purpose:
rules that read earlier answers, Spanish, the funnel, the audit and history rows, the
outbox, the idempotent send. The ratio app / twin is what those cost.

Mounted on the bare app (bench/bare_app.py) under ``/journey``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, redirect, render_template, session
from flask_wtf import FlaskForm
from sqlalchemy import JSON, DateTime, bindparam, text
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.requests.fields import STEPS, step_form_fields
from bench.bare_app import INSERT, _row_from_form

_KEEP = timedelta(hours=2)
# The fields every valid answer carries: required in the twin as in the app.
_REQUIRED = {
    "submitter",
    "first_name",
    "last_name",
    "dob_month",
    "dob_day",
    "dob_year",
    "phone",
    "contact_method",
    "best_time_to_call",
    "state",
    "zip_code",
    "language",
    "interpreter_needed",
    "diagnosed_metastatic",
    "in_treatment",
    "insurance_type",
    "has_referral",
}
_SITES = ["lungs", "liver", "bones", "brain", "other", "not_sure"]

# Times as the app's columns hold them (SQLite: UTC wall-clock text; PostgreSQL:
# timestamptz), the answers as JSON on both.
_NOW = bindparam("now", type_=DateTime(timezone=True))
_WRITE = (
    _NOW,
    bindparam("expires", type_=DateTime(timezone=True)),
    bindparam("answers", type_=JSON()),
)
FIND = (
    text("SELECT answers FROM request_drafts WHERE key = :key AND expires_at > :now")
    .bindparams(_NOW)
    .columns(answers=JSON())
)
BEGIN = text(
    "INSERT INTO request_drafts (key, form_token, answers, checked_steps, updated_at, "
    "expires_at) VALUES (:key, :token, :answers, '[]', :now, :expires)"
).bindparams(*_WRITE)
SAVE = text(
    "UPDATE request_drafts SET answers = :answers, updated_at = :now, "
    "expires_at = :expires WHERE key = :key"
).bindparams(*_WRITE)
TOKEN = text("SELECT form_token FROM request_drafts WHERE key = :key")
SENT = text(
    "UPDATE request_drafts SET answers = NULL, sent_reference = :reference WHERE key = :key"
)


def _field(name: str):
    if name == "metastasis_sites":
        return SelectMultipleField(name, choices=[SelectChoice(s, s) for s in _SITES])
    if name == "consent":
        return BooleanField(name, validators=[DataRequired()])
    rule = DataRequired() if name in _REQUIRED else Optional()
    return StringField(name, validators=[rule, Length(max=200)])


# One FlaskForm class per step, with that step's fields (CSRF on, as Flask-WTF defaults).
FORMS = {
    step.value: type(
        f"Bare{step.name.title()}Form",
        (FlaskForm,),
        {name: _field(name) for name in step_form_fields(step)},
    )
    for step in STEPS
}
ORDER = [step.value for step in STEPS]


def _answers(conn, key: str | None) -> dict | None:
    if not key:
        return None
    return conn.execute(FIND, {"key": key, "now": datetime.now(UTC)}).scalar()


def blueprint(engine) -> Blueprint:
    bp = Blueprint("journey", __name__, url_prefix="/journey")

    @bp.get("/<step>")
    def show(step: str):
        if step not in FORMS:
            abort(404)
        with engine.connect() as conn:
            answers = _answers(conn, session.get("draft")) or {}
        form = FORMS[step](formdata=MultiDict(_pairs(answers)))
        return render_template("bare_step.html", form=form, step=step)

    @bp.post("/<step>")
    def save(step: str):
        if step not in FORMS:
            abort(404)
        form = FORMS[step]()
        if not form.validate():
            return render_template("bare_step.html", form=form, step=step)
        typed = {f.name: _kept(f.data) for f in form if f.name != "csrf_token"}
        now = datetime.now(UTC)
        with engine.begin() as conn:
            key = session.get("draft")
            answers = _answers(conn, key)
            if answers is None:
                key = secrets.token_urlsafe(32)
                values = {"key": key, "token": secrets.token_urlsafe(24), "answers": typed}
                conn.execute(BEGIN, _json(values, now))
                session["draft"] = key
            else:
                conn.execute(SAVE, _json({"key": key, "answers": answers | typed}, now))
        index = ORDER.index(step) + 1
        return redirect(f"/journey/{ORDER[index]}" if index < len(ORDER) else "/journey/check", 303)

    @bp.get("/check")
    def check():
        key = session.get("draft")
        with engine.connect() as conn:
            answers = _answers(conn, key)
            token = conn.execute(TOKEN, {"key": key}).scalar() if answers is not None else None
        if answers is None:
            return redirect(f"/journey/{ORDER[0]}", 303)
        return render_template("bare_check.html", answers=answers, form_token=token)

    @bp.post("/check")
    def send():
        key = session.get("draft")
        with engine.begin() as conn:
            answers = _answers(conn, key)
            if answers is None:
                return redirect(f"/journey/{ORDER[0]}", 303)
            form = MultiDict(_pairs(answers))
            token = conn.execute(TOKEN, {"key": key}).scalar()
            row = _row_from_form(form) | {"submission_token": token}
            row["consent_to_contact"] = bool(answers.get("consent"))
            conn.execute(INSERT, row)
            conn.execute(SENT, {"key": key, "reference": row["reference"]})
        return redirect(f"/journey/received/{row['reference']}", 303)

    return bp


def _kept(value):
    if value is None:
        return ""
    return "y" if value is True else value


def _pairs(answers: dict) -> list[tuple[str, str]]:
    pairs = []
    for name, value in answers.items():
        for item in value if isinstance(value, list) else [value]:
            if item not in ("", None, False):
                pairs.append((name, str(item)))
    return pairs


def _json(values: dict, now: datetime) -> dict:
    return values | {
        "now": now,
        "expires": now + _KEEP,
    }
