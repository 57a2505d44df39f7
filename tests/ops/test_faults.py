"""Faults against the real thing: gunicorn, a PostgreSQL of the test's own, and a TCP proxy
between them that the test can hang. Each test prints its numbers.

- The database hangs: /healthz and the information page keep answering at once, /readyz
  says 503, a POST gets the "not saved yet" page with everything typed within seconds; with
  every worker stuck on it, the quick port (app/serving/quick_lane.py) still answers at once.
- The database turns read-only: the same page, and /readyz says 503.
- SIGTERM with connections queued: each is answered, none is reset; under steady load
  without draining, new connections are refused at once and none is reset.
- Deploys (`kill -HUP`) under steady load, then "drain, then stop": no connection reset, no
  acknowledged request lost.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.databases import migrate_to_head
from tests.support.forms import SEND_URL, valid_answers
from tests.support.proxy import hanging_proxy
from tests.support.servers import FormClient, Reply, free_port, gunicorn, postgres_cluster

pytestmark = pytest.mark.slow

FORM = "/request-appointment"
# The journey's steps are walked before each fault (FormClient.open_form); the fault meets
# the send from "Check your answers".
SEND = SEND_URL
RESETS = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as pg:
        migrate_to_head(pg.url)
        yield pg


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def sql(url: str, statement: str, **params) -> list[tuple]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def forget_requests(url: str) -> None:
    # Their confirmation e-mails (the outbox, issue 18) refer to them: those go first.
    sql(url, "DELETE FROM outbox_messages")
    sql(url, "DELETE FROM appointment_requests")


def stored_messages(url: str) -> dict[str, str]:
    rows = sql(url, "SELECT message, reference FROM appointment_requests")
    return {message: reference for message, reference in rows}


def timed(call) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = call()
    return reply, time.monotonic() - started


def assert_not_saved_page(reply: Reply, answers: dict) -> None:
    # The answers are in the draft, saved step by step before the fault: the page says
    # so, and the same send once the database is back stores them (checked by callers).
    assert reply.status == 503, reply.status
    words = " ".join(re.sub(r"<[^>]+>", " ", reply.body).split())
    assert "Your request has not been sent yet" in words
    assert "Your answers are kept" in words
    assert answers["last_name"] not in reply.body or "data-answer" in reply.body


def test_a_hung_then_read_only_database(cluster, tmp_path):
    with hanging_proxy(cluster.port) as proxy:
        url = cluster.url.replace(f":{cluster.port}/", f":{proxy.port}/")
        with gunicorn(server_env(url), workers=3) as server:
            client = FormClient(server.port)
            answers = valid_answers(message="hung database")
            tokens = client.open_form(answers)
            read_only_answers = valid_answers(message="read-only database")
            assert client.request("GET", "/readyz").status == 200

            proxy.hang()
            health, health_s = timed(lambda: client.request("GET", "/healthz"))
            info, info_s = timed(lambda: client.request("GET", "/"))
            # A new visitor's first page needs no database.
            form, form_s = timed(lambda: FormClient(server.port).request("GET", FORM))
            ready, ready_s = timed(lambda: client.request("GET", "/readyz"))
            post, post_s = timed(lambda: client.request("POST", SEND, {**answers, **tokens}))
            print(
                f"\nhung database: /healthz {health.status} in {health_s:.2f}s; / {info.status} "
                f"in {info_s:.2f}s; form {form.status} in {form_s:.2f}s; /readyz {ready.status} "
                f"in {ready_s:.2f}s; POST {post.status} in {post_s:.2f}s"
            )
            assert health.status == 200 and health_s < 1
            assert info.status == 200 and info_s < 1
            assert form.status == 200 and form_s < 1
            assert ready.status == 503 and ready_s < 6
            assert post_s < 6
            assert_not_saved_page(post, answers)

            proxy.resume()
            again = client.request("POST", SEND, {**answers, **tokens})
            assert again.status == 303, "sent again once the database answers"
            # The next request is filled in before the database turns read-only.
            read_only_tokens = client.open_form(read_only_answers)

            # Read-only, as after a replica promoted wrong: every session, new or pooled,
            # refuses writes from its next transaction on.
            sql(cluster.url, "ALTER SYSTEM SET default_transaction_read_only = on")
            sql(cluster.url, "SELECT pg_reload_conf()")
            time.sleep(0.5)
            try:
                refused, refused_s = timed(
                    lambda: client.request("POST", SEND, {**read_only_answers, **read_only_tokens})
                )
                ready = client.request("GET", "/readyz")
                print(
                    f"read-only database: POST {refused.status} in {refused_s:.2f}s; "
                    f"/readyz {ready.status} {ready.body.strip()}"
                )
                assert_not_saved_page(refused, read_only_answers)
                assert ready.status == 503 and '"read-only"' in ready.body
            finally:
                sql(cluster.url, "ALTER SYSTEM RESET default_transaction_read_only")
                sql(cluster.url, "SELECT pg_reload_conf()")
            time.sleep(0.5)
            assert client.request("GET", "/readyz").status == 200
            resent = client.request("POST", SEND, {**read_only_answers, **read_only_tokens})
            assert resent.status == 303
            log = server.log()
    stored = stored_messages(cluster.url)
    assert {"hung database", "read-only database"} <= set(stored)
    assert "Traceback" not in log or "hung database" not in log  # no patient data in logs
    forget_requests(cluster.url)


def get(port: int, path: str) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def test_health_and_public_pages_answer_at_once_with_every_worker_stuck_on_a_hung_database(
    cluster,
):
    """Every worker busy on a hung database, more requests queued behind them: on the quick
    port /healthz, the information page (both languages), /favicon.ico and a static file
    answer at once; on the main port the same requests wait their turn (printed)."""
    workers, stuck = 3, 9
    quick_port = free_port()
    with hanging_proxy(cluster.port) as proxy:
        url = cluster.url.replace(f":{cluster.port}/", f":{proxy.port}/")
        env = server_env(url, GUNICORN_QUICK_BIND=f"127.0.0.1:{quick_port}")
        with gunicorn(env, workers=workers) as server:
            for path in ("/", "/es/"):  # rendered once, as a first visitor would
                assert get(quick_port, path)[0] == 200
            assert get(server.port, "/readyz")[0] == 200
            proxy.hang()
            with ThreadPoolExecutor(stuck + 1) as pool:
                # Each /readyz waits on the database for seconds; 3 hold the workers and 6
                # wait in the queue behind them.
                waiting = [pool.submit(get, server.port, "/readyz") for _ in range(stuck)]
                time.sleep(0.5)
                quick = {
                    path: [get(quick_port, path) for _ in range(10)]
                    for path in ("/healthz", "/", "/es/", "/favicon.ico", "/static/css/site.css")
                }
                main_port = pool.submit(get, server.port, "/healthz")
                stuck_statuses = [future.result()[0] for future in waiting]
                main_status, main_seconds = main_port.result()
            elsewhere = get(quick_port, "/staff/queue")
            proxy.resume()
    slowest = {path: max(seconds for _, seconds in answers) for path, answers in quick.items()}
    print(
        f"\nhung database, {workers} workers busy and {stuck - workers} requests queued: "
        + ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in slowest.items())
        + f" at worst (10 each) on the quick port; /healthz on the main port {main_status} "
        f"after {main_seconds:.1f}s"
    )
    assert all(status == 200 for answers in quick.values() for status, _ in answers)
    assert max(slowest.values()) < 1, slowest
    assert main_seconds > 1, "the main port's workers were all busy"
    assert set(stuck_statuses) == {503}
    assert elsewhere[0] == 404, "the quick port serves nothing that needs the database"


def raw_post(port: int, body: str, cookie: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {SEND} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Cookie: {cookie}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body.encode())
    return sock


def read_status(sock: socket.socket) -> str:
    try:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data.split(b"\r\n", 1)[0].decode() if data else "empty reply"
    except RESETS:
        return "reset"
    finally:
        sock.close()


def test_sigterm_answers_the_connections_already_queued(cluster):
    queued = 8
    with gunicorn(server_env(cluster.url), workers=1) as server:
        bodies = []
        for n in range(queued):
            # One browser each: each has a request of its own waiting to be sent.
            client = FormClient(server.port)
            answers = valid_answers(message=f"queued {n}")
            filled = {**answers, **client.open_form(answers)}
            bodies.append((urllib.parse.urlencode(filled, doseq=True), client.cookie))
        # One sync worker: the first request is being served, the other seven wait in the
        # listening socket's queue when gunicorn is told to stop.
        sockets = [raw_post(server.port, body, cookie) for body, cookie in bodies]
        server.process.send_signal(signal.SIGTERM)
        statuses = [read_status(sock) for sock in sockets]
        exit_code = server.process.wait(timeout=30)
    stored = stored_messages(cluster.url)
    resets = sum(s in ("reset", "empty reply") for s in statuses)
    lost = [n for n, s in enumerate(statuses) if "303" in s and f"queued {n}" not in stored]
    print(
        f"\nSIGTERM with {queued} connections queued: {statuses.count('HTTP/1.1 303 SEE OTHER')}"
        f" answered 303, {resets} reset, {len(lost)} lost; gunicorn exited {exit_code}"
    )
    assert resets == 0, statuses
    assert all(s.startswith("HTTP/1.1 303") for s in statuses), statuses
    assert lost == []
    assert exit_code == 0
    forget_requests(cluster.url)


class SteadyLoad:
    """Clients sending forms one after another, as fast as they are answered."""

    def __init__(self, port: int, clients: int):
        self.port = port
        self.clients = clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: dict[str, str] = {}  # message -> reference
        self.resets = 0
        self.refused = 0
        self.errors: list[str] = []
        self.sent = 0

    def run_client(self, number: int) -> None:
        client = FormClient(self.port)
        n = 0
        while not self.stop.is_set():
            n += 1
            message = f"load {number}-{n}"
            try:
                answers = valid_answers(message=message)
                tokens = client.open_form(answers)
                reply = client.request("POST", SEND, {**answers, **tokens})
            except RESETS:
                with self.lock:
                    self.resets += 1
                continue
            except ConnectionRefusedError:
                with self.lock:
                    self.refused += 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.sent += 1
                if reply.status == 303:
                    self.acknowledged[message] = reply.headers["location"].rsplit("/", 1)[-1]
                else:
                    self.errors.append(f"{reply.status}")

    def __enter__(self):
        self.pool = ThreadPoolExecutor(self.clients)
        self.futures = [self.pool.submit(self.run_client, n) for n in range(self.clients)]
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()


def wait_for(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_deploys_and_a_host_stop_under_steady_load_lose_nothing(cluster, tmp_path):
    drain_file = tmp_path / "drain"
    env = server_env(cluster.url, DRAIN_FILE=str(drain_file))
    with gunicorn(env, workers=2) as server:
        master = server.process.pid
        started = time.monotonic()
        with SteadyLoad(server.port, clients=4) as load:
            time.sleep(2)
            for _ in range(2):
                # A code deploy: new workers with the new code, the old ones finish what
                # they hold; the listening socket never closes.
                old = set(server.worker_pids())
                os.kill(master, signal.SIGHUP)
                assert wait_for(lambda old=old: not old & set(server.worker_pids()), 30)
                assert wait_for(lambda: len(server.worker_pids()) == 2, 30)
                time.sleep(1.5)
            # Stopping the host: drain first. The load balancer (here: the load itself)
            # stops sending once /readyz says 503.
            drain_file.touch()
            probe = FormClient(server.port).request("GET", "/readyz")
            assert probe.status == 503 and '"draining"' in probe.body
            load.stop.set()
        exit_code = None
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(timeout=30)
        elapsed = time.monotonic() - started
    stored = stored_messages(cluster.url)
    lost = [m for m, ref in load.acknowledged.items() if stored.get(m) != ref]
    print(
        f"\nsteady load, 2 deploys (HUP) then drain and stop, {elapsed:.1f}s: {load.sent} "
        f"answered, {len(load.acknowledged)} acknowledged, {load.resets} connection resets, "
        f"{load.refused} refused, {len(load.errors)} non-303 answers, {len(lost)} lost; "
        f"gunicorn exited {exit_code}"
    )
    assert load.resets == 0
    assert load.refused == 0
    assert load.errors == []
    assert lost == []
    assert len(load.acknowledged) > 20
    assert exit_code == 0
    forget_requests(cluster.url)


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


class Callers:
    """Clients asking /readyz (it reads the database) one after another without pause."""

    def __init__(self, port: int, clients: int):
        self.port, self.clients = port, clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"answered": 0, "reset": 0, "refused": 0, "not 200": 0}

    def call(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", "/readyz", headers={"Connection": "close"})
            return "answered" if conn.getresponse().status == 200 else "not 200"
        except ConnectionRefusedError:
            time.sleep(0.02)
            return "refused"
        except RESETS:
            return "reset"
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            outcome = self.call()
            with self.lock:
                self.counts[outcome] += 1

    def __enter__(self):
        self.threads = [threading.Thread(target=self.run) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_sigterm_without_draining_stops_accepting_at_once_and_answers_what_it_took(cluster):
    """No drain file, clients calling without pause: from SIGTERM on, new connections are
    refused (safe to retry elsewhere) within moments, not accepted for ten seconds and then
    reset; every request a worker took is answered."""
    with gunicorn(server_env(cluster.url), workers=2) as server:
        with Callers(server.port, clients=6) as callers:
            assert wait_for(lambda: callers.counts["answered"] > 50, 30)
            stopped_at = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert wait_for(lambda: refuses(server.port), 10)
            refusing_after = time.monotonic() - stopped_at
            exit_code = server.process.wait(timeout=30)
            time.sleep(0.3)  # the callers meet the closed port
        counts = dict(callers.counts)
        # Each request a worker took is in the access log, written once it was answered.
        taken = server.log().count('"path": "/readyz"')
    print(f"\nSIGTERM without draining, 6 callers: refusing after {refusing_after:.2f}s; "
          f"{counts}; {taken} taken; exit {exit_code}")  # fmt: skip
    assert refusing_after < 3, "accepting long after SIGTERM"
    assert counts["not 200"] == 0
    # Every request a worker took was answered: none of them is among the resets.
    assert counts["answered"] == taken
    # A connection the kernel queued in the instant between the last worker's final
    # accept() and its shutdown() of the socket is reset by the kernel, not by us: never
    # taken, so as safe to retry as a refusal. That instant is microseconds wide (0 or 1
    # such reset in a run); the old behaviour reset every caller that arrived in the ten
    # seconds it kept accepting.
    assert counts["reset"] <= 2
    assert counts["refused"] > 0
    assert exit_code == 0


def test_the_stop_script_drains_then_stops(cluster, tmp_path):
    drain_file = tmp_path / "drain"
    env = server_env(cluster.url, DRAIN_FILE=str(drain_file))
    drain_file.write_text("left by the last stop")
    with gunicorn(env, workers=1) as server:
        # A fresh start puts the host back in rotation...
        assert not drain_file.exists()
        assert FormClient(server.port).request("GET", "/readyz").status == 200
        # ...a reload (a deploy) does not.
        drain_file.touch()
        server.process.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert FormClient(server.port).request("GET", "/readyz").status == 503
        drain_file.unlink()
        assert FormClient(server.port).request("GET", "/readyz").status == 200

        script = Path(__file__).resolve().parents[2] / "scripts" / "stop-host.sh"
        started = time.monotonic()
        stopper = subprocess.Popen(  # noqa: S603
            ["sh", str(script), str(server.process.pid)],
            env={**os.environ, "DRAIN_FILE": str(drain_file), "DRAIN_SECONDS": "2"},
        )
        assert wait_for(drain_file.exists, 5)
        assert FormClient(server.port).request("GET", "/readyz").status == 503
        assert FormClient(server.port).request("GET", "/").status == 200, "still serving"
        # (Reaped here first: the script waits for the master to be gone.)
        assert server.process.wait(timeout=30) == 0
        assert stopper.wait(timeout=30) == 0
        assert time.monotonic() - started >= 2


def raw_exchange(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except RESETS:
            return "reset"
    return data.split(b"\r\n", 1)[0].decode() if data else "closed"


def test_malformed_bodies_never_get_a_5xx_from_gunicorn(cluster):
    with gunicorn(server_env(cluster.url), workers=1) as server:
        client = FormClient(server.port)
        tokens = client.open_form()
        body = urllib.parse.urlencode({**valid_answers(), **tokens}, doseq=True).encode()
        head = (
            f"POST {SEND} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Cookie: {client.cookie}\r\n"
        ).encode()
        form = b"Content-Type: application/x-www-form-urlencoded\r\n"
        multipart = b"Content-Type: multipart/form-data; boundary=XyZ\r\n"
        chunked = form + b"Transfer-Encoding: chunked\r\n\r\n"
        part = b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nb'
        attempts = {
            "chunk size not hex": head + chunked + b"zz\r\n" + body + b"\r\n0\r\n\r\n",
            "chunk without terminator": head + chunked + b"5\r\n" + body[:20] + b"\r\n0\r\n\r\n",
            "chunked body cut short": head + chunked + b"400\r\n" + body[:100],
            "shorter than its length": head + form + b"Content-Length: 5000\r\n\r\n" + body[:50],
            "multipart without closing boundary": head + multipart
            + b"Content-Length: 60\r\n\r\n" + part,
            "multipart garbage": head + multipart
            + b"Content-Length: 12\r\n\r\n\x00\xff--XyZ--\r\n",
            "json": head + b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n"
            + b'{"a": [1]',
        }  # fmt: skip
        answers = {name: raw_exchange(server.port, raw) for name, raw in attempts.items()}
        log = server.log()
    server_errors = {n: a for n, a in answers.items() if re.match(r"HTTP/1\.\d 5", a)}
    print(f"\nmalformed bodies: {answers}; {len(server_errors)} 5xx")
    assert server_errors == {}
    assert all(a.startswith("HTTP/1.1 4") or a == "closed" for a in answers.values()), answers
    assert '"level": "ERROR"' not in log
