"""Forged posts: the post that begins a request carries no token and is checked by what the
browser says of where it came from (app/serving/cross_origin.py); every post once the
browser holds a draft carries the CSRF token, as everywhere else."""

from __future__ import annotations

import pytest

from app.models import RequestDraft
from app.serving.cross_origin import is_cross_origin
from tests.conftest import count_rows
from tests.support.forms import caregiver_answers, csrf_token, step_data, step_url

FIRST = step_url("who")
SECOND = step_url("patient")
HOST = "intake.example.org"


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({"HTTP_SEC_FETCH_SITE": "same-origin"}, False),
        ({"HTTP_SEC_FETCH_SITE": "none"}, False),
        ({"HTTP_SEC_FETCH_SITE": "same-site"}, True),
        ({"HTTP_SEC_FETCH_SITE": "cross-site"}, True),
        # The browser's Fetch Metadata decides even when Origin looks like ours.
        ({"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_ORIGIN": f"https://{HOST}"}, True),
        ({"HTTP_ORIGIN": f"https://{HOST}"}, False),
        ({"HTTP_ORIGIN": f"https://{HOST.upper()}"}, False),
        ({"HTTP_ORIGIN": "https://evil.example"}, True),
        ({"HTTP_ORIGIN": f"https://{HOST}.evil.example"}, True),
        ({"HTTP_ORIGIN": f"https://{HOST}:8443"}, True),
        ({"HTTP_ORIGIN": "null"}, True),
        ({"HTTP_ORIGIN": "http://[::1"}, True),
        # Neither header: not a browser another site could drive.
        ({}, False),
    ],
)
def test_what_counts_as_another_site(headers, cross):
    assert is_cross_origin({"HTTP_HOST": HOST, **headers}) is cross


def _drafts(db) -> int:
    return count_rows(db, RequestDraft.__tablename__)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
def test_another_site_cannot_begin_a_request_in_a_visitors_browser(client, db, headers):
    response = client.post(FIRST, data=step_data("who", caregiver_answers()), headers=headers)
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    assert _drafts(db) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {}],
)
def test_the_sites_own_first_page_begins_a_request_without_a_token(client, db, headers):
    page = client.get("/request-appointment").get_data(as_text=True)
    assert 'name="csrf_token"' not in page
    response = client.post(FIRST, data=step_data("who", caregiver_answers()), headers=headers)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(SECOND)
    assert _drafts(db) == 1


def _begin(client) -> str:
    client.post(
        FIRST,
        data=step_data("who", caregiver_answers()),
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    return csrf_token(client.get(SECOND).get_data(as_text=True))


@pytest.mark.parametrize("step", ["who", "patient"])
def test_once_a_draft_is_held_every_post_needs_its_token(client, db, step):
    token = _begin(client)
    data = step_data(step, caregiver_answers())
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    # The browser's word is not enough once there is a draft to change.
    assert client.post(step_url(step), data=data, headers=same_origin).status_code == 400
    wrong = {**data, "csrf_token": "not-the-token"}
    assert client.post(step_url(step), data=wrong, headers=same_origin).status_code == 400
    right = {**data, "csrf_token": token}
    assert client.post(step_url(step), data=right, headers=same_origin).status_code == 303
    assert _drafts(db) == 1


def test_a_browser_whose_draft_expired_begins_again_with_its_token(client, db):
    _begin(client)
    db.execute(RequestDraft.__table__.delete())
    db.commit()
    # The browser still holds a draft key: its first page carries a token, and the post
    # that begins the new draft is checked by it.
    page = client.get("/request-appointment").get_data(as_text=True)
    token = csrf_token(page)
    data = step_data("who", caregiver_answers())
    assert client.post(FIRST, data=data).status_code == 400
    assert client.post(FIRST, data={**data, "csrf_token": token}).status_code == 303
    assert _drafts(db) == 1


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml"])
def test_a_first_page_sent_as_anything_but_a_form_is_refused(client, db, content_type):
    response = client.post(FIRST, data=b'{"submitter": "patient"}', content_type=content_type)
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert _drafts(db) == 0


def test_a_broken_multipart_first_page_begins_with_nothing_typed(client, db):
    response = client.post(FIRST, data=b"--x\r\nbroken", content_type="multipart/form-data")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Select whether you are the patient" in page
