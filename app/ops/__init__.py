"""Running in production: health and readiness, structured logs and operators' commands.
(The proxy, security headers, caches and rate limits are app/serving's.)"""

from __future__ import annotations

from flask import Flask

from . import logs
from .cli import audit_cli, intake_cli
from .deploy_check import check_deploy_command
from .views import bp


def init_app(app: Flask) -> None:
    logs.configure_logging(app.config["LOG_LEVEL"])
    logs.init_request_ids(app)
    app.register_blueprint(bp)
    app.cli.add_command(check_deploy_command)
    app.cli.add_command(intake_cli)
    app.cli.add_command(audit_cli)
