"""Security headers on every response, and no copy kept of any response unless its view
says it is the same for everyone.

The security headers: Flask-Talisman decides them (CSP, frame options, HSTS, ...), once per
application and scheme, at start-up. No policy here uses a nonce or differs per view, so
every response of one scheme gets the same headers; Talisman rebuilt them on every response
(the CSP string parsed from its dict), which cost about a seventh of a page's time
(docs/performance.md). Talisman works them out through its public API on a scratch
application, and an ``after_request`` hook sets the result; a test checks they are what
Talisman installed the ordinary way sends.

Caching: ``Cache-Control: no-store`` on every response unless its view is marked with
``@public_cache(max_age=...)`` (and answered 200 or 304), or it is one of the static files
(``static/``: the same for everyone; kept a year, immutable, under a fingerprinted name,
otherwise revalidated by ETag: static_files.py). A new page is private until someone says
otherwise, so a page with patient answers cannot become cacheable by being forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_talisman import Talisman
from werkzeug.test import Client

from app.serving.pages import is_https

# Everything the pages load comes from this site; no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}

# The site needs none of these browser features.
PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "browsing-topics": "()",
    "camera": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
}

PUBLIC_CACHE_ATTRIBUTE = "public_cache_control"
# Flask's own route for static/ (created by the factory from static_folder).
STATIC_ENDPOINT = "static"
_CACHEABLE_STATUSES = frozenset({200, 304})

View = TypeVar("View", bound=Callable[..., Any])


def public_cache(*, max_age: int) -> Callable[[View], View]:
    """Declares a view's answers the same for everyone: browsers and proxies may keep them
    for ``max_age`` seconds. Without it, a view's answers are never stored."""

    def mark(view: View) -> View:
        setattr(view, PUBLIC_CACHE_ATTRIBUTE, f"public, max-age={max_age}")
        return view

    return mark


def public_paths(app: Flask) -> list[str]:
    """The addresses of the views declared public that take no parameter."""
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if not rule.arguments
        and hasattr(app.view_functions.get(rule.endpoint), PUBLIC_CACHE_ATTRIBUTE)
    ]


def talisman_options(app: Flask) -> dict[str, Any]:
    return {
        # TLS ends at the proxy, which redirects http to https; the app must still answer
        # the proxy's plain-http health checks.
        "force_https": False,
        "frame_options": "DENY",
        "content_security_policy": CONTENT_SECURITY_POLICY,
        "permissions_policy": PERMISSIONS_POLICY,
        "feature_policy": {},
        "document_policy": {},
        "referrer_policy": "strict-origin-when-cross-origin",
        "strict_transport_security": app.config["HSTS_ENABLED"],
        "strict_transport_security_max_age": 365 * 24 * 3600,
        "strict_transport_security_include_subdomains": app.config["HSTS_INCLUDE_SUBDOMAINS"],
        # The cookie settings stay with config.py (SESSION_COOKIE_*).
        "session_cookie_secure": app.config["SESSION_COOKIE_SECURE"],
        "session_cookie_samesite": app.config["SESSION_COOKIE_SAMESITE"],
        "x_content_type_options": True,
    }


def talisman_headers(options: dict[str, Any]) -> dict[bool, list[tuple[str, str]]]:
    """The headers Talisman sets with these options, over http (False) and https (True):
    the difference between a scratch application's answer with and without Talisman."""
    answers = {}
    for with_talisman in (False, True):
        scratch = Flask(__name__)
        if with_talisman:
            Talisman(scratch, **options)
        scratch.add_url_rule("/", "page", lambda: "")
        # werkzeug's client, not Flask's test_client: that one imports click's testing
        # module and pdb with it into every worker.
        client = Client(scratch)
        answers[with_talisman] = {
            https: client.get("/", base_url="https://localhost" if https else "http://localhost")
            for https in (False, True)
        }
    headers = {}
    for https in (False, True):
        plain = set(answers[False][https].headers.keys())
        headers[https] = [
            (name, value)
            for name, value in answers[True][https].headers.items()
            if name not in plain
        ]
    return headers


def is_secure() -> bool:
    # Talisman's own rule for HSTS, kept: https as the WSGI server saw it, or as the
    # proxy says; the page cache's key decides its scheme by the same function.
    return is_https(request.environ)


def init_app(app: Flask) -> None:
    headers = talisman_headers(talisman_options(app))

    @app.after_request
    def _security_and_cache_headers(response: Response) -> Response:
        # Added, not replaced: no view sets a security header of its own (the policy is
        # the site's, decided here), and extending skips a search of the response's
        # headers per name (test_security_headers.py checks each is sent once).
        response.headers.extend(headers[is_secure()])
        if not _may_be_stored(app, response):
            response.headers["Cache-Control"] = "no-store"
            response.headers.remove("Expires")
        return response


def _may_be_stored(app: Flask, response: Response) -> bool:
    if response.status_code not in _CACHEABLE_STATUSES:
        return False
    endpoint = request.endpoint
    if endpoint == STATIC_ENDPOINT:
        return True
    policy = getattr(app.view_functions.get(endpoint or ""), PUBLIC_CACHE_ATTRIBUTE, None)
    if policy is None:
        return False
    response.headers["Cache-Control"] = policy
    return True
