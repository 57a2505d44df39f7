"""The application factory (``create_app``, reached as ``app.create_app``): every area's
blueprint, commands and settings put together. wsgi.py and the tests call it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from app import admin, auth, db, error_pages, intake, ops, serving, templating
from app.accounts import cli as staff_cli
from app.common.addresses import parse_networks
from app.common.extensions import csrf
from app.common.validation import MAX_ROW_ID, normalize_phone
from app.fhir import cli as fhir_cli
from app.mail import cli as mail_cli
from app.ops import hostile
from app.patient import bp as patient_bp
from app.public import bp as public_bp
from app.records import cli as records_cli
from app.requests import business_clock
from config import ConfigError, ProductionConfig, config_from_env

ROOT = Path(__file__).resolve().parent.parent


class RowId(IntegerConverter):
    """``<id:staff_id>``: a row's id in a path, 1 to MAX_ROW_ID. A larger number is a 404
    here, never a query the database refuses (PostgreSQL's integer range, the SQLite
    driver's 64 bits) with a 500."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    # Before any blueprint: a rule is compiled with the converters known when it is added.
    app.url_map.converters["id"] = RowId
    config_class = config_from_env()
    if config_class is ProductionConfig:
        ProductionConfig.validate()
    app.config.from_object(config_class)
    if config_overrides:
        app.config.update(config_overrides)

    try:
        # One clock per app: the staff pages, the form and the templates all read it.
        app.extensions["business_clock"] = business_clock.from_settings(app.config)
    except business_clock.ClockSettingError as error:
        raise ConfigError(str(error)) from None

    try:
        # The information page says when its facts were last reviewed.
        app.config["INFORMATION_REVIEWED"] = date.fromisoformat(
            str(app.config["INFORMATION_REVIEWED"])
        ).isoformat()
    except ValueError:
        raise ConfigError("INFORMATION_REVIEWED must be a date, like 2026-11-20.") from None

    try:
        # Parsed once: the sign-in limits read it on every failed attempt.
        app.config["CENTER_NETWORKS"] = parse_networks(app.config["CENTER_NETWORKS"])
    except ValueError as error:
        raise ConfigError(f"CENTER_NETWORKS: {error}.") from None

    Path(app.instance_path).mkdir(exist_ok=True)
    db.init_app(app)
    csrf.init_app(app)
    templating.init_app(app)

    app.register_blueprint(public_bp)
    app.register_blueprint(patient_bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(admin.bp)
    staff_cli.init_app(app)
    fhir_cli.init_app(app)
    mail_cli.init_app(app)
    records_cli.init_app(app)
    error_pages.init_app(app)
    hostile.init_app(app)
    ops.init_app(app)
    serving.init_app(app)

    # Computed once: every page shows these, and they change only with the config.
    center_facts = {
        "center_name": app.config["CENTER_NAME"],
        "program_name": app.config["PROGRAM_NAME"],
        "center_phone": app.config["CENTER_PHONE"],
        "center_phone_href": "tel:" + (normalize_phone(app.config["CENTER_PHONE"]) or ""),
    }

    @app.context_processor
    def _center_facts() -> dict[str, Any]:
        return center_facts

    return app
