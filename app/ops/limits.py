"""Rate limits on the public form's POST and on sign-in attempts, per client address.

One Limiter per application (not a module-level singleton: Flask-Limiter keeps some
settings from the first app it sees). The limits are attached by endpoint name after
every blueprint is registered, so the staff side's sign-in view is covered wherever it
lives, and the views themselves stay free of rate-limit code.
"""

from __future__ import annotations

import math
import time
from functools import wraps

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.public.resend import is_resend_of_stored_request

FORM_ENDPOINT = "public.request_appointment"
# Flask-Limiter settings that would put a limit on every request, not just on the views
# limited below.
_APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
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
    if not any(app.config.get(name) for name in _APP_WIDE_LIMITS):
        # Every limit here sits on a view (below), and each view's wrapper checks its
        # own. The limiter's before-request hook only looks for app-wide limits, finds
        # none, and cost about a fifth of the information page's time (docs/performance.md).
        hooks = app.before_request_funcs.get(None, [])
        if limiter._check_request_limit in hooks:  # absent when the limiter is disabled
            hooks.remove(limiter._check_request_limit)
    _answer_429_with_retry_after(app, limiter)
    if not app.config.get("RATELIMIT_ENABLED", True):
        return limiter
    # A re-send of a stored form stores nothing: never counted, never refused.
    _limit(
        app,
        limiter,
        FORM_ENDPOINT,
        app.config["FORM_RATE_LIMIT"],
        exempt_when=is_resend_of_stored_request,
    )
    for endpoint in sign_in_endpoints(app):
        _limit(app, limiter, endpoint, app.config["SIGNIN_RATE_LIMIT"])
    return limiter


def _limit(app: Flask, limiter: Limiter, endpoint: str, limit: str, exempt_when=None) -> None:
    view = app.view_functions.get(endpoint)
    if view is None:
        return
    # Only attempts count: reading the form or the sign-in page is never limited.
    limited = limiter.limit(limit, methods=["POST"], exempt_when=exempt_when)(view)

    @wraps(view)
    def dispatch(*args, **kwargs):
        # A GET skips the limiter altogether: it would only find that no limit applies,
        # which cost about a third of the form page's time (docs/performance.md).
        if request.method == "POST":
            return limited(*args, **kwargs)
        return view(*args, **kwargs)

    app.view_functions[endpoint] = dispatch


def _answer_429_with_retry_after(app: Flask, limiter: Limiter) -> None:
    """Retry-After on every 429 (the page itself is the site's, from app.errors). The
    limiter's own X-RateLimit-* headers are off (RATELIMIT_HEADERS_ENABLED): filling them
    in cost a Redis round trip on every limited POST, and only a refused request needs to
    know when to come back."""

    @app.after_request
    def _retry_after(response: Response) -> Response:
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(_seconds_until_reset(limiter))
        return response


def _seconds_until_reset(limiter: Limiter) -> int:
    current = limiter.current_limit
    if current is None:  # a 429 that no limit of the limiter's raised
        return 60
    reset_time = current.window[0]
    return max(1, math.ceil(reset_time - time.time()))
