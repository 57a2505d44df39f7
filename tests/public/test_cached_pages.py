"""The information page and the blank first page of the journey are rendered once per
worker; revalidating the information page is answered 304 without rendering anything; a
journey page not answered yet is rendered once per wording and questions, each browser
getting a copy with its own CSRF token."""

from __future__ import annotations

import re

import pytest
from flask import template_rendered

from app.requests.fields import STEPS, Step
from tests.conftest import make_test_app
from tests.support.forms import (
    caregiver_answers,
    csrf_token,
    referral_answers,
    start,
    step_data,
    step_url,
    valid_answers,
)
from tests.support.html import value_of

_SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


class _Rendered(list):
    """The names of the templates an app renders from now on. It holds its receiver: the
    signal keeps only a weak reference, and a receiver nothing else holds is dropped at
    once (the list would then stay empty whatever was rendered)."""

    def __init__(self, app) -> None:
        super().__init__()
        self.receiver = lambda _app, template, context: self.append(template.name)
        template_rendered.connect(self.receiver, app)


def _rendered_templates(app) -> list[str]:
    return _Rendered(app)


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


# -- journey pages not answered yet (issue 28) --------------------------------------------

_TOKEN = re.compile(r'(name="csrf_token" type="hidden" value=")([^"]+)(")')


def _walk_pages(browser, answers: dict, prefix: str = "") -> dict:
    """Each later page as a browser first sees it (not answered yet), then posted with the
    answers and the page's own token: {step: html}."""
    start(browser, headers=_SAME_ORIGIN)
    browser.post(
        f"{prefix}{step_url(STEPS[0])}", data=step_data(STEPS[0], answers), headers=_SAME_ORIGIN
    )
    pages = {}
    for step in STEPS[1:]:
        page = browser.get(f"{prefix}{step_url(step)}")
        assert page.status_code == 200
        html = pages[step] = page.get_data(as_text=True)
        posted = browser.post(
            f"{prefix}{step_url(step)}",
            data={**step_data(step, answers), "csrf_token": csrf_token(html)},
        )
        assert posted.status_code == 303, (step, posted.status_code)
    return pages


def _without_token(html: str) -> str:
    return _TOKEN.sub(r"\1TOKEN\3", html)


@pytest.mark.parametrize("prefix", ["", "/es"])
def test_a_page_not_answered_yet_is_made_once_and_is_what_flask_would_make(
    app, database_url, prefix
):
    fresh = make_test_app(database_url, TEMPLATES_AUTO_RELOAD=True)
    referred_caregiver = {**referral_answers(), **caregiver_answers(), "has_referral": "yes"}
    for answers in (valid_answers(), referred_caregiver):
        first = _walk_pages(app.test_client(), answers, prefix)
        rendered = _rendered_templates(app)
        second = _walk_pages(app.test_client(), answers, prefix)
        # The second browser's pages are copies: no step page was rendered for it.
        assert not [name for name in rendered if name.startswith("public/step_")]
        made_fresh = _walk_pages(fresh.test_client(), answers, prefix)
        for step in STEPS[1:]:
            # Each browser gets its own token in its copy (and the post with it was taken).
            assert csrf_token(first[step]) != csrf_token(second[step])
            assert _without_token(second[step]) == _without_token(first[step])
            # Byte for byte what an app that keeps nothing renders, but for the token.
            assert _without_token(second[step]) == _without_token(made_fresh[step])
    fresh.extensions["db_engine"].dispose()


def test_a_page_with_an_answer_is_made_for_its_browser_alone(app):
    answers = valid_answers()
    own = app.test_client()
    _walk_pages(own, answers)
    # Back to a page this browser answered: its answers, rendered for it.
    rendered = _rendered_templates(app)
    back = own.get(step_url(Step.PATIENT))
    assert rendered == ["public/step_patient.html"]
    assert value_of(back, "first_name") == "Maria"

    # Someone else who reaches the same page with nothing on it gets the kept copy,
    # with nothing of the first person's.
    other = app.test_client()
    start(other, headers=_SAME_ORIGIN)
    other.post(step_url(Step.WHO), data=step_data(Step.WHO, answers), headers=_SAME_ORIGIN)
    rendered.clear()
    page = other.get(step_url(Step.PATIENT))
    assert rendered == []
    assert value_of(page, "first_name") == ""
    for answer in ('"Maria"', "Santos-Ortiz", '"1965"', '"33612"'):
        assert answer not in page.get_data(as_text=True)
