"""Rate limits on the public form's POST and on sign-in attempts, per client address.

One Limiter per application (not a module-level singleton: Flask-Limiter keeps some
settings from the first app it sees). The limits are attached by endpoint name after
every blueprint is registered, so the staff side's sign-in view is covered wherever it
lives, and the views themselves stay free of rate-limit code.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

FORM_ENDPOINT = "public.request_appointment"
# Endpoints (by the last part of their name) that check a password.
SIGN_IN_VIEW_NAMES = frozenset({"sign_in", "signin", "login"})


def sign_in_endpoints(app: Flask) -> list[str]:
    return [e for e in app.view_functions if e.rsplit(".", 1)[-1] in SIGN_IN_VIEW_NAMES]


def init_app(app: Flask) -> Limiter:
    """Call after every blueprint is registered."""
    # The client address is the one ProxyFix derived from the trusted proxies' headers.
    limiter = Limiter(key_func=get_remote_address)
    limiter.init_app(app)
    # The wrapped views refer to the limiter weakly: the app must hold it.
    app.extensions["rate_limiter"] = limiter
    if not app.config.get("RATELIMIT_ENABLED", True):
        return limiter
    _limit(app, limiter, FORM_ENDPOINT, app.config["FORM_RATE_LIMIT"])
    for endpoint in sign_in_endpoints(app):
        _limit(app, limiter, endpoint, app.config["SIGNIN_RATE_LIMIT"])
    return limiter


def _limit(app: Flask, limiter: Limiter, endpoint: str, limit: str) -> None:
    view = app.view_functions.get(endpoint)
    if view is None:
        return
    # Only attempts count: reading the form or the sign-in page is never limited.
    app.view_functions[endpoint] = limiter.limit(limit, methods=["POST"])(view)
