"""Private by default: every answer is no-store unless its view is declared public."""

from __future__ import annotations

from flask import Flask

from app.models import StaffRole
from app.serving.headers import PUBLIC_CACHE_ATTRIBUTE, STATIC_ENDPOINT
from tests.support.staff import make_request, signed_in_client

# The only views declared the same for everyone, reviewed: adding one is a decision.
DECLARED_PUBLIC = {"public.information", "public.favicon"}


def get_routes(app: Flask, reference: str) -> list[tuple[str, str]]:
    """(endpoint, URL) for every GET rule of the URL map, parameters filled in."""
    samples = {"reference": reference, "filename": "css/site.css", "step": "patient"}
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in (rule.methods or ()):
                args = {name: samples.get(name, "1") for name in rule.arguments}
                routes.append((rule.endpoint, app.url_for(rule.endpoint, **args)))
    return routes


def declared_public(app: Flask, endpoint: str) -> bool:
    return hasattr(app.view_functions[endpoint], PUBLIC_CACHE_ATTRIBUTE)


def test_only_the_reviewed_views_are_declared_public(app):
    declared = {e for e in app.view_functions if declared_public(app, e)}
    assert declared == DECLARED_PUBLIC


def test_every_route_is_declared_public_or_answers_no_store(app, db):
    row = make_request(db)
    anonymous = app.test_client()
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN, email="ada@example.org")
    routes = get_routes(app, row.reference)
    assert len(routes) >= 10
    for who, client in (("anonymous", anonymous), ("admin", admin)):
        for endpoint, url in routes:
            with client.get(url) as response:
                cache_control = response.headers.get("Cache-Control", "")
                where = f"{who} {endpoint} {url} -> {response.status_code} {cache_control!r}"
                if declared_public(app, endpoint) and response.status_code == 200:
                    assert cache_control.startswith("public, max-age="), where
                elif endpoint == STATIC_ENDPOINT and response.status_code == 200:
                    # Flask's static files: the same for everyone, revalidated by ETag.
                    assert "no-store" not in cache_control and response.headers["ETag"], where
                else:
                    assert "no-store" in cache_control, where


def test_a_new_view_is_private_until_declared(database_url):
    from tests.conftest import make_test_app

    app = make_test_app(database_url)

    @app.get("/test-new-page")
    def new_page():
        return "answers a patient typed"

    assert app.test_client().get("/test-new-page").headers["Cache-Control"] == "no-store"


def test_errors_of_a_public_view_are_not_stored(client):
    assert "no-store" in client.get("/no-such-page").headers["Cache-Control"]
    assert "no-store" in client.post("/").headers["Cache-Control"]  # 405


def test_the_views_declared_public_are_the_pages_replayed(app):
    from app.serving.headers import public_paths

    assert sorted(public_paths(app)) == ["/", "/favicon.ico"]


def test_only_the_journeys_start_is_replayed_to_new_visitors(app):
    # A page that shows a visitor's own answers once they hold a draft: replayed only to
    # requests without cookies, and never stored by browsers or proxies.
    from app.serving.replay import new_visitor_paths

    assert new_visitor_paths(app) == ["/request-appointment"]
    for path in new_visitor_paths(app):
        headers = app.test_client().get(path).headers
        assert headers["Cache-Control"] == "no-store"
        assert "Cookie" in headers["Vary"]
