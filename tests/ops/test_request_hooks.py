"""The per-request work trimmed for speed still does its job."""

from __future__ import annotations

from tests.conftest import make_test_app


def test_the_app_starts_with_the_rate_limiter_disabled(database_url):
    app = make_test_app(database_url, RATELIMIT_ENABLED=False)
    try:
        assert app.test_client().get("/").status_code == 200
    finally:
        app.extensions["db_engine"].dispose()


def test_security_headers_are_the_same_on_every_response(client):
    first, second = client.get("/"), client.get("/")
    for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
        assert first.headers[name] and first.headers[name] == second.headers[name]
    # A staff page gets its own headers, not the information page's copy.
    staff = client.get("/staff/login")
    assert staff.headers["Cache-Control"] == "no-store"
    assert "no-store" not in first.headers.get("Cache-Control", "")
