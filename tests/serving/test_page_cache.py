"""The one page cache: a copy is kept per key, and two keys never share an entry."""

from __future__ import annotations

import dataclasses

import pytest
from flask import request, request_started

from app.serving import pages
from app.serving.pages import REPLAY_PART, PageCache, cache_for, page_key
from tests.conftest import make_test_app

BASE_ENVIRON = {
    "PATH_INFO": "/",
    "SCRIPT_NAME": "",
    "HTTP_HOST": "intake.example.org",
    "wsgi.url_scheme": "http",
}
# One environment per thing that can change a page's bytes, each differing from the base
# in that thing only.
VARIANTS = {
    "path": {"PATH_INFO": "/request-appointment"},
    "script_root": {"SCRIPT_NAME": "/intake"},
    "host": {"HTTP_HOST": "other.example.org"},
    "https": {"wsgi.url_scheme": "https"},
}


def test_every_field_of_the_key_is_taken_from_the_request():
    base = page_key(BASE_ENVIRON)
    assert base.language == "en"
    for field, change in VARIANTS.items():
        other = page_key({**BASE_ENVIRON, **change})
        changed = [
            f.name
            for f in dataclasses.fields(base)
            if getattr(base, f.name) != getattr(other, f.name)
        ]
        assert changed == [field]


@pytest.mark.parametrize("field", [*VARIANTS, "language"])
def test_two_keys_never_share_an_entry(app, field, monkeypatch):
    cache = PageCache(app)
    first = page_key(BASE_ENVIRON)
    if field == "language":
        monkeypatch.setattr(pages, "page_language", lambda environ: "es")
    second = page_key({**BASE_ENVIRON, **VARIANTS.get(field, {})})
    assert first != second
    cache.put(first, "page", "copy for the first key")
    assert cache.get(second, "page") is None
    cache.put(second, "page", "copy for the second key")
    assert cache.get(first, "page") == "copy for the first key"
    assert cache.get(second, "page") == "copy for the second key"


def test_a_page_in_another_language_is_rendered_and_kept_apart(app, monkeypatch):
    # The day Spanish arrives, page_language answers "es" for it; the cache needs nothing more.
    monkeypatch.setattr(
        pages, "page_language", lambda environ: environ.get("HTTP_X_TEST_LANGUAGE", "en")
    )
    handled: list[str] = []

    def record(_sender, **_extra):
        handled.append(request.headers.get("X-Test-Language", "en"))

    request_started.connect(record, app)
    client = app.test_client()
    for _ in range(2):
        client.get("/")
        client.get("/", headers={"X-Test-Language": "es"})
    request_started.disconnect(record, app)
    assert handled == ["en", "es"], "each language rendered once, then replayed"
    languages = {key.language for key, part in cache_for(app).keys() if part == REPLAY_PART}
    assert languages == {"en", "es"}


def test_made_up_hosts_cannot_grow_the_cache_without_bound(database_url):
    app = make_test_app(database_url, TRUSTED_PROXY_COUNT=1)
    client = app.test_client()
    clean = client.get("/").data
    for n in range(pages.MAX_ENTRIES + 20):
        client.get("/", headers={"X-Forwarded-Host": f"host-{n}.example"})
    assert len(cache_for(app)) <= pages.MAX_ENTRIES
    assert client.get("/").data == clean


def test_nothing_is_kept_while_templates_may_change(database_url):
    app = make_test_app(database_url, TEMPLATES_AUTO_RELOAD=True)
    client = app.test_client()
    for path in ("/", "/request-appointment"):
        client.get(path)
    assert len(cache_for(app)) == 0
