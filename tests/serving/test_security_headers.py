"""The security headers set from the precomputed dict are what Talisman, installed the
ordinary way with the same options, sends."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_talisman import Talisman

from app.serving.headers import talisman_options
from tests.conftest import make_test_app

SECURITY_HEADERS = {
    "content-security-policy",
    "permissions-policy",
    "referrer-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
}


def security_headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers if k.lower() in SECURITY_HEADERS}


@pytest.mark.parametrize("hsts", [True, False])
@pytest.mark.parametrize("base_url", ["http://localhost", "https://localhost"])
def test_the_headers_are_talismans_own(database_url, hsts, base_url):
    app = make_test_app(database_url, HSTS_ENABLED=hsts)
    reference = Flask(__name__)
    reference.config.update(app.config)
    Talisman(reference, **talisman_options(app))
    reference.add_url_rule("/", "page", lambda: "page")
    expected = security_headers(reference.test_client().get("/", base_url=base_url))
    assert "content-security-policy" in expected
    for path in ("/", "/request-appointment", "/staff/login", "/no-such-page"):
        response = app.test_client().get(path, base_url=base_url)
        assert security_headers(response) == expected, path
        # Each once: the hook adds them to whatever the view answered.
        names = [k.lower() for k, _ in response.headers if k.lower() in SECURITY_HEADERS]
        assert sorted(names) == sorted(expected), path
