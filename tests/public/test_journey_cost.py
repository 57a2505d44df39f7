"""What a page of the journey costs (issue 28): a page is checked with its own questions
and the earlier answers their rules read, WTForms' message catalog is read once per
process, and a page sent again unchanged writes nothing."""

from __future__ import annotations

from flask_babel import force_locale, get_locale, gettext
from sqlalchemy import event

from app.common.validation import wtforms_catalog
from app.db import get_engine
from app.public.forms import form_asking
from app.requests.fields import STEPS, Step, step_form_fields
from app.serving.language import LANGUAGE_KEY
from app.vocabulary import settled_locale, translated_once
from tests.support.forms import (
    fill_in,
    form_tokens,
    page_csrf,
    post_step,
    send,
    start,
    step_url,
    valid_answers,
)
from tests.support.html import error_summary


def test_a_page_is_checked_with_its_questions_and_the_answers_their_rules_read(app):
    with app.test_request_context():
        contact = set(
            form_asking(frozenset(step_form_fields(Step.CONTACT)))(
                formdata=None, meta={"csrf": False}
            )._fields
        )
    own = set(step_form_fields(Step.CONTACT))
    # Whose e-mail is needed depends on who fills in the form, an answer of the first page.
    assert own < contact and contact - own == {"submitter"}
    later = set(step_form_fields(Step.DIAGNOSIS)) | set(step_form_fields(Step.CONSENT))
    assert not contact & later


def test_a_rule_reading_an_earlier_answer_still_holds_on_its_page(client):
    answers = valid_answers(
        submitter="someone_else",
        submitter_name="Rosa Santos",
        submitter_relationship="daughter",
        submitter_phone="",
        call_first="caregiver",
    )
    csrf = start(client)
    post_step(client, Step.WHO, answers, csrf)
    csrf = page_csrf(client.get(step_url(Step.PATIENT)).get_data(as_text=True))
    post_step(client, Step.PATIENT, answers, csrf)
    csrf = page_csrf(client.get(step_url(Step.CONTACT)).get_data(as_text=True))
    response = post_step(client, Step.CONTACT, answers, csrf)
    assert response.status_code == 303 and response.headers["Location"].endswith("/contact")
    page = client.get(response.headers["Location"])
    assert "Enter your phone number" in " ".join(error_summary(page).values())


def _record_statements(app, kinds=("INSERT", "UPDATE", "DELETE")):
    with app.app_context():
        engine = get_engine()
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(kinds):
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before)
    return engine, before, seen


def test_a_page_sent_again_unchanged_writes_nothing(app, client):
    answers = valid_answers()
    csrf = start(client)
    post_step(client, Step.WHO, answers, csrf)
    csrf = page_csrf(client.get(step_url(Step.PATIENT)).get_data(as_text=True))
    post_step(client, Step.PATIENT, answers, csrf)
    engine, listener, writes = _record_statements(app)
    try:
        # Back to the page, then Continue without changing anything.
        client.get(step_url(Step.PATIENT))
        again = post_step(client, Step.PATIENT, answers, csrf)
        assert again.status_code == 303 and again.headers["Location"].endswith("/contact")
        assert writes == []
        # A change is kept.
        changed = post_step(client, Step.PATIENT, valid_answers(first_name="Ana"), csrf)
        assert changed.status_code == 303
        assert any(statement.startswith("UPDATE request_drafts") for statement in writes)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    page = client.get(step_url(Step.PATIENT)).get_data(as_text=True)
    assert 'value="Ana"' in page


def test_the_send_looks_its_form_token_up_once_and_replaces_no_link(app, client):
    page = fill_in(client)
    tokens = form_tokens(page.get_data(as_text=True))
    engine, listener, statements = _record_statements(app, kinds=("SELECT", "INSERT", "UPDATE"))
    try:
        # The rate limit's re-send exemption and the send itself both ask for the token.
        assert app.config["RATELIMIT_ENABLED"]
        sent = send(client, tokens)
        assert sent.status_code == 303
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    lookups = [s for s in statements if s.startswith("SELECT") and "submission_token" in s]
    assert len(lookups) == 1
    assert [s for s in statements if s.startswith("INSERT INTO request_links")]
    assert not [s for s in statements if s.startswith("UPDATE request_links")]
    # A re-send of the same page stores nothing and still leads to the same request.
    again = send(client, tokens)
    assert again.status_code == 303
    assert again.headers["Location"] == sent.headers["Location"]
    assert "/received/" in sent.headers["Location"]


def test_wtforms_messages_come_in_the_page_language_from_a_catalog_read_once(client):
    wtforms_catalog.cache_clear()
    spanish = "/es/request-appointment"
    start(client)
    client.get(spanish)
    for _ in range(3):
        page = client.get(spanish).get_data(as_text=True)
        client.post(
            f"{spanish}/{STEPS[0].value}",
            data={"submitter": "robot", "csrf_token": page_csrf(page)},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        shown = client.get(f"{spanish}/{STEPS[0].value}")
        assert "Opción inválida." in " ".join(error_summary(shown).values())
    # Read from disk once per language (the English first page, then Spanish), whatever
    # the number of pages that showed a message.
    assert wtforms_catalog.cache_info().misses == 2


def test_the_settled_language_is_read_where_flask_babel_keeps_it(app):
    """app.vocabulary.settled_locale reads Flask-Babel's own per-request state (pinned in
    constraints.txt): a release that keeps it elsewhere fails here, instead of quietly
    sending every label back through the slow path."""
    # A Spanish page, as the language layer (app/serving/language.py) marks it.
    with app.test_request_context("/", environ_overrides={LANGUAGE_KEY: "es"}):
        assert settled_locale() is None  # nothing has asked yet
        assert str(get_locale()) == "es"
        assert str(settled_locale()) == "es"
        with force_locale("en"):
            assert str(settled_locale()) == "en"
            assert translated_once("Closed") == "Closed"
        assert translated_once("Closed") == gettext("Closed") != "Closed"
