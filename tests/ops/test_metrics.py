"""/metrics for Prometheus (issue 30): who may read it, what it counts, and that no label
ever holds patient data, a reference or an e-mail.

The series are process-wide (prometheus_client's registry), so each test reads what
changed between two scrapes. The multiprocess mode gunicorn runs in is proven against a
real gunicorn at the end.
"""

from __future__ import annotations

import glob
import http.client
import os
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from app.mail.worker import Worker
from app.models import AppointmentRequest, OutboxMessage
from config import ConfigError
from tests.conftest import BACKENDS, make_test_app
from tests.support.forms import fill_in, form_tokens, send, submit, valid_answers
from tests.support.servers import free_port, gunicorn
from tests.support.staff import PASSWORD, client_from, make_request, make_staff, signed_in_client

Series = dict[tuple[str, frozenset], float]
TOKEN = "a-bearer-token-long-enough-to-be-unguessable-0123456789"  # noqa: S105


def parse_metrics(text: str) -> Series:
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def scrape(client) -> Series:
    response = client.get("/metrics")
    assert response.status_code == 200, response.status_code
    return parse_metrics(response.get_data(as_text=True))


def value(series: Series, name: str, **labels) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


def grew(before: Series, after: Series, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# -- who may read it ------------------------------------------------------------------------


def test_only_configured_addresses_or_the_token_may_read_it(database_url):
    app = make_test_app(
        database_url, METRICS_ALLOWED_NETWORKS="10.0.5.0/24", METRICS_BEARER_TOKEN=TOKEN
    )
    assert client_from(app, "10.0.5.7").get("/metrics").status_code == 200
    stranger = client_from(app, "198.51.100.4")
    refused = stranger.get("/metrics")
    # The site's own 404, as for an address that does not exist.
    assert refused.status_code == 404
    assert "intake_" not in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"
    for wrong in ("Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "):
        assert stranger.get("/metrics", headers={"Authorization": wrong}).status_code == 404
    allowed = stranger.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert allowed.headers["Cache-Control"] == "no-store"
    # This machine is not in the list here.
    assert client_from(app, "127.0.0.1").get("/metrics").status_code == 404


def test_through_the_proxy_the_visitor_is_judged_not_the_proxy(database_url):
    """Behind the shipped nginx (TRUSTED_PROXY_COUNT=1, nginx on 127.0.0.1, which is
    allowed by default), a visitor's scrape arrives from nginx's address: it is judged by
    the address nginx says it came from."""
    app = make_test_app(database_url, TRUSTED_PROXY_COUNT=1, TRUSTED_PROXIES="127.0.0.1")
    through_nginx = client_from(app, "127.0.0.1")
    visitor = {"X-Forwarded-For": "203.0.113.9"}
    assert through_nginx.get("/metrics", headers=visitor).status_code == 404
    # Someone reaching the app port directly cannot claim to be this machine.
    direct = client_from(app, "203.0.113.9")
    assert direct.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404
    assert through_nginx.get("/metrics").status_code == 200


def test_a_bad_network_stops_the_app_with_the_setting_named(database_url):
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
        make_test_app(database_url, METRICS_ALLOWED_NETWORKS="10.0.0.0/99")


# -- what it counts -------------------------------------------------------------------------


def test_requests_are_counted_by_rule_never_by_address(client):
    before = scrape(client)
    client.get("/request-appointment/received/K7QM4XPD9RTA")
    client.get("/es/request-appointment/received/K7QM4XPD9RTA")
    client.get("/no-such-page/K7QM4XPD9RTA")
    client.open("/", method="BREW")
    after = scrape(client)
    name = "intake_http_request_duration_seconds_count"
    rule = "/request-appointment/received/<reference>"
    assert grew(before, after, name, route=rule, method="GET", status="200") == 2
    assert grew(before, after, name, route="(unmatched)", method="GET", status="404") == 1
    # A method a client made up is "other": nobody can add series of their own.
    assert grew(before, after, name, route="(unmatched)", method="other", status="405") == 1
    assert "K7QM4XPD9RTA" not in str(after)


def test_replayed_pages_are_counted_too(client):
    client.get("/")  # the first visit fills the replay's copy
    before = scrape(client)
    for _ in range(3):
        client.get("/")
    after = scrape(client)
    name = "intake_http_request_duration_seconds_count"
    assert grew(before, after, name, route="/", method="GET", status="200") == 3


def test_a_journey_counts_its_stages_and_the_request_but_no_label_holds_what_was_typed(
    app, client, db
):
    marker = "Quillonmarkerby"
    email = "quillon.marker@example.net"
    answers = valid_answers(first_name=marker, last_name=marker, email=email)
    before = scrape(client)
    sent = submit(client, answers)
    assert sent.status_code == 303
    reference = sent.headers["Location"].rsplit("/", 1)[-1]
    client.get(sent.headers["Location"])
    after_text = client.get("/metrics").get_data(as_text=True)
    after = parse_metrics(after_text)
    reached = "intake_journey_stage_reached_total"
    for stage in ("began", "patient", "check", "sent"):
        labels = {"stage": stage, "device": "computer", "language": "en"}
        assert grew(before, after, reached, **labels) == 1, stage
    received = {"referral": "self", "language": "english"}
    assert grew(before, after, "intake_requests_received_total", **received) == 1
    assert grew(before, after, "intake_outbox_messages", status="pending") == 1
    for secret in (marker, email, reference, email.split("@")[0], answers["phone"]):
        assert secret not in after_text
    # Every label value of what this journey counted is from a closed list: the URL map's
    # rules, methods, statuses and the vocabulary's codes. (The registry is the process's:
    # series other tests' apps counted, with routes of their own, are not this app's.)
    rules = {rule.rule for rule in app.url_map.iter_rules()} | {"(unmatched)"}
    counted = [key for key, number in after.items() if number != before.get(key)]
    assert len(counted) > 20
    for name, labels in counted:
        if not name.startswith("intake_"):
            continue  # the Python process's own (tests and `flask run` only)
        for key, label in labels:
            if key == "route":
                assert label in rules, label
            elif key == "le":
                continue
            else:
                assert re.fullmatch(r"[a-z_]+|[A-Z]+|[0-9]{3}", label), (name, key, label)


def test_a_re_send_is_not_a_request_received(client):
    tokens = form_tokens(fill_in(client).get_data(as_text=True))
    assert send(client, tokens).status_code == 303
    before = scrape(client)
    assert send(client, tokens).status_code == 303
    after = scrape(client)
    received = {"referral": "self", "language": "english"}
    assert grew(before, after, "intake_requests_received_total", **received) == 0
    assert grew(before, after, "intake_journey_stage_reached_total", stage="sent") == 0


def test_sign_in_outcomes_are_counted_as_the_audit_trail_records_them(app, db):
    watcher = app.test_client()
    before = scrape(watcher)
    make_staff(app, db, email="casey@example.org")
    db.rollback()
    page = app.test_client()
    login = page.get("/staff/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    for email in ("casey@example.org", "nobody@example.org"):
        page.post(
            "/staff/login", data={"email": email, "password": "wrong " * 3, "csrf_token": csrf}
        )
    signed_in_client(app, db, email="drew@example.org", password=PASSWORD)
    after = scrape(watcher)
    assert grew(before, after, "intake_sign_ins_total", outcome="wrong_password") == 2
    assert grew(before, after, "intake_sign_ins_total", outcome="success") == 1
    assert grew(before, after, "intake_audit_append_seconds_count") >= 3


def test_rate_limit_refusals_are_counted_by_limit(database_url):
    app = make_test_app(database_url, DRAFT_RATE_LIMIT="1 per hour")
    before = scrape(app.test_client())
    statuses = []
    for _ in range(2):
        visitor = client_from(app, "192.0.2.77")
        visitor.get("/request-appointment")
        begun = visitor.post(
            "/request-appointment/who",
            data={"submitter": "patient"},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        statuses.append(begun.status_code)
    assert statuses == [303, 429]
    after = scrape(app.test_client())
    assert grew(before, after, "intake_rate_limit_refusals_total", limit="draft") == 1
    assert grew(before, after, "intake_rate_limit_refusals_total", limit="form") == 0


def test_the_database_figures_at_each_scrape(app, client, db):
    now = datetime.now(UTC)
    late = make_request(db, submitted_at=now - timedelta(days=10))
    make_request(db, submitted_at=now)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.reference == late.reference)
        .values(reply_due_at=now - timedelta(days=5))
    )
    # Each request queued its confirmation e-mail; they have waited 42 minutes.
    db.execute(update(OutboxMessage).values(created_at=now - timedelta(minutes=42)))
    db.commit()
    series = scrape(client)
    assert value(series, "intake_database_up") == 1
    assert value(series, "intake_requests_waiting_first_contact") == 2
    assert value(series, "intake_requests_overdue") == 1
    assert value(series, "intake_outbox_messages", status="pending") == 2
    assert 41 * 60 < value(series, "intake_outbox_oldest_pending_age_seconds") < 44 * 60
    # The outbox worker's deliveries (no SMTP here: logged and marked sent).
    with app.app_context():
        Worker(app).deliver_due()
    after = scrape(client)
    delivered = {"kind": "confirmation", "result": "sent"}
    assert grew(series, after, "intake_outbox_deliveries_total", **delivered) == 2
    assert value(after, "intake_outbox_messages", status="pending") == 0
    assert value(after, "intake_outbox_oldest_pending_age_seconds") == 0


def test_an_unreachable_database_is_a_figure_not_a_failed_scrape():
    app = make_test_app(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/intake", DB_CONNECT_TIMEOUT=2
    )
    started = time.monotonic()
    series = scrape(app.test_client())
    assert value(series, "intake_database_up") == 0
    assert ("intake_requests_overdue", frozenset()) not in series
    assert time.monotonic() - started < 5


# -- every gunicorn worker -------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.mark.slow
def test_gunicorn_adds_up_every_worker_and_starts_from_a_clean_directory(database_url, backend):
    # The files are the same whatever the database: once, on production's.
    if backend != "postgresql" and "postgresql" in BACKENDS:
        pytest.skip("run once, on PostgreSQL")
    directory = Path(tempfile.mkdtemp(prefix="intake-metrics-test-"))
    # What a previous run left: a worker long gone.
    (directory / "counter_999999999.db").write_bytes(b"\0" * 16)
    env = {"DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    try:
        with gunicorn(env, workers=3) as server:
            assert not (directory / "counter_999999999.db").exists()
            for _ in range(60):
                assert _get(server.port, "/request-appointment/received/K7QM4XPD9RTA")[0] == 200
            workers = {path.rsplit("_", 1)[-1] for path in glob.glob(f"{directory}/counter_*")}
            assert len(workers) >= 2, "the requests were spread over several workers"
            status, text = _get(server.port, "/metrics")
            assert status == 200
            series = parse_metrics(text)
            name = "intake_http_request_duration_seconds_count"
            rule = "/request-appointment/received/<reference>"
            assert value(series, name, route=rule, method="GET", status="200") == 60
            assert value(series, "intake_database_up") == 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.slow
def test_without_a_directory_gunicorn_makes_one_and_removes_it(database_url, backend, monkeypatch):
    if backend != "sqlite" and "sqlite" in BACKENDS:
        pytest.skip("run once, on the SQLite default")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "intake-metrics-*")))
    with gunicorn({"DATABASE_URL": database_url}, workers=2) as server:
        made = set(glob.glob(os.path.join(tempfile.gettempdir(), "intake-metrics-*"))) - before
        assert len(made) == 1
        status, text = _get(server.port, "/metrics")
        assert status == 200 and "intake_database_up 1.0" in text
    assert not any(Path(p).exists() for p in made)
