"""Flask's signed-cookie sessions, with the signing serializer built once, not per request.

Flask builds a new ``URLSafeTimedSerializer`` each time it opens or saves a session: twice
a request on the form page, about a tenth of that page's time (docs/performance.md). What
it builds depends only on the secret keys, which are the application's configuration, so
one is kept per set of keys. Nothing else changes: same cookie, same signature, same
expiry; Flask's own ``get_signing_serializer`` builds it (a public method of the
documented ``SessionInterface`` seam).
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SigningSerializerKept(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._kept: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._kept
        if kept is None or kept[0] != keys:
            kept = self._kept = (keys, super().get_signing_serializer(app))
        return kept[1]


def init_app(app: Flask) -> None:
    app.session_interface = SigningSerializerKept()
