"""Running in production: health and readiness, the proxy, security headers, structured
logs, rate limits and operators' commands."""

from __future__ import annotations

from flask import Flask

from . import headers, limits, logs
from .cli import audit_cli, intake_cli
from .deploy_check import check_deploy_command
from .trusted_proxies import TrustedProxyFix, parse_networks
from .views import bp


def init_app(app: Flask) -> None:
    """Call after every other blueprint is registered: the rate limits wrap their views."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies > 0:
        # Only as many X-Forwarded-* hops as there are proxies we run are believed, and
        # only from those proxies' addresses: a client cannot pick its own address to
        # dodge the rate limits.
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            count=proxies,
            networks=parse_networks(app.config.get("TRUSTED_PROXIES")),
        )
    logs.configure_logging(app.config["LOG_LEVEL"])
    logs.init_request_ids(app)
    headers.init_app(app)
    app.register_blueprint(bp)
    limits.init_app(app)
    app.cli.add_command(check_deploy_command)
    app.cli.add_command(intake_cli)
    app.cli.add_command(audit_cli)
