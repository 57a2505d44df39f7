"""Running in production: health and readiness, structured logs and operators' commands.
(The proxy, security headers, caches and rate limits are app/serving's.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    # Imported here, not at the top: the gunicorn master imports this package for the worker
    # classes and must hold no application code (app/__init__.py says why).
    from app.ops import logs, metrics
    from app.ops.cli import audit_cli, intake_cli
    from app.ops.deploy_check import check_deploy_command
    from app.ops.views import bp

    logs.configure_logging(app.config["LOG_LEVEL"])
    logs.init_request_ids(app)
    # Parsed at start: a bad value stops the app with the setting's name.
    app.config["METRICS_ALLOWED"] = metrics.networks(app.config["METRICS_ALLOWED_NETWORKS"])
    app.register_blueprint(bp)
    app.cli.add_command(check_deploy_command)
    app.cli.add_command(intake_cli)
    app.cli.add_command(audit_cli)
