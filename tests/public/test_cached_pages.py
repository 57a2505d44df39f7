"""The information page and the blank first page of the journey are rendered once per
worker; revalidating the information page is answered 304 without rendering anything."""

from __future__ import annotations

import re

from flask import template_rendered

from tests.conftest import make_test_app


def _rendered_templates(app) -> list[str]:
    names: list[str] = []
    template_rendered.connect(lambda _app, template, context: names.append(template.name), app)
    return names


def test_revalidation_is_answered_304_without_rendering(app, client):
    first = client.get("/")
    assert first.status_code == 200
    assert first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"]

    rendered = _rendered_templates(app)
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert rendered == []


def test_a_stale_etag_gets_the_full_page(client):
    response = client.get("/", headers={"If-None-Match": '"not-this-one"'})
    assert response.status_code == 200
    assert b"Metastatic breast cancer" in response.data


def test_the_etag_changes_with_the_facts_on_the_page(database_url):
    etags = set()
    for phone in ("1-888-663-3488", "1-800-555-0100"):
        app = make_test_app(database_url, CENTER_PHONE=phone)
        response = app.test_client().get("/")
        assert phone.encode() in response.data
        etags.add(response.headers["ETag"])
        app.extensions["db_engine"].dispose()
    assert len(etags) == 2


def test_the_blank_first_page_is_the_same_for_every_new_visitor(app, database_url):
    # Two new visitors (no cookies): one page, no token, no cookie, nothing kept by browsers.
    first, second = (app.test_client().get("/request-appointment") for _ in range(2))
    assert first.data == second.data
    for response in (first, second):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
        assert "Cookie" in response.headers["Vary"]
        assert b'name="csrf_token"' not in response.data
        assert b'name="form_token"' not in response.data
    assert re.search(
        r"<title>Ask for a new-patient appointment: step 1 of 6", first.get_data(as_text=True)
    )

    # What an app that keeps nothing renders for the same request, byte for byte.
    fresh = make_test_app(database_url, TEMPLATES_AUTO_RELOAD=True)
    assert fresh.test_client().get("/request-appointment").data == first.data
    fresh.extensions["db_engine"].dispose()


def test_a_browser_with_a_draft_never_gets_the_shared_page(app):
    browser = app.test_client()
    browser.get("/request-appointment")
    begun = browser.post(
        "/request-appointment/who",
        data={"submitter": "someone_else", "submitter_name": "Ana Ruiz"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert begun.status_code == 303
    page = browser.get("/request-appointment").get_data(as_text=True)
    assert 'value="Ana Ruiz"' in page
    assert 'name="csrf_token"' in page
    # Every other new visitor still gets the blank page.
    assert "Ana Ruiz" not in app.test_client().get("/request-appointment").get_data(as_text=True)
