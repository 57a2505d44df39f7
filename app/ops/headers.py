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


class _CachedTalisman(Talisman):
    """Talisman, keeping the headers it works out for each endpoint and scheme.

    No policy here uses a nonce, so a view's security headers are the same on every
    response; Talisman rebuilt them (the CSP string included) every time, which cost
    about a seventh of the information page's time (docs/performance.md). What it sets
    is unchanged: the first response of each endpoint and scheme is worked out by
    Talisman itself and copied from then on."""

    def init_app(self, app, **options):
        # Talisman keeps its settings on the instance, one app at a time; so does this.
        self._header_cache: dict = {}
        super().init_app(app, **options)

    def _set_response_headers(self, response):
        if self.content_security_policy_nonce_in:
            return super()._set_response_headers(response)
        secure = request.is_secure or request.headers.get("X-Forwarded-Proto") == "https"
        key = (request.endpoint, secure)
        headers = self._header_cache.get(key)
        if headers is None:
            scratch = Response()
            scratch.headers.clear()
            super()._set_response_headers(scratch)
            headers = self._header_cache[key] = list(scratch.headers.items())
        for name, value in headers:
            response.headers[name] = value
        return response


talisman = _CachedTalisman()


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
        strict_transport_security_include_subdomains=app.config["HSTS_INCLUDE_SUBDOMAINS"],
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
