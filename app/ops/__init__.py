"""Running in production: health and readiness, the proxy, security headers, structured
logs, rate limits and operators' commands."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import headers, limits, logs
from .cli import intake_cli
from .deploy_check import check_deploy_command
from .views import bp


def init_app(app: Flask) -> None:
    """Call after every other blueprint is registered: the rate limits wrap their views."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies > 0:
        # Only as many X-Forwarded-* hops as there are proxies we run are believed; a
        # client cannot pick its own address to dodge the rate limits.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
    logs.configure_logging(app.config["LOG_LEVEL"])
    logs.init_request_ids(app)
    headers.init_app(app)
    app.register_blueprint(bp)
    limits.init_app(app)
    app.cli.add_command(check_deploy_command)
    app.cli.add_command(intake_cli)
