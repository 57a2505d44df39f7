"""Against real gunicorn workers: rate-limit counters shared through Redis, SQLite under
concurrent writers, and what gunicorn itself logs."""

import json
import signal
import socket
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.support.databases import migrate_to_head
from tests.support.forms import SEND_URL, valid_answers
from tests.support.servers import FormClient, gunicorn

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    migrate_to_head(url)
    return url


def count_requests(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM appointment_requests")).scalar_one()
    engine.dispose()
    return count


def send_one(port: int, answers: dict) -> int:
    client = FormClient(port)
    tokens = client.open_form(answers)
    return client.request("POST", SEND_URL, {**answers, **tokens}).status


def test_three_workers_share_the_form_limit_through_redis(sqlite_url):
    prefix = f"intake-test-{uuid.uuid4().hex}"
    limit = 5
    env = {
        "DATABASE_URL": sqlite_url,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": prefix,
        "FORM_RATE_LIMIT": f"{limit} per hour",
    }
    store = redis.Redis(host="127.0.0.1", port=6379)
    try:
        with gunicorn(env, workers=3) as server:
            statuses = [send_one(server.port, valid_answers()) for _ in range(limit + 2)]
            # Patient data in a query string must not reach the access log.
            FormClient(server.port).request("GET", "/request-appointment?last_name=Quillonq")
            log = server.log()
        assert statuses == [303] * limit + [429, 429], statuses
        assert list(store.scan_iter(f"*{prefix}*")), "the counters live in Redis"
    finally:
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        store.close()
    assert count_requests(sqlite_url) == limit

    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert any(line["status"] == 429 for line in access)
    assert all(line["request_id"] for line in access)
    assert "Quillonq" not in log and "last_name=" not in log
    assert {line["path"] for line in access} >= {"/request-appointment", "/healthz"}


def test_sqlite_takes_many_workers_writing_at_once(sqlite_url):
    total, clients = 120, 16
    env = {"DATABASE_URL": sqlite_url, "RATELIMIT_ENABLED": "false"}
    with gunicorn(env, workers=3, threads=2) as server:
        answers = [valid_answers(first_name=f"Writer{chr(65 + i % 26)}") for i in range(total)]
        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(lambda a: send_one(server.port, a), answers))
        log = server.log()
    print(f"sqlite: {statuses.count(303)} of {total} stored through 3 workers")
    assert statuses == [303] * total
    assert count_requests(sqlite_url) == total
    assert "locked" not in log.lower()
    assert '"level": "ERROR"' not in log


def test_a_request_in_flight_is_finished_when_gunicorn_is_told_to_stop(sqlite_url):
    env = {"DATABASE_URL": sqlite_url, "RATELIMIT_ENABLED": "false"}
    with gunicorn(env, workers=1, threads=1) as server:
        client = FormClient(server.port)
        body = urllib.parse.urlencode({**valid_answers(), **client.open_form()}, doseq=True)
        head = (
            f"POST {SEND_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Cookie: {client.cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            sock.sendall(head.encode() + body[:100].encode())
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)  # mid-request
            time.sleep(0.5)
            sock.sendall(body[100:].encode())
            answer = sock.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 303"), answer[:200]
        assert server.process.wait(timeout=30) == 0
    assert count_requests(sqlite_url) == 1
