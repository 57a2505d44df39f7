"""Real worker processes (`flask outbox work`) against a real SMTP server: two at once
never send a message twice, a SIGKILL mid-send re-sends that one message once with the
same Message-ID, and SIGTERM finishes the message in hand before stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from app.models import MessageKind, OutboxMessage, OutboxStatus
from app.requests import reference_codes
from tests.support.servers import ROOT

pytestmark = pytest.mark.slow


def _queue(db, count: int) -> list[str]:
    """``count`` confirmations, queued straight into the table; returns their tokens."""
    tokens = [f"{i:032x}" for i in range(1, count + 1)]
    db.execute(
        insert(OutboxMessage),
        [
            {
                "kind": MessageKind.CONFIRMATION,
                "status": OutboxStatus.PENDING,
                "token": token,
                "locale": "en",
                "recipient": f"person{i}@example.com",
                "payload": {"reference": reference_codes.new_reference()},
                "attempts": 0,
            }
            for i, token in enumerate(tokens)
        ],
    )
    db.commit()
    return tokens


def _start_worker(database_url: str, smtp, log: Path, **settings) -> subprocess.Popen:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "testing-only-not-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "OUTBOX_POLL_SECONDS": "1",
        "OUTBOX_LEASE_SECONDS": "2",
        "LOG_LEVEL": "INFO",
        **{k: str(v) for k, v in settings.items()},
    }
    env.pop("INTAKE_MAILBOX", None)
    # The child keeps its own copy of the file; the parent's is closed at once.
    with log.open("w") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "work"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )


def _wait(condition, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _started(log: Path) -> bool:
    return "outbox worker started" in log.read_text()


def _statuses(db) -> Counter:
    db.rollback()
    return Counter(
        dict(
            db.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
    )


def _stop(*workers: subprocess.Popen) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=20)


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("several workers at once is what PostgreSQL deployments run")


def test_two_workers_deliver_500_messages_and_none_twice(
    app, db, smtp, database_url, tmp_path, postgres_only
):
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [_start_worker(database_url, smtp, log) for log in logs]
    try:
        _wait(lambda: all(_started(log) for log in logs), what="both workers to start")
        tokens = _queue(db, 500)
        _wait(lambda: _statuses(db)[OutboxStatus.SENT] == 500, what="500 messages sent")
    finally:
        _stop(*workers)
    assert [w.returncode for w in workers] == [0, 0]
    ids = Counter(r.message["Message-ID"] for r in smtp.received)
    assert len(smtp.received) == 500
    assert max(ids.values()) == 1
    assert set(ids) == {f"<outbox.{t}@localhost>" for t in tokens}
    # Both took part: each logged some of the sends.
    sent_by = [log.read_text().count("outbox message sent") for log in logs]
    assert sum(sent_by) == 500 and min(sent_by) > 0, sent_by


def test_a_worker_killed_mid_send_is_followed_by_one_re_send_of_that_message(
    app, db, smtp, database_url, tmp_path
):
    tokens = _queue(db, 10)
    smtp.rules.hold_nth = 5  # the server has the fifth message but has not answered yet
    first = _start_worker(database_url, smtp, tmp_path / "first.log")
    try:
        assert smtp.rules.holding.wait(30), "the worker reached the fifth message"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    smtp.rules.release.set()  # the server keeps what it had; the worker never heard "250"
    # Four marked sent; the fifth and the rest of the claimed batch wait for the lease.
    assert _statuses(db) == {OutboxStatus.SENT: 4, OutboxStatus.SENDING: 6}

    second = _start_worker(database_url, smtp, tmp_path / "second.log")
    try:
        _wait(lambda: _statuses(db)[OutboxStatus.SENT] == 10, what="all ten sent")
    finally:
        _stop(second)
    ids = Counter(r.message["Message-ID"] for r in smtp.received)
    assert set(ids) == {f"<outbox.{t}@localhost>" for t in tokens}
    assert sorted(ids.values()) == [1] * 9 + [2]
    [(twice, _)] = [(i, n) for i, n in ids.items() if n == 2]
    assert twice == f"<outbox.{tokens[4]}@localhost>"


def test_sigterm_finishes_the_message_in_hand_then_stops(app, db, smtp, database_url, tmp_path):
    tokens = _queue(db, 6)
    smtp.rules.hold_nth = 3
    worker = _start_worker(database_url, smtp, tmp_path / "worker.log")
    try:
        assert smtp.rules.holding.wait(30), "the worker reached the third message"
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert worker.poll() is None, "it waits for the server's answer"
        smtp.rules.release.set()
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    statuses = _statuses(db)
    assert statuses[OutboxStatus.SENT] == 3
    assert statuses[OutboxStatus.PENDING] == 3
    assert [r.message["Message-ID"] for r in smtp.received] == [
        f"<outbox.{t}@localhost>" for t in tokens[:3]
    ]
