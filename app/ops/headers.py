"""Security headers on every response, and no caching of pages that carry patient data
or a person's form."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_talisman import Talisman

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

# Pages that show what a person typed, their reference, or anything on the staff side.
NO_STORE_ENDPOINTS = frozenset({"public.request_appointment", "public.confirmation"})
# Any blueprint whose name starts with one of these is staff-only, as is any /staff/ path.
STAFF_BLUEPRINT_PREFIXES = ("staff", "intake", "auth", "admin")
STAFF_PATH_PREFIX = "/staff"

talisman = Talisman()


def must_not_be_stored() -> bool:
    endpoint = request.endpoint or ""
    if endpoint in NO_STORE_ENDPOINTS:
        return True
    if endpoint.split(".", 1)[0].startswith(STAFF_BLUEPRINT_PREFIXES) and "." in endpoint:
        return True
    path = request.path
    return path == STAFF_PATH_PREFIX or path.startswith(STAFF_PATH_PREFIX + "/")


def init_app(app: Flask) -> None:
    talisman.init_app(
        app,
        # TLS ends at the proxy, which redirects http to https; the app must still answer
        # the proxy's plain-http health checks.
        force_https=False,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
        feature_policy={},
        document_policy={},
        referrer_policy="strict-origin-when-cross-origin",
        strict_transport_security=app.config["HSTS_ENABLED"],
        strict_transport_security_max_age=365 * 24 * 3600,
        strict_transport_security_include_subdomains=False,
        # The cookie settings stay with config.py (SESSION_COOKIE_*).
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
        x_content_type_options=True,
    )

    @app.after_request
    def _no_store(response: Response) -> Response:
        if must_not_be_stored():
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response
