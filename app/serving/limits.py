"""Rate limits on the public form's POST and on failed sign-in attempts, per client address
(an IPv6 client by its /64).

Each limit is declared on its view with Flask-Limiter's own decorator
(``@form_rate_limit(exempt_when=...)``, ``@sign_in_rate_limit``), so a view carries its
limit wherever it is registered and nothing looks views up by name. The amounts are read
from the configuration on each request (``FORM_RATE_LIMIT``, ``SIGNIN_RATE_LIMIT``).

The limiter is one object for the process, bound to the application by ``init_app``, as
Flask-Limiter's documentation does it: the decorators need it when the views are defined.
It takes its storage, key prefix and on/off switch from the configuration of the app it
is bound to; everything that is a decision of this code rather than of a deployment (keep
the form up when Redis is down, no X-RateLimit-* headers) is fixed here, because the
limiter keeps such settings from the first application it sees. One process serves one
application in production; tests that need other counters run gunicorn.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.common import metrics
from app.common.addresses import address_group, in_networks

# Only attempts count: reading the form or the sign-in page is never limited.
_LIMITED_METHODS = ("POST",)


def _client_key() -> str:
    """The client address (the one the trusted-proxy fix derived; an IPv6 client by its
    /64, app/common/addresses.py), under the serving app's RATELIMIT_KEY_PREFIX: the
    limiter keeps the prefix of the first app it is bound to, so without it two apps in
    one process (tests, a second worker app sharing Redis with another prefix) would
    share counters."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return f"{prefix}:{address_group(get_remote_address())}"


limiter = Limiter(
    key_func=_client_key,
    # A Redis outage must not take the form down: count in memory until it is back.
    swallow_errors=True,
    in_memory_fallback_enabled=True,
    # No X-RateLimit-* headers: each cost a Redis round trip on every limited POST; a
    # refused request is told when to come back (Retry-After, below).
    headers_enabled=False,
)


@limiter.request_filter
def _reading_is_never_limited() -> bool:
    """Every limit of this site is on attempts (POST), so a GET, HEAD or OPTIONS is never
    limited. Saying so here lets the limiter's before-request hook, which runs on every
    request Flask handles, stop before working out which limits apply (about a tenth of
    the form page's time, docs/performance.md). A limit on reading would have to change
    this filter."""
    return request.method not in _LIMITED_METHODS


def _form_limit() -> str:
    return current_app.config["FORM_RATE_LIMIT"]


def _draft_limit() -> str:
    return current_app.config["DRAFT_RATE_LIMIT"]


def _sign_in_limit() -> str:
    """SIGNIN_RATE_LIMIT; from the center's own networks (CENTER_NETWORKS, one address
    for a whole office) CENTER_ADDRESS_FAILURES in STAFF_LOCKOUT_MINUTES instead."""
    config = current_app.config
    if in_networks(get_remote_address(), config.get("CENTER_NETWORKS", ())):
        return f"{config['CENTER_ADDRESS_FAILURES']} per {config['STAFF_LOCKOUT_MINUTES']} minutes"
    return config["SIGNIN_RATE_LIMIT"]


def _failed_sign_in(response: Response) -> bool:
    """Only a failed attempt counts against the address: a right password answers 303
    (to the code step or the queue). Ten colleagues signing in behind one hospital
    address at 8:00 use none of it."""
    return response.status_code != 303


def _counted(limit: str) -> Callable[[object], None]:
    """Flask-Limiter's on_breach: each refusal counted, by which limit (the metrics)."""

    def on_breach(_request_limit) -> None:
        metrics.count_rate_limit_refusal(limit)

    return on_breach


def form_rate_limit(*, exempt_when: Callable[[], bool] | None = None):
    """The public form's limit on its POST view. ``exempt_when`` says which posts are
    neither counted nor refused (a re-send of a form already stored: it stores nothing,
    and a refusal would hide the reference of a request we have)."""
    return limiter.limit(
        _form_limit,
        methods=list(_LIMITED_METHODS),
        exempt_when=exempt_when,
        on_breach=_counted("form"),
    )


def draft_rate_limit(*, exempt_when: Callable[[], bool] | None = None):
    """The journey's first page: how many new drafts (requests begun) one address may
    start. Laxer than the send's limit (people start again, or fill in for two people);
    there so that a flood of first pages cannot fill the database with drafts."""
    return limiter.limit(
        _draft_limit,
        methods=list(_LIMITED_METHODS),
        exempt_when=exempt_when,
        on_breach=_counted("draft"),
    )


sign_in_rate_limit = limiter.limit(
    _sign_in_limit,
    methods=list(_LIMITED_METHODS),
    deduct_when=_failed_sign_in,
    on_breach=_counted("sign_in"),
)


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    _answer_429_with_retry_after(app)


def _answer_429_with_retry_after(app: Flask) -> None:
    """Retry-After on every 429 (the page itself is the site's, from app.error_pages)."""

    @app.after_request
    def _retry_after(response: Response) -> Response:
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(_seconds_until_reset())
        return response


def _seconds_until_reset() -> int:
    current = limiter.current_limit
    if current is None:  # a 429 that no limit of the limiter's raised
        return 60
    reset_time = current.window[0]
    return max(1, math.ceil(reset_time - time.time()))
