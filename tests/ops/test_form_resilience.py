"""The form when things go wrong: robots, a database that is down, a failed commit."""

import re

import pytest
from bs4 import BeautifulSoup
from sqlalchemy.exc import OperationalError

from tests.conftest import count_rows
from tests.support.forms import FORM_URL, open_form, referral_answers, submit
from tests.support.servers import free_port


def test_a_filled_in_trap_stores_nothing_but_looks_like_success(client, db):
    response = submit(client, referral_answers(website="http://spam.example"))
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    assert confirmation.status_code == 200
    assert "Request received" in confirmation.get_data(as_text=True)
    assert count_rows(db, "appointment_requests") == 0


def test_people_never_meet_the_trap(client):
    page = BeautifulSoup(client.get(FORM_URL).get_data(as_text=True), "html.parser")
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
    tokens = open_form(client)
    with monkeypatch.context() as patch:
        patch.setattr("sqlalchemy.orm.Session.commit", _failing_commit)
        response = client.post(FORM_URL, data={**answers, **tokens})
    assert response.status_code == 503
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    words = " ".join(page.get_text().split())
    assert "has not been saved yet" in words
    assert "please try sending it again in a few minutes, or call us" in words
    assert page.find(id="first_name")["value"] == answers["first_name"]
    assert page.find(id="physician_npi")["value"] == answers["physician_npi"]
    assert page.find(id="message").get_text() == answers["message"]
    assert page.find(id="dob_year")["value"] == answers["dob_year"]
    checked = {el["value"] for el in page.select("input[name=metastasis_sites][checked]")}
    assert checked == set(answers["metastasis_sites"])
    # The same form token, so sending it again cannot store it twice.
    assert page.find("input", attrs={"name": "form_token"})["value"] == tokens["form_token"]
    assert count_rows(db, "appointment_requests") == 0
    assert count_rows(db, "referrals") == 0

    # Sent again once the database is back: stored once.
    again = client.post(FORM_URL, data={**answers, **tokens})
    assert again.status_code == 303
    assert count_rows(db, "appointment_requests") == 1


@pytest.mark.postgres_only
def test_the_database_down_re_renders_the_form_with_503():
    from tests.conftest import make_test_app

    app = make_test_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/intake")
    client = app.test_client()
    answers = referral_answers()
    response = submit(client, answers)
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "has not been saved yet" in text
    assert re.search(r'id="last_name"[^>]*value="Santos-Ortiz"', text)
    app.extensions["db_engine"].dispose()
