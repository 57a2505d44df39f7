"""The information page, and the journey's first page for a visitor without cookies, are
answered from a copy of Flask's own answer after the first request: the same status,
headers and body, a request id of its own, and Flask not entered."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from flask import Flask, Response, request, request_started

from app.serving.pages import REPLAY_PART, SHARED_PAGE_KEY, PageCache, cache_for
from app.serving.replay import PageReplay
from tests.conftest import make_test_app

REQUEST_KINDS = [
    pytest.param({}, id="http"),
    pytest.param({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}, id="https"),
]


def _requests_flask_handled(app: Flask) -> list[str]:
    paths: list[str] = []

    def record(_sender, **_extra):
        paths.append(request.path)

    request_started.connect(record, app)
    app.extensions["test_receivers"] = record  # signals hold receivers weakly
    return paths


def _without_request_id(headers) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in headers if k.lower() != "x-request-id")


@pytest.fixture
def proxied_app(database_url):
    # Behind one proxy, with HSTS on: the https answer carries headers the http one lacks.
    return make_test_app(database_url, TRUSTED_PROXY_COUNT=1, HSTS_ENABLED=True)


@pytest.mark.parametrize("via", REQUEST_KINDS)
def test_a_replayed_page_is_what_flask_answered(proxied_app, via):
    client = proxied_app.test_client()
    handled = _requests_flask_handled(proxied_app)

    first = client.get("/", headers=via)
    second = client.get("/", headers=via)
    assert handled == ["/"]
    assert second.status_code == first.status_code == 200
    assert second.data == first.data
    assert _without_request_id(second.headers) == _without_request_id(first.headers)

    conditional = {**via, "If-None-Match": first.headers["ETag"]}
    flask_304 = client.get("/", headers=conditional)
    replayed_304 = client.get("/", headers=conditional)
    assert handled == ["/", "/"]
    assert replayed_304.status_code == flask_304.status_code == 304
    assert replayed_304.data == b""
    assert _without_request_id(replayed_304.headers) == _without_request_id(flask_304.headers)


def test_https_and_http_answers_are_kept_apart(proxied_app):
    client = proxied_app.test_client()
    for _ in range(2):
        plain = client.get("/")
        secure = client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in plain.headers
        assert "Strict-Transport-Security" in secure.headers


def test_campaign_links_get_the_same_page_without_entering_flask(app, client):
    handled = _requests_flask_handled(app)
    page = client.get("/").data
    assert client.get("/?utm_source=newsletter&utm_campaign=stage4").data == page
    assert handled == ["/"]


def test_every_replayed_answer_has_its_own_request_id(client):
    ids = {client.get("/").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    kept = client.get("/", headers={"X-Request-ID": "proxy-id-1234567"})
    assert kept.headers["X-Request-ID"] == "proxy-id-1234567"
    replaced = client.get("/", headers={"X-Request-ID": "no spaces allowed"})
    assert replaced.headers["X-Request-ID"] != "no spaces allowed"


def test_other_pages_and_methods_always_go_to_flask(app, client):
    handled = _requests_flask_handled(app)
    for _ in range(2):
        client.get("/request-appointment/who")
        client.head("/")
        client.head("/request-appointment")
    assert handled == ["/request-appointment/who", "/", "/request-appointment"] * 2


@pytest.mark.parametrize("via", REQUEST_KINDS)
def test_the_first_page_is_replayed_to_new_visitors_as_flask_answered(proxied_app, via):
    handled = _requests_flask_handled(proxied_app)
    first = proxied_app.test_client().get("/request-appointment", headers=via)
    second = proxied_app.test_client().get("/request-appointment", headers=via)
    assert handled == ["/request-appointment"]
    assert second.status_code == first.status_code == 200
    assert second.data == first.data
    assert _without_request_id(second.headers) == _without_request_id(first.headers)
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]


def test_a_request_with_any_cookie_goes_to_flask(app):
    handled = _requests_flask_handled(app)
    app.test_client().get("/request-appointment")
    for name in ("session", "other"):
        client = app.test_client()
        client.set_cookie(name, "anything")
        for _ in range(2):
            client.get("/request-appointment")
    assert handled == ["/request-appointment"] * 5


@pytest.mark.parametrize("setting", ["TEMPLATES_AUTO_RELOAD", "DEBUG"])
def test_nothing_is_replayed_while_templates_may_change(database_url, setting):
    app = make_test_app(database_url, **{setting: True})
    handled = _requests_flask_handled(app)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert handled == ["/"] * 3


def _site_answering(page: Callable[[], Response]) -> tuple[Flask, list[int]]:
    """A site whose "/" (replayed for everyone) and "/start" (for new visitors) both answer
    with ``page()``; the list counts the answers Flask gave."""
    site = Flask(__name__)
    calls: list[int] = []

    def view():
        calls.append(1)
        return page()

    site.add_url_rule("/", view_func=view)
    site.add_url_rule("/start", endpoint="start", view_func=view)
    site.wsgi_app = PageReplay(site.wsgi_app, PageCache(site), lambda: ["/"], lambda: ["/start"])
    return site, calls


def test_an_answer_that_sets_a_cookie_is_never_replayed():
    def page():
        # Said to be the page for everyone: only its cookie keeps it from being replayed.
        request.environ[SHARED_PAGE_KEY] = True
        response = Response("hello")
        response.set_etag("abc")
        response.set_cookie("visitor", secrets.token_hex(4))
        return response

    site, calls = _site_answering(page)
    for path in ("/", "/start"):
        calls.clear()
        cookies = [site.test_client().get(path).headers["Set-Cookie"] for _ in range(3)]
        assert len(calls) == 3
        assert len(set(cookies)) == 3


def test_an_answer_the_view_did_not_say_is_shared_is_never_replayed():
    def page():
        response = Response("hello")
        response.set_etag("abc")
        return response

    site, calls = _site_answering(page)
    for path in ("/", "/start"):
        calls.clear()
        for _ in range(3):
            site.test_client().get(path)
        assert len(calls) == 3


def test_made_up_forwarded_headers_cannot_fill_the_copies(app, client):
    # Without a trusted proxy anyone can send X-Forwarded-Proto; each value must not be
    # kept as a copy of its own.
    for n in range(50):
        client.get("/", headers={"X-Forwarded-Proto": f"made-up-{n}"})
    cache = cache_for(app)
    replayed = [cache.get(key, part) for key, part in cache.keys() if part == REPLAY_PART]
    assert sum(len(kept.answers) for kept in replayed) == 1
