"""Real servers for the tests that need them: gunicorn on a free port, a throwaway
PostgreSQL cluster, and a small HTTP client that fills in the request form like a browser
(cookie, CSRF token, one-time form token)."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.forms import form_tokens, valid_answers, walk

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def as_postgres(*command: str) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 3, threads: int = 1) -> Iterator[Gunicorn]:
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="gunicorn-log-"))
    log_path = log_dir / "server.log"
    full_env = {
        **os.environ,
        "APP_ENV": "development",
        "SECRET_KEY": "testing-only-not-secret-but-long-enough-for-gunicorn",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_MAX_REQUESTS": "0",
        "LOG_LEVEL": "INFO",
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Gunicorn(process, port, log_path)
    try:
        _wait_for(lambda: _answers(port) and len(server.worker_pids()) >= workers, 30, server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(log_dir, ignore_errors=True)


def _answers(port: int) -> bool:
    # Closed whatever happens: a starting gunicorn may drop the connection, and a socket
    # left open surfaces as a ResourceWarning (an error in this suite) in a later test.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _wait_for(check, seconds: float, server: Gunicorn | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if server is not None and server.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + server.log()[-3000:])
        time.sleep(0.1)
    raise TimeoutError("server did not come up" + ("\n" + server.log()[-3000:] if server else ""))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class FormClient:
    """One browser: keeps its session cookie; one filled-in form it may send many times."""

    port: int
    cookie: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Connection": "close", **self.headers}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        set_cookie = reply_headers.get("set-cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return Reply(response.status, reply_headers, text)

    def open_form(self, answers: dict | None = None) -> dict[str, str]:
        """Walk the journey's steps with the answers (valid ones by default) up to "Check
        your answers"; return the tokens its Send button posts (to ``SEND_URL``)."""

        def request(method: str, path: str, data: dict | None) -> tuple[int, dict, str]:
            reply = self.request(method, path, data)
            return reply.status, reply.headers, reply.body

        status, _, body = walk(request, answers or valid_answers(), send_it=False)
        if status != 200 or "Check your answers" not in body:
            raise ConnectionError(f"the journey answered {status}")
        return form_tokens(body)


@dataclass
class PostgresCluster:
    """A PostgreSQL of the test's own, which it may stop and restart at will."""

    data_dir: Path
    socket_dir: Path
    port: int
    # More server settings, e.g. "-c max_connections=10".
    options: str = ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w", *args)
        subprocess.run(  # noqa: S603
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=100 -c fsync=off -c full_page_writes=off " + self.options
        )
        self._pg_ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")


@contextlib.contextmanager
def postgres_cluster(options: str = "") -> Iterator[PostgresCluster]:
    base = Path(tempfile.mkdtemp(prefix="intake-pg-"))
    data_dir, socket_dir = base / "data", base / "sock"
    data_dir.mkdir()
    socket_dir.mkdir()
    if os.geteuid() == 0:
        for path in (base, data_dir, socket_dir):
            shutil.chown(path, "postgres")
    initdb = as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync"
    )
    subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    cluster = PostgresCluster(data_dir, socket_dir, free_port(), options)
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
