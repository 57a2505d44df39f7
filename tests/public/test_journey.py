"""The journey in steps (issue 15): one page per step, a draft on the server between them,
"Check your answers" with a Change link per answer, and one request whatever the person
does with Back, reload, a double click or a second tab."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from app.db import get_session
from app.models import AppointmentRequest, RequestDraft
from app.requests import drafts
from app.requests.fields import STEPS, Step, step_form_fields
from config import ConfigError
from tests.conftest import count_rows, make_test_app
from tests.support.forms import (
    CHECK_URL,
    FORM_URL,
    NEW_URL,
    caregiver_answers,
    fill_in,
    form_tokens,
    open_form,
    page_csrf,
    post_step,
    referral_answers,
    send,
    start,
    step_data,
    step_url,
    submit,
    valid_answers,
)
from tests.support.html import error_summary, parse, value_of, visible_text


def _only_draft(db) -> RequestDraft:
    db.rollback()
    return db.scalars(select(RequestDraft)).one()


def _session_cookie(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return serializer.loads(cookie.value)


def test_each_step_says_where_the_person_is_and_goes_to_the_next(client):
    csrf = start(client)
    first = client.get(FORM_URL)
    assert "Step 1 of 6" in visible_text(first)
    for number, step in enumerate(STEPS, start=1):
        page = client.get(step_url(step))
        assert f"Step {number} of 6" in visible_text(page)
        # One button, and it goes on: Enter on a step never sends the request.
        buttons = parse(page).select("form[data-request-form] button")
        assert [b.get_text(strip=True) for b in buttons] == ["Continue"]
        response = post_step(client, step, valid_answers(), csrf)
        assert response.status_code == 303
        following = STEPS[number] if number < len(STEPS) else None
        assert response.headers["Location"] == (step_url(following) if following else CHECK_URL)
    assert "Check your answers" in visible_text(client.get(CHECK_URL))


def test_a_later_step_before_the_earlier_ones_sends_back_to_the_first_unanswered(client):
    assert client.get(step_url(Step.DIAGNOSIS)).headers["Location"] == FORM_URL
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    response = client.get(step_url(Step.INSURANCE))
    assert response.status_code == 303
    assert response.headers["Location"] == step_url(Step.PATIENT)
    assert client.get(CHECK_URL).headers["Location"] == step_url(Step.PATIENT)
    assert client.get("/request-appointment/nowhere").status_code == 404


def test_a_page_with_problems_is_shown_again_by_a_get(client, db):
    # POST-redirect-GET: Back to it, or a reload, never asks to send the form again.
    csrf = start(client)
    response = post_step(client, Step.WHO, {}, csrf)
    assert response.status_code == 303
    assert response.headers["Location"] == step_url(Step.WHO)
    page = client.get(response.headers["Location"])
    assert "Select whether you are the patient" in error_summary(page)["submitter-0"]
    assert parse(page).title.get_text().startswith("Error: ")
    assert count_rows(db, "appointment_requests") == 0


def test_the_words_speak_to_the_patient_or_about_them(client):
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    own = visible_text(client.get(step_url(Step.PATIENT)))
    assert "Your date of birth" in own and "Your first name" in own
    assert "the patient's" not in own.lower()

    post_step(client, Step.WHO, caregiver_answers(), csrf)
    theirs = visible_text(client.get(step_url(Step.PATIENT)))
    assert "The patient's date of birth" in theirs and "The patient's first name" in theirs
    assert "Your date of birth" not in theirs


def test_caregiver_questions_only_for_a_caregiver(client):
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    post_step(client, Step.PATIENT, valid_answers(), csrf)
    page = parse(client.get(step_url(Step.CONTACT)))
    assert page.find(id="submitter_phone") is None
    assert page.find(id="call_first-0") is None

    post_step(client, Step.WHO, caregiver_answers(), csrf)
    page = parse(client.get(step_url(Step.CONTACT)))
    assert page.find(id="submitter_phone") is not None
    assert page.find(id="call_first-0") is not None


def test_back_shows_every_answer_given(client):
    referral = {k: v for k, v in referral_answers().items() if k.startswith(("physician", "has_"))}
    answers = {**caregiver_answers(), **referral}
    page = fill_in(client, answers)
    assert "Check your answers" in visible_text(page)
    who = client.get(step_url(Step.WHO))
    assert parse(who).find(id="submitter-1").has_attr("checked")
    assert value_of(who, "submitter_name") == "Ana Ruiz"
    contact = client.get(step_url(Step.CONTACT))
    assert value_of(contact, "submitter_phone") == "813 555 0177"
    insurance = client.get(step_url(Step.INSURANCE))
    assert parse(insurance).find(id="has_referral-0").has_attr("checked")
    assert value_of(insurance, "physician_name") == "Dr. Alan O'Neil"
    assert value_of(insurance, "physician_npi") == "1234567893"


def test_check_your_answers_lists_each_answer_with_a_change_link(client):
    page = fill_in(client, referral_answers())
    soup = parse(page)
    values = {
        dd["data-answer"]: dd.get_text(" ", strip=True) for dd in soup.select("[data-answer]")
    }
    assert values["first_name"] == "Maria"
    assert values["dob_month"] == "03/27/1965"
    assert values["physician_name"] == "Dr. Alan O'Neil"
    assert values["insurance_carrier"] == "Florida Blue"
    links = [a["href"] for a in soup.select(".check-answers__change a")]
    assert len(links) == len(values)
    assert f"{step_url(Step.PATIENT)}?change=check#first_name" in links
    # Self-pay: no insurance company row; no referral: no physician.
    plain = fill_in(client, valid_answers(insurance_type="none", has_referral="no"))
    values = {dd["data-answer"] for dd in parse(plain).select("[data-answer]")}
    assert "insurance_carrier" not in values and "physician_name" not in values


def test_a_change_returns_to_check_your_answers(client, db):
    page = fill_in(client, valid_answers())
    csrf = page_csrf(page.get_data(as_text=True))
    change = client.get(f"{step_url(Step.PATIENT)}?change=check")
    assert "Back to your answers" in visible_text(change)
    response = client.post(
        f"{step_url(Step.PATIENT)}?change=check",
        data={**step_data(Step.PATIENT, valid_answers(first_name="Mariana")), "csrf_token": csrf},
    )
    assert response.headers["Location"] == CHECK_URL
    assert "Mariana" in visible_text(client.get(CHECK_URL))


def test_a_change_that_opens_new_questions_asks_them_before_the_answers(client):
    page = fill_in(client, valid_answers())
    csrf = page_csrf(page.get_data(as_text=True))
    response = client.post(
        f"{step_url(Step.WHO)}?change=check",
        data={**step_data(Step.WHO, caregiver_answers()), "csrf_token": csrf},
    )
    # Now a caregiver: their own phone is asked, without a problem shown before they try.
    assert response.headers["Location"] == f"{step_url(Step.CONTACT)}?change=check"
    contact = client.get(response.headers["Location"])
    assert error_summary(contact) == {}
    assert parse(contact).find(id="submitter_phone") is not None
    response = client.post(
        f"{step_url(Step.CONTACT)}?change=check",
        data={**step_data(Step.CONTACT, caregiver_answers()), "csrf_token": csrf},
    )
    assert response.headers["Location"] == CHECK_URL


def test_answers_live_on_the_server_not_in_the_cookie_or_a_url(app, client, db):
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    response = post_step(client, Step.PATIENT, valid_answers(), csrf)
    assert "Maria" not in response.headers["Location"]
    draft = _only_draft(db)
    assert draft.answers["first_name"] == "Maria"
    cookie = _session_cookie(app, client)
    assert cookie["draft"] == draft.key
    assert "Maria" not in str(cookie) and "Santos" not in str(cookie)
    assert draft.key not in response.headers["Location"]


def test_a_draft_is_kept_by_any_worker_of_the_cluster(database_url, app, client, db):
    # Two app processes on one database (two gunicorn workers, or two hosts): the cookie
    # one gave is read by the other, and the draft is in the database for both.
    other = make_test_app(database_url)
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    other_client = other.test_client()
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    other_client.set_cookie(cookie.key, cookie.value)
    page = other_client.get(step_url(Step.WHO))
    assert parse(page).find(id="submitter-0").has_attr("checked")


def test_a_draft_expires_and_is_purged_and_the_journey_starts_again(app, client, db):
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    post_step(client, Step.PATIENT, valid_answers(), csrf)
    hours = app.config["DRAFT_KEEP_HOURS"]
    assert hours == 24
    draft = _only_draft(db)
    now = datetime.now(UTC)
    assert _utc(draft.expires_at) > now + timedelta(hours=hours) - timedelta(minutes=5)
    # Within the time: nothing purged.
    assert drafts.purge_expired(db, now=now) == 0
    db.commit()
    runner = app.test_cli_runner()
    later = now + timedelta(hours=hours, minutes=1)
    with app.app_context():
        assert drafts.purge_expired(get_session(), now=later) == 1
        get_session().commit()
    assert count_rows(db, "request_drafts") == 0
    # The browser comes back: a fresh start, nothing of the old answers.
    page = client.get(FORM_URL)
    assert page.status_code == 200
    assert not parse(page).find(id="submitter-0").has_attr("checked")
    result = runner.invoke(args=["intake", "purge-drafts"])
    assert "Removed 0 expired draft(s)" in result.output


def test_the_command_and_the_retention_run_remove_expired_drafts(app, db):
    now = datetime.now(UTC)
    for hours_ago in (30, 1):
        drafts.start(db, now=now - timedelta(hours=hours_ago), keep=timedelta(hours=24))
    db.commit()
    result = app.test_cli_runner().invoke(args=["intake", "purge-drafts"])
    assert "Removed 1 expired draft(s)" in result.output
    assert count_rows(db, "request_drafts") == 1
    drafts.start(db, now=now - timedelta(hours=48), keep=timedelta(hours=24))
    db.commit()
    result = app.test_cli_runner().invoke(args=["intake", "retention"])
    assert "removed 1 expired draft(s)" in result.output
    assert count_rows(db, "request_drafts") == 1


def test_sending_removes_the_answers_and_a_second_send_stores_nothing(client, db):
    tokens = open_form(client, referral_answers())
    first = send(client, tokens)
    assert first.status_code == 303
    draft = _only_draft(db)
    assert draft.answers is None and draft.sent_reference is not None
    # A double click, Back and Send again, a reload of the answers page: one request.
    for _ in range(3):
        again = send(client, tokens)
        assert again.headers["Location"] == first.headers["Location"]
    assert count_rows(db, "appointment_requests") == 1
    assert count_rows(db, "referrals") == 1


def test_after_sending_the_pages_say_it_was_sent_not_start_again(client, db):
    location = submit(client).headers["Location"]
    reference = location.rsplit("/", 1)[1]
    shown = f"{reference[:4]}-{reference[4:8]}-{reference[8:]}"
    for url in [FORM_URL, step_url(Step.PATIENT), step_url(Step.CONSENT), CHECK_URL]:
        words = visible_text(client.get(url))
        assert "You sent this request" in words, url
        assert shown in words
        assert "Maria" not in words
    # Back to a step and Continue: nothing changes, nothing is stored.
    page = client.get(step_url(Step.CONSENT))
    csrf = page_csrf(page.get_data(as_text=True))
    post_step(client, Step.CONSENT, valid_answers(), csrf)
    assert count_rows(db, "appointment_requests") == 1
    # A new request only when asked for.
    client.post(NEW_URL, data={"csrf_token": csrf})
    fresh = client.get(FORM_URL)
    assert "Step 1 of 6" in visible_text(fresh)
    assert not parse(fresh).find(id="submitter-0").has_attr("checked")


def test_a_second_tab_shares_the_draft_and_sends_once(client, db):
    page = fill_in(client, valid_answers())
    tab_one = form_tokens(page.get_data(as_text=True))
    tab_two = form_tokens(client.get(CHECK_URL).get_data(as_text=True))
    assert tab_one["form_token"] == tab_two["form_token"]
    first = send(client, tab_one)
    second = send(client, tab_two)
    assert first.headers["Location"] == second.headers["Location"]
    assert count_rows(db, "appointment_requests") == 1


def test_the_stored_request_is_the_answers_checked(client, db):
    assert submit(client, caregiver_answers(first_name="Rosa")).status_code == 303
    db.rollback()
    row = db.scalars(select(AppointmentRequest)).one()
    assert row.first_name == "Rosa" and row.submitted_by_patient is False
    assert row.submitter_phone == "+18135550177"


def test_no_answer_reaches_the_log(client, caplog):
    with caplog.at_level(logging.DEBUG):
        submit(client, caregiver_answers(first_name="Zebulon", zip_code="33613"))
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert "Zebulon" not in logged and "5550177" not in logged


def test_every_journey_page_is_no_store(client):
    csrf = start(client)
    post_step(client, Step.WHO, valid_answers(), csrf)
    for url in [FORM_URL, step_url(Step.WHO), step_url(Step.PATIENT)]:
        assert "no-store" in client.get(url).headers["Cache-Control"]


def test_the_confirmation_says_who_will_call_when_and_what_to_have_ready(app, client):
    location = submit(client).headers["Location"]
    page = client.get(location)
    words = visible_text(page)
    assert app.config["CENTER_CALLBACK_PHONE"] in words
    assert app.config["CALLBACK_HOURS"] in words
    assert "within 2 business days" in words
    for thing in ["insurance card", "medicines", "reports", "referral letter"]:
        assert thing in words
    # A print button (script) and, without the script, how to print or save.
    soup = parse(page)
    assert soup.select_one("[data-print-button]") is not None
    assert "Print or Share menu" in words
    # Reopened later in the same browser: still there.
    assert "Request received" in visible_text(client.get(location))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_the_information_page_says_when_it_was_last_reviewed(database_url):
    app = make_test_app(database_url, INFORMATION_REVIEWED="2026-10-05")
    words = visible_text(app.test_client().get("/"))
    assert "Page last reviewed: October 5, 2026" in words


def test_a_review_date_that_is_not_a_date_stops_the_start(database_url):
    with pytest.raises(ConfigError, match="INFORMATION_REVIEWED"):
        make_test_app(database_url, INFORMATION_REVIEWED="last week")


def test_a_step_that_asks_more_after_an_earlier_answer_shows_no_problem_before_it_is_sent(
    client,
):
    page = fill_in(client, valid_answers())
    csrf = page_csrf(page.get_data(as_text=True))
    # Back to the first step, now as a caregiver, and on through the steps.
    post_step(client, Step.WHO, caregiver_answers(), csrf)
    response = post_step(client, Step.PATIENT, caregiver_answers(), csrf)
    contact = client.get(response.headers["Location"])
    assert response.headers["Location"] == step_url(Step.CONTACT)
    assert error_summary(contact) == {}
    assert parse(contact).find(id="submitter_phone") is not None
    # Sent without them, the caregiver's questions are explained.
    post_step(client, Step.CONTACT, valid_answers(), csrf)
    assert "submitter_phone" in error_summary(client.get(step_url(Step.CONTACT)))


def test_every_question_is_on_the_page_of_its_step(client):
    # app/requests/fields.py says which step asks what; each step's page shows all of it
    # (with the answers that open every question that depends on another).
    answers = {**caregiver_answers(language="other"), **referral_answers()}
    answers["submitter"] = "someone_else"
    page = fill_in(client, answers)
    assert "Check your answers" in visible_text(page)
    for step in STEPS:
        html = client.get(step_url(step)).get_data(as_text=True)
        for name in step_form_fields(step):
            assert f'name="{name}"' in html, f"{name} is not on the {step.value} step"


def test_check_your_answers_lists_each_page_in_the_order_the_page_asks(client):
    answers = {**caregiver_answers(language="other"), **referral_answers()}
    answers["submitter"] = "someone_else"
    page = fill_in(client, answers)
    listed = {
        section["data-answers"]: [dd["data-answer"] for dd in section.select("[data-answer]")]
        for section in parse(page).select("[data-answers]")
    }
    for step in STEPS:
        asked = []
        for control in parse(client.get(step_url(step))).select("main form [name]"):
            # A row's Change link goes to the control's id, a choice's to its first one.
            for candidate in (control.get("id"), f"{control['name']}-0"):
                if candidate in listed[step.value] and candidate not in asked:
                    asked.append(candidate)
        assert listed[step.value] == asked, step.value
