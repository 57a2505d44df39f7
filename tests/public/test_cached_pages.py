"""The information page and the blank form are rendered once per worker; revalidating the
information page is answered 304 without rendering anything."""

from __future__ import annotations

import re

from flask import render_template, template_rendered

from app.public import journey, views
from app.request_fields import STEPS
from tests.conftest import make_test_app
from tests.support.forms import form_tokens


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


def test_the_cached_blank_form_is_the_full_render_with_each_visitors_tokens(app, client):
    pages = [client.get("/request-appointment").get_data(as_text=True) for _ in range(2)]
    tokens = [form_tokens(page) for page in pages]
    assert tokens[0]["form_token"] != tokens[1]["form_token"]

    with app.test_request_context("/request-appointment"):
        form = journey.form_for({})
        form.form_token.data = tokens[1]["form_token"]
        full = render_template(
            "public/step_who.html", form=form, **views._step_context(STEPS[0], {}, changing=False)
        )
    full = re.sub(
        r'(name="csrf_token" value=")[^"]+"',
        lambda m: m.group(1) + tokens[1]["csrf_token"] + '"',
        full,
    )
    assert re.search(r"<title>Ask for a new-patient appointment: step 1 of 6", pages[1])
