"""Every wait on PostgreSQL has a deadline: a hung database (a proxy in between that
stops passing bytes) costs a request seconds and the friendly 503, and the site's pages
that need no database keep answering."""

from __future__ import annotations

import time

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, text

from app.db import make_engine
from app.db_timeouts import Timeouts
from app.requests.fields import Step
from tests.conftest import count_rows, make_test_app
from tests.support.databases import postgres_url
from tests.support.forms import SEND_URL, open_form, referral_answers, step_data, step_url
from tests.support.proxy import hanging_proxy, url_through

pytestmark = pytest.mark.postgres_only


def through(proxy) -> str:
    return url_through(proxy, postgres_url())


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_hung_database_costs_seconds_and_a_503_with_everything_kept(database_url, db):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    with hanging_proxy(5432) as proxy:
        app = make_test_app(through(proxy))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200  # a pooled connection is kept
        answers = referral_answers(message="Hung <database> & all")
        tokens = open_form(client, answers)
        proxy.hang()

        health, health_seconds = timed(lambda: client.get("/healthz"))
        info, info_seconds = timed(lambda: client.get("/"))
        ready, ready_seconds = timed(lambda: client.get("/readyz"))
        post, post_seconds = timed(lambda: client.post(SEND_URL, data={**answers, **tokens}))
        print(
            f"\nhung database: /healthz {health.status_code} in {health_seconds:.2f}s, "
            f"/ {info.status_code} in {info_seconds:.2f}s, /readyz {ready.status_code} in "
            f"{ready_seconds:.2f}s, POST {post.status_code} in {post_seconds:.2f}s"
        )
        assert health.status_code == 200 and health_seconds < 1
        assert info.status_code == 200 and info_seconds < 1
        assert ready.status_code == 503 and ready_seconds < 6
        assert post.status_code == 503 and post_seconds < 6
        page = BeautifulSoup(post.get_data(as_text=True), "html.parser")
        words = " ".join(page.get_text().split())
        assert "has not been sent yet" in words and "Your answers are kept" in words
        # A step sent meanwhile comes back with everything typed on it.
        step = client.post(
            step_url(Step.CONSENT),
            data={**step_data(Step.CONSENT, answers), "csrf_token": tokens["csrf_token"]},
        )
        assert step.status_code == 503
        page = BeautifulSoup(step.get_data(as_text=True), "html.parser")
        assert "have not been saved yet" in " ".join(page.get_text().split())
        assert page.find(id="message").get_text() == answers["message"]

        proxy.resume()
        again = client.post(SEND_URL, data={**answers, **tokens})
        assert again.status_code == 303, "sent again once the database answers: stored"
        assert count_rows(db, "appointment_requests") == 1
        assert client.get("/readyz").status_code == 200


def test_the_server_cancels_a_statement_past_the_statement_timeout(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = make_engine(postgres_url(), timeouts=Timeouts(connect=2, statement=1, lock=1))
    try:
        started = time.monotonic()
        with pytest.raises(Exception, match="statement timeout"), engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(10)"))
        assert time.monotonic() - started < 3
        with engine.connect() as conn:  # the connection stays usable
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_a_pooled_connection_the_server_dropped_is_replaced(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = make_engine(postgres_url(), pool_size=1, max_overflow=0)
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()
        admin.dispose()
