"""The form when things go wrong: robots, a database that is down, a failed commit."""

import re

import pytest
from bs4 import BeautifulSoup
from sqlalchemy.exc import OperationalError

from app.requests.fields import Step
from tests.conftest import count_rows
from tests.support.forms import (
    CHECK_URL,
    SEND_URL,
    open_form,
    referral_answers,
    step_data,
    step_url,
    submit,
)
from tests.support.servers import free_port


def test_a_filled_in_trap_stores_nothing_but_looks_like_success(client, db):
    response = submit(client, referral_answers(website="http://spam.example"))
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    assert confirmation.status_code == 200
    assert "Request received" in confirmation.get_data(as_text=True)
    assert count_rows(db, "appointment_requests") == 0


def test_people_never_meet_the_trap(client):
    open_form(client)
    page = BeautifulSoup(client.get(CHECK_URL).get_data(as_text=True), "html.parser")
    trap = page.find("input", attrs={"name": "website"})
    container = trap.find_parent(class_="trap")
    # Hidden from screen readers, out of the tab order, not autofilled...
    assert container["aria-hidden"] == "true"
    assert trap["tabindex"] == "-1"
    assert trap["autocomplete"] == "off"
    # ...and nothing else in the hidden block can take focus (axe: aria-hidden-focus).
    focusable = container.find_all(["input", "a", "button", "select", "textarea"])
    assert all(el.get("tabindex") == "-1" for el in focusable)


def test_an_empty_trap_is_a_normal_request(client, db):
    assert submit(client, referral_answers(website="")).status_code == 303
    assert count_rows(db, "appointment_requests") == 1


def _failing_commit(self):
    raise OperationalError("COMMIT", {}, Exception("server closed the connection"))


def test_a_failed_commit_keeps_everything_typed_and_stores_nothing(client, db, monkeypatch):
    answers = referral_answers(message="Please call after 3 <pm> & not before")
    tokens = open_form(client, answers)
    with monkeypatch.context() as patch:
        patch.setattr("sqlalchemy.orm.Session.commit", _failing_commit)
        response = client.post(SEND_URL, data=tokens)
        # A step sent meanwhile comes back as typed, saying it was not saved.
        data = {**step_data(Step.CONSENT, answers), "csrf_token": tokens["csrf_token"]}
        step = client.post(step_url(Step.CONSENT), data=data)
    assert response.status_code == 503
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    words = " ".join(page.get_text().split())
    assert "has not been sent yet" in words
    assert "please press Send again in a few minutes, or call us" in words
    # The answers are still there to check, and the same send goes again.
    shown = {
        dd["data-answer"]: dd.get_text(" ", strip=True) for dd in page.select("dd[data-answer]")
    }
    assert shown["first_name"] == answers["first_name"]
    assert shown["physician_npi"] == answers["physician_npi"]
    assert shown["message"] == answers["message"]
    assert page.find("input", attrs={"name": "form_token"})["value"] == tokens["form_token"]
    assert step.status_code == 503
    step_page = BeautifulSoup(step.get_data(as_text=True), "html.parser")
    assert step_page.find(id="message").get_text() == answers["message"]
    assert count_rows(db, "appointment_requests") == 0
    assert count_rows(db, "referrals") == 0

    # Sent again once the database is back: stored once.
    again = client.post(SEND_URL, data=tokens)
    assert again.status_code == 303
    assert count_rows(db, "appointment_requests") == 1


@pytest.mark.postgres_only
def test_the_database_down_re_renders_the_form_with_503():
    from tests.conftest import make_test_app

    app = make_test_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/intake")
    client = app.test_client()
    answers = referral_answers()
    response = submit(client, answers)
    # The first step cannot be kept: it comes back as chosen, saying so.
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "have not been saved yet" in text
    assert re.search(r'id="submitter-0"[^>]*checked', text)
    app.extensions["db_engine"].dispose()
