"""Security headers on every response; no-store wherever a person's data or form is."""

import os

import pytest
from flask import Flask

from config import DevelopmentConfig, ProductionConfig
from tests.conftest import make_test_app
from tests.support.forms import submit

# A value for each kind of URL parameter, so that every route can be requested.
SAMPLE_ARGUMENTS = {"reference": "ABCDEFGHJKMN", "filename": "css/site.css"}


def every_route(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, URL) for every GET route in the URL map."""
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()):
                continue
            args = {name: SAMPLE_ARGUMENTS.get(name, "1") for name in rule.arguments}
            routes.append((rule.endpoint, app.url_for(rule.endpoint, **args)))
    return routes


def assert_security_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert directives.get("default-src") == "'self'", where
    assert directives.get("script-src") == "'self'", where
    assert directives.get("style-src") == "'self'", where
    assert directives.get("frame-ancestors") == "'none'", where
    assert "unsafe-inline" not in csp, where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    assert "camera=()" in response.headers.get("Permissions-Policy", ""), where
    assert response.headers.get("X-Frame-Options") == "DENY", where


def is_no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_every_route_sends_the_security_headers(app, client):
    routes = every_route(app)
    assert {"public.information", "public.request_appointment", "ops.healthz"} <= {
        e for e, _ in routes
    }
    for endpoint, url in routes:
        with client.get(url) as response:
            assert_security_headers(response, f"{endpoint} {url}")


def test_error_responses_send_the_security_headers_too(client):
    assert_security_headers(client.get("/no-such-page"), "404")
    assert_security_headers(client.put("/request-appointment"), "405")
    assert_security_headers(client.post("/request-appointment/who", data={}), "400 csrf")


def test_the_form_and_its_confirmation_are_never_stored(client):
    assert is_no_store(client.get("/request-appointment"))
    posted = submit(client)
    assert is_no_store(posted)
    confirmation = client.get(posted.headers["Location"])
    assert confirmation.status_code == 200
    assert is_no_store(confirmation)
    assert is_no_store(client.get("/request-appointment/received/ABCDEFGHJKMN"))


def test_every_staff_route_is_never_stored(app, client):
    staff_routes = [
        (e, url)
        for e, url in every_route(app)
        if url.startswith("/staff") or e.split(".")[0] in ("staff", "intake", "auth", "admin")
    ]
    for endpoint, url in staff_routes:
        with client.get(url) as response:
            assert is_no_store(response), f"{endpoint} {url}"
    # Whatever the staff side grows, a /staff/ address is covered, even one that is not found.
    assert is_no_store(client.get("/staff/anything"))


def test_public_information_may_be_cached(client):
    assert not is_no_store(client.get("/"))


@pytest.mark.parametrize(
    "hsts, https, expected", [(True, True, True), (True, False, False), (False, True, False)]
)
def test_hsts_only_when_enabled_and_over_https(database_url, hsts, https, expected):
    app = make_test_app(database_url, HSTS_ENABLED=hsts)
    base_url = "https://localhost" if https else "http://localhost"
    response = app.test_client().get("/", base_url=base_url)
    assert ("Strict-Transport-Security" in response.headers) is expected


@pytest.mark.skipif(bool(os.environ.get("HSTS_ENABLED")), reason="HSTS_ENABLED is set")
def test_hsts_is_on_by_default_in_production_only():
    assert ProductionConfig.HSTS_ENABLED is True
    assert DevelopmentConfig.HSTS_ENABLED is False


@pytest.mark.parametrize("include", [True, False])
def test_hsts_covers_subdomains_unless_told_not_to(database_url, include):
    app = make_test_app(database_url, HSTS_ENABLED=True, HSTS_INCLUDE_SUBDOMAINS=include)
    response = app.test_client().get("/", base_url="https://localhost")
    assert ("includeSubDomains" in response.headers["Strict-Transport-Security"]) is include


def test_the_host_prefixed_session_cookie_is_set_secure_for_the_whole_site(database_url):
    app = make_test_app(
        database_url, SESSION_COOKIE_NAME="__Host-session", SESSION_COOKIE_SECURE=True
    )
    # The cookie comes with the first post (reading the first page makes none).
    response = app.test_client().post(
        "/request-appointment/who", data={"submitter": "patient"}, base_url="https://localhost"
    )
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
