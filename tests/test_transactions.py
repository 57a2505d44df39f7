"""One commit owner per request (app/transactions.py): every view says whether it writes,
a read-only page cannot, a page that writes is committed once or not at all, and a
database that dies under a page gives that page or a 503 page, never a bare 500."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask, abort, template_rendered
from sqlalchemy import event, insert, select

from app.db import TRANSACTION_ATTRIBUTE, get_session
from app.models import AppointmentRequest, HeldNote
from app.requests.fields import STEPS, Step
from app.transactions import commits, read_only
from tests.conftest import count_rows, make_test_app
from tests.support.forms import (
    SEND_URL,
    begin,
    fill_in,
    form_tokens,
    post_step,
    step_data,
    step_url,
    valid_answers,
)
from tests.support.html import parse, visible_text
from tests.support.proxy import hanging_proxy, url_through
from tests.support.staff import csrf_from, make_request, make_staff, post_form, signed_in_client

STATIC = "static"


def test_every_view_says_whether_it_writes(app):
    undeclared = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != STATIC and getattr(view, TRANSACTION_ATTRIBUTE, None) is None
    }
    assert undeclared == set()


def _add_pages(app: Flask, staff_id: int) -> None:
    """Pages that write a held note: one declared read-only, by mistake, and one that
    commits, answering with the status it is asked for."""
    note = {"staff_id": staff_id, "reference": "K7QM4XPD9RTA", "note": "written by a page"}

    @app.get("/_test/reads")
    @read_only
    def writes_by_mistake():
        get_session().execute(insert(HeldNote).values(**note))
        return "written"

    @app.get("/_test/writes/<int:status>")
    @commits
    def writes(status: int):
        get_session().execute(insert(HeldNote).values(**note))
        if status >= 400:
            abort(status)
        return "written", status


def test_a_read_only_page_cannot_write_and_a_page_that_writes_is_committed_once(app, db):
    _add_pages(app, make_staff(app, db).id)
    client = app.test_client()
    assert client.get("/_test/reads").status_code == 503
    assert count_rows(db, "held_notes") == 0
    # A page that answers an error keeps nothing it did; one that answers below 400, all.
    assert client.get("/_test/writes/400").status_code == 400
    assert count_rows(db, "held_notes") == 0
    assert client.get("/_test/writes/200").status_code == 200
    assert count_rows(db, "held_notes") == 1


# A database that dies under a page (PostgreSQL behind a proxy the test cuts) -----------


@pytest.fixture
def proxied(database_url) -> Iterator[tuple[Flask, object]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a proxy between the app and PostgreSQL")
    port = int(database_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    with hanging_proxy(port) as proxy:
        yield make_test_app(url_through(proxy, database_url)), proxy


@contextlib.contextmanager
def dies_at_commit(app: Flask, proxy) -> Iterator[None]:
    """The database goes away when the request's transaction commits: between the view's
    last statement and the COMMIT, the worst moment."""

    def drop(_conn) -> None:
        proxy.drop()

    engine = app.extensions["db_engine"]
    event.listen(engine, "commit", drop)
    try:
        yield
    finally:
        event.remove(engine, "commit", drop)


def test_a_staff_action_whose_commit_fails_is_a_503_page_and_keeps_nothing(proxied, db):
    app, proxy = proxied
    client, _staff = signed_in_client(app, db)
    row = make_request(db)
    url = f"/staff/requests/{row.reference}/claim"
    page = f"/staff/requests/{row.reference}"
    csrf = csrf_from(client.get(page).get_data(as_text=True))
    with dies_at_commit(app, proxy):
        response = client.post(url, data={"csrf_token": csrf})
    assert response.status_code == 503
    assert "Sorry, the service is unavailable" in visible_text(response)
    db.rollback()
    assert db.scalar(select(AppointmentRequest.claimed_by_id)) is None
    # The next request gets a connection that works.
    assert post_form(client, url, page=page).status_code == 303


def _cookie_draft_key(client) -> str | None:
    with client.session_transaction() as cookie:
        return cookie.get("draft")


def test_a_first_page_whose_commit_fails_leaves_no_cookie_and_its_resend_works(proxied, db):
    app, proxy = proxied
    client = app.test_client()
    answers = valid_answers()
    first = step_data(STEPS[0], answers)
    assert client.get("/request-appointment").status_code == 200
    with dies_at_commit(app, proxy):
        response = client.post(step_url(STEPS[0]), data=first)
    assert response.status_code == 503
    assert "have not been saved yet" in visible_text(response)
    # No key to a draft that was never stored: the browser still begins a request...
    assert _cookie_draft_key(client) is None
    assert count_rows(db, "request_drafts") == 0
    # ...so its resend (no token: the blank page had none) is checked as a beginning.
    again = client.post(step_url(STEPS[0]), data=first)
    assert again.status_code == 303, again.status_code
    assert _cookie_draft_key(client) is not None
    assert count_rows(db, "request_drafts") == 1


def test_a_step_or_send_whose_commit_fails_comes_back_as_typed(proxied, db):
    app, proxy = proxied
    client = app.test_client()
    answers = valid_answers(message="Call me <after> 3 & not before")
    page = fill_in(client, answers)
    tokens = form_tokens(page.get_data(as_text=True))
    with dies_at_commit(app, proxy):
        step = client.post(
            step_url(Step.CONSENT),
            data={**step_data(Step.CONSENT, answers), "csrf_token": tokens["csrf_token"]},
        )
        sent = client.post(SEND_URL, data=tokens)
    assert step.status_code == 503
    assert "have not been saved yet" in visible_text(step)
    assert parse(step).find(id="message").get_text() == answers["message"]
    assert sent.status_code == 503
    assert "has not been sent yet" in visible_text(sent)
    assert count_rows(db, "appointment_requests") == 0
    again = client.post(SEND_URL, data=tokens)
    assert again.status_code == 303
    assert count_rows(db, "appointment_requests") == 1


def test_a_database_that_dies_after_a_page_is_made_still_sends_the_page(proxied, db):
    app, proxy = proxied
    client = app.test_client()
    csrf = begin(client)
    post_step(client, STEPS[0], valid_answers(), csrf)

    def drop(*_args, **_kwargs) -> None:
        proxy.drop()

    # The step's page read the draft in a transaction still open when the page is made.
    template_rendered.connect(drop, app)
    try:
        response = client.get(step_url(STEPS[1]))
    finally:
        template_rendered.disconnect(drop, app)
    assert response.status_code == 200
    assert client.get(step_url(STEPS[1])).status_code == 200


def test_a_database_set_read_only_still_refuses_a_write_after_a_read_only_page(database_url, db):
    # A read-only page's READ ONLY must not leave its connection beginning READ WRITE for
    # the next page: that would override a database its operator set read-only, whose
    # writes must be refused (the "not saved yet" page), not stored.
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's default_transaction_read_only")
    app = make_test_app(database_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)

    @event.listens_for(app.extensions["db_engine"], "connect")
    def operator_set_read_only(dbapi_connection, _record) -> None:
        # For this app's connection only, as ALTER DATABASE would for all of them.
        dbapi_connection.execute("SET default_transaction_read_only = on")
        dbapi_connection.commit()

    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["draft"] = "a-draft-that-has-expired"
    # A read-only page on the one pooled connection (it looks the draft up)...
    assert client.get("/request-appointment/check").status_code == 303
    with client.session_transaction() as cookie:
        del cookie["draft"]
    # ...then a page that writes, on the same connection: refused, nothing stored.
    response = client.post(step_url(STEPS[0]), data=step_data(STEPS[0], valid_answers()))
    assert response.status_code == 503
    assert count_rows(db, "request_drafts") == 0


def _late_for_the_write_lock(app, held_for: float) -> float:
    """Seconds a write transaction got SQLite's write lock after another one (another
    worker's connection), which held it for ``held_for`` seconds, gave it back."""
    # As the app's write sessions begin (app/db.py): BEGIN IMMEDIATE.
    engine = app.extensions["db_engine"].execution_options(sqlite_write=True)
    taken = threading.Event()
    released_at: list[float] = []

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(select(1))
            taken.set()
            time.sleep(held_for)
            released_at.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(5)
    with engine.begin() as conn:
        got_it_at = time.monotonic()
        conn.execute(select(1))
    holder.join()
    return got_it_at - released_at[0]


def test_a_writer_on_sqlite_gets_the_lock_as_soon_as_it_is_free(app, backend):
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    # SQLite's own busy handler tries again after 1, 2, 5, 10, 15, 20, 25, 25, 25, 50 ms
    # (at 103, 128, then 178 ms): a lock given back after 130 to 170 ms is taken at 178,
    # 8 to 48 ms late. Asked again in short steps, within a few ms (the best of three,
    # so one late wake-up of a busy machine does not decide).
    assert min(_late_for_the_write_lock(app, 0.13) for _ in range(3)) < 0.006
    # Held longer than the short steps last (a quarter of a second), the busy timeout
    # still waits for it, and the transaction goes ahead.
    assert _late_for_the_write_lock(app, 0.4) < 1.0
