"""A request with forged proxy headers must not change what the next visitor gets: every
cached page keeps its copies under the request's key (app/serving/pages.py), X-Forwarded-
Prefix is believed only when configured, and gunicorn never takes SCRIPT_NAME from a
request header."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_test_app
from tests.serving.test_static_files import stylesheet
from tests.support.servers import FormClient, gunicorn

EVIL = "evil.example"
POISON = {
    "X-Forwarded-Prefix": f"//{EVIL}",
    "X-Forwarded-Host": EVIL,
    "SCRIPT_NAME": f"//{EVIL}",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "203.0.113.66",
}
# Each visitor's own tokens differ; everything else on a page must be the same.
_TOKENS = re.compile(r'(name="(?:csrf_token|form_token)" type="hidden" value=")[^"]+"')
_LINKS = re.compile(r'(?:href|src|action)="([^"]*)"')


def pages_without_arguments(app) -> list[str]:
    """Every GET page of the app that takes no parameter: the cached ones among them
    (not /metrics: counts that change with every request, no page, no link)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.rule != "/metrics"
    )


def text(body: bytes) -> str:
    # /favicon.ico is among the pages: an image, read as text only to look for links.
    return body.decode(errors="replace")


def comparable(body: bytes) -> str:
    return _TOKENS.sub(r"\1TOKEN", text(body))


def assert_clean_links(body: str, where: str) -> None:
    assert EVIL not in body, where
    for link in _LINKS.findall(body):
        # The site's own links are paths ("/...", "#..."), or tel:; none leaves the site.
        assert not link.startswith("//") and "://" not in link, f"{where}: {link}"


@pytest.fixture
def proxied_app(database_url):
    # The documented production setting: one proxy in front, HSTS on.
    return make_test_app(database_url, TRUSTED_PROXY_COUNT=1, HSTS_ENABLED=True)


def test_the_walk_covers_the_cached_pages(proxied_app):
    assert {"/", "/request-appointment"} <= set(pages_without_arguments(proxied_app))


def test_forged_proxy_headers_never_reach_the_next_visitor(database_url, proxied_app):
    # What a clean visitor gets from an app that never saw a forged header.
    untouched = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, HSTS_ENABLED=True)
    expected = {
        path: comparable(untouched.test_client().get(path).data)
        for path in pages_without_arguments(untouched)
    }
    client = proxied_app.test_client()
    for path in pages_without_arguments(proxied_app):
        for _ in range(3):
            forged = client.get(path, headers=POISON)
            # The prefix is not believed, so even the forger's own page is clean.
            assert_clean_links(text(forged.data), f"forged {path}")
        for _ in range(3):
            clean = proxied_app.test_client().get(path)
            assert comparable(clean.data) == expected[path], path
            assert_clean_links(text(clean.data), f"clean {path}")
            assert "Strict-Transport-Security" not in clean.headers, path


def test_a_believed_prefix_gets_its_own_copy_and_nobody_elses(database_url):
    # With a proxy that sets X-Forwarded-Prefix, the page under the prefix links under it;
    # the copy made for it is never handed to a visitor who came without it.
    app = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, TRUST_FORWARDED_PREFIX=True)
    client = app.test_client()
    css = stylesheet(app)
    for path in ("/", "/request-appointment"):
        prefixed = client.get(path, headers={"X-Forwarded-Prefix": "/intake"})
        assert f'href="/intake{css}"' in prefixed.get_data(as_text=True)
        for _ in range(2):
            clean = app.test_client().get(path).get_data(as_text=True)
            assert f'href="{css}"' in clean
            assert "/intake/" not in clean
        again = client.get(path, headers={"X-Forwarded-Prefix": "/intake"})
        assert f'href="/intake{css}"' in again.get_data(as_text=True)


@pytest.mark.slow
def test_gunicorn_ignores_forged_headers_and_clean_visitors_get_clean_links(tmp_path):
    from tests.support.databases import migrate_to_head

    sqlite_url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    migrate_to_head(sqlite_url)
    env = {"DATABASE_URL": sqlite_url, "TRUSTED_PROXY_COUNT": "1", "RATELIMIT_ENABLED": "false"}
    # One worker, so the forged requests and the clean ones meet the same caches; the test
    # runs from 127.0.0.1, which gunicorn trusts for forwarded headers by default.
    with gunicorn(env, workers=1) as server:
        for path in ("/", "/request-appointment"):
            forger = FormClient(server.port, headers=POISON)
            for _ in range(6):
                forger.request("GET", path)
            # A SCRIPT_NAME header that would fit the path, if gunicorn believed it.
            under = FormClient(server.port, headers={"SCRIPT_NAME": "/evil"})
            assert under.request("GET", f"/evil{path}").status == 404
            for _ in range(6):
                reply = FormClient(server.port).request("GET", path)
                assert reply.status == 200, path
                assert_clean_links(reply.body, f"clean {path}")
                assert "/evil/" not in reply.body


def _on_the_patient_page(app, **headers):
    """A browser that began a request (its draft holds only who fills in the form) and
    opens the next page: a journey page kept for every such browser (issue 28)."""
    browser = app.test_client()
    browser.get("/request-appointment", headers=headers)
    begun = browser.post(
        "/request-appointment/who",
        data={"submitter": "patient"},
        headers={"Sec-Fetch-Site": "same-origin", **headers},
    )
    assert begun.status_code == 303
    return browser.get("/request-appointment/patient", headers=headers)


def test_a_kept_journey_page_is_never_made_from_another_visitors_headers(database_url):
    # Forged headers on a page kept for every browser that reaches it: the forger's own
    # copy is clean (nothing believed), and the next clean visitor gets exactly what an
    # app that never saw them gives.
    untouched = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, HSTS_ENABLED=True)
    expected = comparable(_on_the_patient_page(untouched).data)
    app = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, HSTS_ENABLED=True)
    for _ in range(2):
        assert_clean_links(text(_on_the_patient_page(app, **POISON).data), "forged")
    for _ in range(2):
        assert comparable(_on_the_patient_page(app).data) == expected

    # A believed prefix gets a copy of its own, links and form under it, and nobody
    # else's.
    believing = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, TRUST_FORWARDED_PREFIX=True)
    css = stylesheet(believing)
    prefixed = _on_the_patient_page(believing, **{"X-Forwarded-Prefix": "/intake"})
    page = prefixed.get_data(as_text=True)
    assert f'href="/intake{css}"' in page
    assert 'action="/intake/request-appointment/patient"' in page
    clean = _on_the_patient_page(believing).get_data(as_text=True)
    assert f'href="{css}"' in clean and "/intake/" not in clean
    assert 'action="/request-appointment/patient"' in clean
