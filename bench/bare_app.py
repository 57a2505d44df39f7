"""A bare Flask app: the ceiling our own stack sets, served by the same gunicorn config.

Three routes, each the bare twin of one of the app's public targets:

- ``/constant``: a constant page the size of the information page (no template, no hooks).
- ``/template``: a Jinja template that renders to the size of the information page.
- ``/insert`` (POST): reads a form of the same fields as the request form and stores a row of
  the same width in ``appointment_requests`` with one SQL statement.
- ``/journey/...``: the journey's twin, six steps, Check your answers and the send
  (bench/bare_journey.py).

Run with ``gunicorn -c gunicorn.conf.py 'bench.bare_app:create_app()'`` and DATABASE_URL set.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import Flask, redirect, render_template
from flask import request as flask_request
from sqlalchemy import JSON, bindparam, create_engine, event, text

HERE = Path(__file__).resolve().parent

# Every column the app's submission writes (submitted_at comes from the server default),
# in one statement. The sites go through SQLAlchemy's JSON type, as the app's column does
# (a CAST to JSON on SQLite is a cast to a number: it stored 0).
INSERT = text(
    """
    INSERT INTO appointment_requests (
        reference, submission_token, status, submitted_by_patient, submitter_name,
        submitter_relationship, submitter_phone, first_name, last_name, date_of_birth, sex,
        email, phone, contact_method, best_time_to_call, state, zip_code, language,
        language_other, interpreter_needed, diagnosed_metastatic, metastasis_sites,
        in_treatment, insurance_type, insurance_carrier, has_referral, message,
        consent_to_contact, reply_due_at, received_on
    ) VALUES (
        :reference, :submission_token, 'new', :submitted_by_patient, :submitter_name,
        :submitter_relationship, :submitter_phone, :first_name, :last_name, :date_of_birth,
        :sex, :email, :phone, :contact_method, :best_time_to_call, :state, :zip_code,
        :language, :language_other, :interpreter_needed, :diagnosed_metastatic,
        :metastasis_sites, :in_treatment, :insurance_type, :insurance_carrier,
        :has_referral, :message, :consent_to_contact, :reply_due_at, :received_on
    )
    """
).bindparams(bindparam("metastasis_sites", type_=JSON()))

PAGE_FACTS = {
    "title": "Metastatic (stage 4) breast cancer: treatment and appointments",
    "center_name": "Moffitt Cancer Center",
    "program_name": "Don & Erika Wallace Comprehensive Breast Program",
    "center_phone": "1-888-663-3488",
    "center_phone_href": "tel:18886633488",
}


def _row_from_form(form) -> dict:
    def text_or_none(name: str) -> str | None:
        return form.get(name) or None

    return {
        "reference": secrets.token_hex(6).upper(),
        "submission_token": form.get("form_token") or secrets.token_urlsafe(24),
        "submitted_by_patient": form.get("submitter") == "patient",
        "submitter_name": text_or_none("submitter_name"),
        "submitter_relationship": text_or_none("submitter_relationship"),
        "submitter_phone": text_or_none("submitter_phone"),
        "first_name": form.get("first_name", ""),
        "last_name": form.get("last_name", ""),
        "date_of_birth": date(
            int(form.get("dob_year", 1960)),
            int(form.get("dob_month", 1)),
            int(form.get("dob_day", 1)),
        ),
        "sex": text_or_none("sex"),
        "email": form.get("email", ""),
        "phone": form.get("phone", ""),
        "contact_method": form.get("contact_method", ""),
        "best_time_to_call": form.get("best_time_to_call", ""),
        "state": form.get("state", ""),
        "zip_code": form.get("zip_code", ""),
        "language": form.get("language", ""),
        "language_other": text_or_none("language_other"),
        "interpreter_needed": form.get("interpreter_needed") == "yes",
        "diagnosed_metastatic": form.get("diagnosed_metastatic", ""),
        "metastasis_sites": form.getlist("metastasis_sites"),
        "in_treatment": form.get("in_treatment") == "yes",
        "insurance_type": form.get("insurance_type", ""),
        "insurance_carrier": text_or_none("insurance_carrier"),
        "has_referral": form.get("has_referral") == "yes",
        "message": text_or_none("message"),
        "consent_to_contact": form.get("consent") == "y",
        # The two columns the app computes with its business clock (issue 16); the bare
        # baseline stores plain values, without the clock's work.
        "reply_due_at": datetime.now(UTC) + timedelta(days=2),
        "received_on": date.today(),
    }


def _make_engine(url: str):
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=5, max_overflow=5)
    engine = create_engine(url, connect_args={"timeout": 15})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # The same journal settings as the app's SQLite engine, so the twin is fair.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()

    return engine


def create_app(database_url: str | None = None) -> Flask:
    from flask_wtf.csrf import CSRFProtect

    from bench.bare_journey import blueprint

    app = Flask(__name__, template_folder=str(HERE / "templates"))
    # A signed session cookie and Flask-WTF's CSRF, as a small Flask form service has them.
    app.secret_key = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
    csrf = CSRFProtect(app)
    url = database_url or os.environ.get("DATABASE_URL")
    engine = _make_engine(url) if url else None
    app.extensions["bare_engine"] = engine
    if engine is not None:
        app.register_blueprint(blueprint(engine))

    with app.test_request_context():
        constant = render_template("bare_page.html", **PAGE_FACTS).encode()

    @app.get("/constant")
    def constant_page():
        return constant, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.get("/template")
    def template_page():
        return render_template("bare_page.html", **PAGE_FACTS)

    @app.post("/insert")
    @csrf.exempt
    def insert():
        if engine is None:
            return "no DATABASE_URL", 500
        with engine.begin() as conn:
            conn.execute(INSERT, _row_from_form(flask_request.form))
        return redirect("/constant", code=303)

    return app
