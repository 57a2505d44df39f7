"""Nothing lost, nothing doubled: real gunicorn on a PostgreSQL of the test's own, with
workers killed and the database restarted while 20 clients send 500 requests."""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from tests.support.databases import migrate_to_head
from tests.support.forms import SEND_URL, valid_answers
from tests.support.servers import FormClient, Reply, gunicorn, postgres_cluster

pytestmark = pytest.mark.slow

TOTAL = 500
CLIENTS = 20
KILL_EVERY = 100
RESTART_AT = 250
RETRY_DEADLINE_SECONDS = 90
RETRYABLE = (OSError, http.client.HTTPException)


@dataclass
class Stats:
    acknowledged: int = 0
    retries: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    kills: int = 0
    restarts: int = 0


class Run:
    def __init__(self, server, cluster):
        self.server = server
        self.cluster = cluster
        self.stats = Stats()
        self.lock = threading.Lock()
        self.chaos = threading.Lock()

    def call(self, action):
        """Do one HTTP exchange, again and again on connection errors and 5xx."""
        deadline = time.monotonic() + RETRY_DEADLINE_SECONDS
        while True:
            try:
                reply = action()
                if not isinstance(reply, Reply) or reply.status < 500:
                    return reply
                with self.lock:
                    self.stats.server_errors += 1
            except RETRYABLE:
                with self.lock:
                    self.stats.connection_errors += 1
            if time.monotonic() > deadline:
                raise TimeoutError("no answer within the retry deadline")
            with self.lock:
                self.stats.retries += 1
            time.sleep(random.uniform(0.05, 0.3))  # noqa: S311

    def send(self, number: int) -> tuple[int, str]:
        client = FormClient(self.server.port)
        answers = valid_answers(first_name="Reliable", message=f"reliability {number}")
        # (open_form walks the steps and raises ConnectionError when one is not answered:
        # retried too; the steps already answered are in the draft.)
        tokens = self.call(lambda: client.open_form(answers))
        filled = {**answers, **tokens}
        reply = self.call(lambda: client.request("POST", SEND_URL, filled))
        assert reply.status == 303, f"request {number} answered {reply.status}"
        location = reply.headers["location"]
        assert "/request-appointment/received/" in location
        self.after_acknowledgement()
        return number, location.rsplit("/", 1)[-1]

    def after_acknowledgement(self) -> None:
        with self.lock:
            self.stats.acknowledged += 1
            done = self.stats.acknowledged
        if done % KILL_EVERY == 0 and done < TOTAL:
            self.kill_a_worker()
        if done == RESTART_AT:
            threading.Thread(target=self.restart_database).start()

    def kill_a_worker(self) -> None:
        pids = self.server.worker_pids()
        if pids:
            os.kill(random.choice(pids), signal.SIGKILL)  # noqa: S311
            with self.lock:
                self.stats.kills += 1

    def restart_database(self) -> None:
        with self.chaos:
            self.cluster.stop("immediate")
            time.sleep(1)
            self.cluster.start()
            with self.lock:
                self.stats.restarts += 1


def stored(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT reference, message, submission_token FROM appointment_requests")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_every_acknowledged_request_is_stored_exactly_once_under_faults():
    with postgres_cluster() as cluster:
        migrate_to_head(cluster.url)
        env = {
            "DATABASE_URL": cluster.url,
            "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            # Workers forked from a loaded app (and re-forked after each kill) must not
            # share the master's database connections.
            "GUNICORN_PRELOAD": "true",
        }
        with gunicorn(env, workers=3, threads=2) as server:
            run = Run(server, cluster)
            started = time.monotonic()
            with ThreadPoolExecutor(CLIENTS) as pool:
                acknowledged = list(pool.map(run.send, range(TOTAL)))
            with run.chaos:  # the restart, if still under way, has finished
                pass
            elapsed = time.monotonic() - started

            # Ten identical posts of one filled-in form, all at once.
            client = FormClient(server.port)
            twin_answers = valid_answers(message="ten at once")
            twin = {**twin_answers, **client.open_form(twin_answers)}
            barrier = threading.Barrier(10)

            def post_twin(_):
                barrier.wait()
                return client.request("POST", SEND_URL, twin)

            with ThreadPoolExecutor(10) as pool:
                twins = list(pool.map(post_twin, range(10)))
        rows = stored(cluster.url)

    stats = run.stats
    by_message = Counter(message for _, message, _ in rows)
    reference_of = {message: reference for reference, message, _ in rows}
    doubled = [m for m, n in by_message.items() if n > 1]
    lost = [n for n, ref in acknowledged if reference_of.get(f"reliability {n}") != ref]
    print(
        f"\nreliability: {TOTAL} sent by {CLIENTS} clients in {elapsed:.1f}s; "
        f"{stats.acknowledged} acknowledged; {len(rows) - 1} stored; {len(lost)} lost; "
        f"{len(doubled)} stored twice; {stats.retries} retries after "
        f"{stats.connection_errors} connection errors and {stats.server_errors} 5xx; "
        f"{stats.kills} workers killed; PostgreSQL restarted {stats.restarts} time(s); "
        f"10 identical posts stored {by_message['ten at once']}"
    )
    assert stats.kills >= TOTAL // KILL_EVERY - 1
    assert stats.restarts == 1
    assert stats.acknowledged == TOTAL
    assert lost == []
    assert doubled == []
    assert len(rows) == TOTAL + 1
    assert [r.status for r in twins] == [303] * 10
    assert len({r.headers["location"] for r in twins}) == 1
    assert by_message["ten at once"] == 1
