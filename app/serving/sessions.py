"""Flask's signed-cookie sessions, with the signing serializer built once, not per request.

Flask builds a new ``URLSafeTimedSerializer`` each time it opens or saves a session: twice
a request on the form page, about a tenth of that page's time (docs/performance.md). What
it builds depends only on the secret keys, which are the application's configuration, so
one is kept per set of keys. Nothing else changes: same cookie, same signature, same
expiry; Flask's own ``get_signing_serializer`` builds it (a public method of the
documented ``SessionInterface`` seam).

The digest is SHA-1 as Flask's, named as ``hashlib.sha1`` itself rather than Flask's
``_lazy_sha1`` wrapper (a Python function, kept so that FIPS builds without SHA-1 can
import Flask): ``hmac`` takes its OpenSSL path only for a hashlib constructor and falls
back to a pure-Python HMAC for any other callable (two HMACs per signature: the key
derivation and the signature; a few microseconds for every new visitor's cookie). Same
algorithm, same bytes: tests/serving/test_sessions.py checks a cookie against Flask's own
interface.
"""

from __future__ import annotations

import hashlib

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SigningSerializerKept(SecureCookieSessionInterface):
    digest_method = staticmethod(hashlib.sha1)

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
